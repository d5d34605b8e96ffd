// RUN: tcc-opt %s --train-vjp="wrt=1" --split-input-file --verify-diagnostics
// RUN: not tcc-opt %s --train-vjp="wrt=x" --split-input-file 2>&1 | FileCheck %s --check-prefix=WRT
// RUN: not tcc-opt %s --train-vjp="forward=model" --split-input-file 2>&1 | FileCheck %s --check-prefix=MISSING

// WRT: train-vjp-invalid.mlir:{{[0-9]+}}:{{[0-9]+}}: error: wrt must be 'trainable', 'all' or argument indices, got 'x'
// MISSING: train-vjp-invalid.mlir:{{[0-9]+}}:{{[0-9]+}}: error: no function @model to differentiate
// MISSING-NOT: Traceback

// The argument to differentiate must exist...
// expected-error @+1 {{@forward has no argument #1 to differentiate (1 arguments)}}
func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = train.relu %x : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// ... and be a float tensor.
// expected-error @+1 {{argument #1 (labels) of @forward is tensor<4xi32>, not a float tensor: it has no gradient}}
func.func @forward(%x: tensor<4x8xf32>, %labels: tensor<4xi32> {train.name = "labels"})
    -> tensor<f32> {
  %l = train.cross_entropy %x, %labels : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Some result must depend on it.
// expected-error @+1 {{no result of @forward depends on the arguments to differentiate (#1)}}
func.func @forward(%x: tensor<4x8xf32>, %w: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = train.relu %x : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// Every op between the argument and a result needs a gradient rule.
func.func @forward(%x: tensor<4x8xf32>, %dy: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{no gradient rule for 'train.relu_grad'}}
  %y = train.relu_grad %dy, %x : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @forward(%x: tensor<4x8xf32>, %w: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = train.mul %x, %w : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// expected-error @+1 {{function @forward_vjp already exists}}
func.func @forward_vjp() {
  return
}

