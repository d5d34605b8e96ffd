// RUN: tcc-opt %s | tcc-opt | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip

// Round trip of every train op: custom form -> custom form, and custom ->
// generic -> custom gives byte-identical output.

// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.*]]: tensor<4x64xf32>, %[[W:.*]]: tensor<32x64xf32>, %[[B:.*]]: tensor<32xf32>)
func.func @linear(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %b: tensor<32xf32>)
    -> (tensor<4x32xf32>, tensor<4x32xf32>) {
  // CHECK: train.linear %[[X]], %[[W]], %[[B]] : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %0 = train.linear %x, %w, %b
      : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  // CHECK: train.linear %[[X]], %[[W]] : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  %1 = train.linear %x, %w : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return %0, %1 : tensor<4x32xf32>, tensor<4x32xf32>
}

// CHECK-LABEL: func.func @conv2d(
// CHECK-SAME: %[[X:.*]]: tensor<1x3x8x8xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>, %[[B:.*]]: tensor<4xf32>
func.func @conv2d(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>)
    -> (tensor<1x4x6x6xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) {
  // Default geometry: nothing is printed after the operands.
  // CHECK: train.conv2d %[[X]], %[[W]] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  // Explicit default values are elided.
  // CHECK: train.conv2d %[[X]], %[[W]], %[[B]] stride [2, 2] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %1 = train.conv2d %x, %w, %b stride [2, 2] padding [1, 1] dilation [1, 1] groups 1
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  // CHECK: train.conv2d %[[X]], %[[W]] dilation [2, 2] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x4x4xf32>
  %2 = train.conv2d %x, %w dilation [2, 2]
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x4x4xf32>
  return %0, %1, %2 : tensor<1x4x6x6xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>
}

// CHECK-LABEL: func.func @conv2d_groups(
// CHECK-SAME: %[[X:.*]]: tensor<1x4x8x8xf32>, %[[W:.*]]: tensor<6x2x3x3xf32>, %[[DW:.*]]: tensor<4x1x3x3xf32>
func.func @conv2d_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>, %dw: tensor<4x1x3x3xf32>)
    -> (tensor<1x6x6x6xf32>, tensor<1x4x8x8xf32>) {
  // CHECK: train.conv2d %[[X]], %[[W]] groups 2 : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32>
  %0 = train.conv2d %x, %w groups 2
      : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32>
  // Depthwise: groups = input channels.
  // CHECK: train.conv2d %[[X]], %[[DW]] padding [1, 1] groups 4 : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  %1 = train.conv2d %x, %dw padding [1, 1] groups 4
      : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %0, %1 : tensor<1x6x6x6xf32>, tensor<1x4x8x8xf32>
}

// CHECK-LABEL: func.func @elementwise(
// CHECK-SAME: %[[A:.*]]: tensor<4x8x2x2xf32>, %[[B:.*]]: tensor<4x8x2x2xf32>)
func.func @elementwise(%a: tensor<4x8x2x2xf32>, %b: tensor<4x8x2x2xf32>) -> tensor<4x32xf32> {
  // CHECK: %[[SUM:.*]] = train.add %[[A]], %[[B]] : tensor<4x8x2x2xf32>
  %0 = train.add %a, %b : tensor<4x8x2x2xf32>
  // CHECK: %[[RELU:.*]] = train.relu %[[SUM]] : tensor<4x8x2x2xf32>
  %1 = train.relu %0 : tensor<4x8x2x2xf32>
  // CHECK: train.reshape %[[RELU]] : tensor<4x8x2x2xf32> -> tensor<4x32xf32>
  %2 = train.reshape %1 : tensor<4x8x2x2xf32> -> tensor<4x32xf32>
  return %2 : tensor<4x32xf32>
}

// CHECK-LABEL: func.func @cross_entropy(
// CHECK-SAME: %[[LOGITS:.*]]: tensor<4x10xf32>, %[[LABELS:.*]]: tensor<4xi32>)
func.func @cross_entropy(%logits: tensor<4x10xf32>, %labels: tensor<4xi32>)
    -> (tensor<f32>, tensor<4x10xf32>) {
  // CHECK: train.cross_entropy %[[LOGITS]], %[[LABELS]] : tensor<4x10xf32>, tensor<4xi32> -> tensor<f32>
  %0 = train.cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<f32>
  // CHECK: train.cross_entropy_grad %[[LOGITS]], %[[LABELS]] : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x10xf32>
  %1 = train.cross_entropy_grad %logits, %labels
      : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x10xf32>
  return %0, %1 : tensor<f32>, tensor<4x10xf32>
}

// CHECK-LABEL: func.func @linear_grads(
// CHECK-SAME: %[[DY:.*]]: tensor<4x32xf32>, %[[X:.*]]: tensor<4x64xf32>, %[[W:.*]]: tensor<32x64xf32>)
func.func @linear_grads(%dy: tensor<4x32xf32>, %x: tensor<4x64xf32>, %w: tensor<32x64xf32>)
    -> (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32>) {
  // CHECK: train.linear_grad_input %[[DY]], %[[W]] : (tensor<4x32xf32>, tensor<32x64xf32>) -> tensor<4x64xf32>
  %0 = train.linear_grad_input %dy, %w
      : (tensor<4x32xf32>, tensor<32x64xf32>) -> tensor<4x64xf32>
  // CHECK: train.linear_grad_weight %[[DY]], %[[X]] : (tensor<4x32xf32>, tensor<4x64xf32>) -> tensor<32x64xf32>
  %1 = train.linear_grad_weight %dy, %x
      : (tensor<4x32xf32>, tensor<4x64xf32>) -> tensor<32x64xf32>
  // CHECK: train.bias_grad %[[DY]] : tensor<4x32xf32> -> tensor<32xf32>
  %2 = train.bias_grad %dy : tensor<4x32xf32> -> tensor<32xf32>
  return %0, %1, %2 : tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32>
}

