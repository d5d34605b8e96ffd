// RUN: not tcc-opt %s --train-autodiff 2>&1 | FileCheck %s

// Without a @forward function the error has no line of its own: it is reported
// at the module, so it cannot be annotated with expected-error.

// CHECK: train-autodiff-no-forward.mlir:{{[0-9]+}}:{{[0-9]+}}: error: no function @forward to differentiate
// CHECK-NOT: Traceback
func.func @model(%x: tensor<4x10xf32>) -> tensor<4x10xf32> {
  return %x : tensor<4x10xf32>
}

// The forward function is named by the `forward` option.
// RUN: tcc-opt %s --train-autodiff="forward=model" | FileCheck %s --check-prefix=NAMED
// NAMED-LABEL: func.func @train_step(
// NAMED-SAME: %[[X:.*]]: tensor<4x10xf32>, %[[LABELS:.*]]: tensor<4xi32> {train.name = "labels"})
// NAMED-SAME: -> (tensor<f32> {train.name = "loss"})
// NAMED: %[[LOSS:.*]] = train.cross_entropy %[[X]], %[[LABELS]]
// NAMED: return %[[LOSS]] : tensor<f32>
