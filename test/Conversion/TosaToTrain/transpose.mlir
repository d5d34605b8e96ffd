// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @transpose(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK: %[[Y:.*]] = train.transpose %[[X]] permutation [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
// CHECK: return %[[Y]]
func.func @transpose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %y = tosa.transpose %x {perms = array<i32: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  return %y : tensor<4x2x3xf32>
}

// -----

// Transposes compose; inverse transposes cancel.
// CHECK-LABEL: func.func @transpose_inverse(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK-NOT: train.transpose
// CHECK: return %[[X]]
func.func @transpose_inverse(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %y = tosa.transpose %x {perms = array<i32: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %z = tosa.transpose %y {perms = array<i32: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  return %z : tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_compose(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK: %[[Y:.*]] = train.transpose %[[X]] permutation [1, 0, 2] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
// CHECK-NOT: train.transpose
// CHECK: return %[[Y]]
func.func @transpose_compose(%x: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  %y = tosa.transpose %x {perms = array<i32: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %z = tosa.transpose %y {perms = array<i32: 2, 1, 0>} : (tensor<4x2x3xf32>) -> tensor<3x2x4xf32>
  return %z : tensor<3x2x4xf32>
}

// -----

// An explicit NHWC -> NCHW transpose around a convolution (as PyTorch exporters
// write) cancels against the layout change of the convolution.
// CHECK-LABEL: func.func @transpose_nchw_model(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x3x8x8xf32>
// CHECK-NOT: train.transpose
// CHECK: %[[Y:.*]] = train.conv2d %[[X]], %{{.*}}, %{{.*}} padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NOT: train.transpose
// CHECK: return %[[Y]] : tensor<1x4x8x8xf32>
func.func @transpose_nchw_model(%x: tensor<1x3x8x8xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %w = "tosa.const"() <{values = dense<1.0> : tensor<4x3x3x3xf32>}> : () -> tensor<4x3x3x3xf32>
  %xt = tosa.transpose %x {perms = array<i32: 0, 2, 3, 1>} : (tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
  %c = tosa.conv2d %xt, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x8x4xf32>
  %y = tosa.transpose %c {perms = array<i32: 0, 3, 1, 2>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x8x8xf32>
  return %y : tensor<1x4x8x8xf32>
}

// -----

// A transpose of a constant is folded.
// CHECK-LABEL: func.func @transpose_const(
// CHECK: %[[C:.*]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: return %[[C]]
func.func @transpose_const() -> tensor<2x2xf32> {
  %c = "tosa.const"() <{values = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
  %y = tosa.transpose %c {perms = array<i32: 1, 0>} : (tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