// CHECK-LABEL: func.func @conv2d_grads(
// CHECK-SAME: %[[DY:.*]]: tensor<1x4x4x4xf32>, %[[X:.*]]: tensor<1x3x8x8xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>,
// CHECK-SAME: %[[DDY:.*]]: tensor<1x4x8x8xf32>, %[[DX:.*]]: tensor<1x4x8x8xf32>)
func.func @conv2d_grads(%dy: tensor<1x4x4x4xf32>, %x: tensor<1x3x8x8xf32>,
                        %w: tensor<4x3x3x3xf32>, %ddy: tensor<1x4x8x8xf32>,
                        %dx: tensor<1x4x8x8xf32>)
    -> (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<4x1x3x3xf32>) {
  // CHECK: train.conv2d_grad_input %[[DY]], %[[W]] stride [2, 2] padding [1, 1] : (tensor<1x4x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  %0 = train.conv2d_grad_input %dy, %w stride [2, 2] padding [1, 1]
      : (tensor<1x4x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  // CHECK: train.conv2d_grad_weight %[[DY]], %[[X]] stride [2, 2] padding [1, 1] : (tensor<1x4x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<4x3x3x3xf32>
  %1 = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1]
      : (tensor<1x4x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<4x3x3x3xf32>
  // Rank-4 bias gradient: sums over batch and space.
  // CHECK: train.bias_grad %[[DY]] : tensor<1x4x4x4xf32> -> tensor<4xf32>
  %2 = train.bias_grad %dy : tensor<1x4x4x4xf32> -> tensor<4xf32>
  // Depthwise weight gradient.
  // CHECK: train.conv2d_grad_weight %[[DDY]], %[[DX]] padding [1, 1] groups 4 : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<4x1x3x3xf32>
  %3 = train.conv2d_grad_weight %ddy, %dx padding [1, 1] dilation [1, 1] groups 4
      : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<4x1x3x3xf32>
  return %0, %1, %2, %3
      : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<4x1x3x3xf32>
}

// CHECK-LABEL: func.func @relu_grad(
// CHECK-SAME: %[[DY:.*]]: tensor<4x32xf32>, %[[Y:.*]]: tensor<4x32xf32>)
func.func @relu_grad(%dy: tensor<4x32xf32>, %y: tensor<4x32xf32>) -> tensor<4x32xf32> {
  // CHECK: train.relu_grad %[[DY]], %[[Y]] : tensor<4x32xf32>
  %0 = train.relu_grad %dy, %y : tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// CHECK-LABEL: func.func @sgd(
// CHECK-SAME: %[[P:.*]]: tensor<32x64xf32>, %[[G:.*]]: tensor<32x64xf32>)
func.func @sgd(%p: tensor<32x64xf32>, %g: tensor<32x64xf32>)
    -> (tensor<32x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>) {
  // CHECK: train.sgd %[[P]], %[[G]] lr 5.000000e-02 : tensor<32x64xf32>
  %0 = train.sgd %p, %g lr 0.05 : tensor<32x64xf32>
  // CHECK: train.sgd %[[P]], %[[G]] lr 1.000000e-01 weight_decay 9.99999974E-5 : tensor<32x64xf32>
  %1 = train.sgd %p, %g lr 0.1 weight_decay 1.0e-4 : tensor<32x64xf32>
  // A zero weight_decay is the default and is elided.
  // CHECK: train.sgd %[[P]], %[[G]] lr 1.000000e-01 : tensor<32x64xf32>
  %2 = train.sgd %p, %g lr 0.1 weight_decay 0.0 : tensor<32x64xf32>
  return %0, %1, %2 : tensor<32x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>
}

// Parameter roles and names on arguments, names and updated-parameter indices
// on results.
// CHECK-LABEL: func.func @attributes(
// CHECK-SAME: %{{.*}}: tensor<4x64xf32> {train.name = "x"},
// CHECK-SAME: %{{.*}}: tensor<32x64xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %{{.*}}: tensor<32xf32> {train.role = #train.role<frozen>})
// CHECK-SAME: -> (tensor<32x64xf32> {train.name = "fc.weight", train.updates = 1 : i64}, tensor<32xf32> {train.name = "bias"})
func.func @attributes(
    %x: tensor<4x64xf32> {train.name = "x"},
    %w: tensor<32x64xf32> {train.role = #train.role<trainable>, train.name = "fc.weight"},
    %b: tensor<32xf32> {train.role = #train.role<frozen>})
    -> (tensor<32x64xf32> {train.updates = 1 : i64, train.name = "fc.weight"},
        tensor<32xf32> {train.name = "bias"}) {
  return %w, %b : tensor<32x64xf32>, tensor<32xf32>
}
