// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// Float tosa.mul has a zero shift operand, which is dropped.
// CHECK-LABEL: func.func @mul(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x3xf32>, %[[B:[^:]*]]: tensor<2x3xf32>)
// CHECK-NOT: arith.constant
// CHECK: %[[Y:.*]] = train.mul %[[A]], %[[B]] : tensor<2x3xf32>
// CHECK: return %[[Y]] : tensor<2x3xf32>
func.func @mul(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.mul %a, %b, %shift : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<1xi8>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Both operands broadcast to the result shape.
// CHECK-LABEL: func.func @mul_broadcast(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x1xf32>, %[[B:[^:]*]]: tensor<1x3xf32>)
// CHECK-DAG: %[[AB:.*]] = train.broadcast %[[A]] : tensor<2x1xf32> -> tensor<2x3xf32>
// CHECK-DAG: %[[BB:.*]] = train.broadcast %[[B]] : tensor<1x3xf32> -> tensor<2x3xf32>
// CHECK: %[[Y:.*]] = train.mul %[[AB]], %[[BB]] : tensor<2x3xf32>
func.func @mul_broadcast(%a: tensor<2x1xf32>, %b: tensor<1x3xf32>) -> tensor<2x3xf32> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.mul %a, %b, %shift : (tensor<2x1xf32>, tensor<1x3xf32>, tensor<1xi8>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// A scale after a convolution (a folded batch norm) stays in NCHW.
// CHECK-LABEL: func.func @mul_after_conv(
// CHECK: %[[C:.*]] = train.conv2d
// CHECK: %[[G:.*]] = arith.constant dense<{{\[\[\[\[}}2.000000e+00]], {{\[\[}}3.000000e+00]]]]> : tensor<1x2x1x1xf32>
// CHECK: %[[GB:.*]] = train.broadcast %[[G]] : tensor<1x2x1x1xf32> -> tensor<1x2x4x4xf32>
// CHECK: train.mul %[[C]], %[[GB]] : tensor<1x2x4x4xf32>
func.func @mul_after_conv(%x: tensor<1x4x4x3xf32>, %w: tensor<2x1x1x3xf32>, %b: tensor<2xf32>) -> tensor<1x4x4x2xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %g = "tosa.const"() <{values = dense<[[[[2.0, 3.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %y = tosa.mul %c, %g, %shift : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>, tensor<1xi8>) -> tensor<1x4x4x2xf32>
  return %y : tensor<1x4x4x2xf32>
}
