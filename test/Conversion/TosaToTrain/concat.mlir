// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @concat(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x3xf32>, %[[B:[^:]*]]: tensor<2x5xf32>)
// CHECK: %[[Y:.*]] = train.concat %[[A]], %[[B]] axis 1 : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
// CHECK: return %[[Y]]
func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> tensor<2x8xf32> {
  %y = tosa.concat %a, %b {axis = 1 : i32} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// Concatenating NHWC channels of two convolutions is a concat along NCHW axis 1.
// CHECK-LABEL: func.func @concat_channels(
// CHECK: %[[C0:.*]] = train.conv2d
// CHECK: %[[C1:.*]] = train.conv2d
// CHECK: %[[Y:.*]] = train.concat %[[C0]], %[[C1]] axis 1 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK: train.transpose %[[Y]] permutation [0, 2, 3, 1]
func.func @concat_channels(%x: tensor<1x4x4x3xf32>, %w: tensor<2x1x1x3xf32>, %b: tensor<2xf32>) -> tensor<1x4x4x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c0 = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %c1 = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %y = tosa.concat %c0, %c1 {axis = 3 : i32} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// int8 concat: the operands and the result share one quantized type.
// CHECK-LABEL: func.func @concat_int8(
// CHECK-SAME: %[[A:[^:]*]]: tensor<4x!quant.uniform<i8:f32, 1.000000e+00>>, %[[B:[^:]*]]: tensor<2x!quant.uniform<i8:f32, 1.000000e+00>>)
// CHECK: train.concat %[[A]], %[[B]] axis 0 : (tensor<4x!quant.uniform<i8:f32, 1.000000e+00>>, tensor<2x!quant.uniform<i8:f32, 1.000000e+00>>) -> tensor<6x!quant.uniform<i8:f32, 1.000000e+00>>
func.func @concat_int8(%a: tensor<4xi8>, %b: tensor<2xi8>) -> tensor<6xi8> {
  %y = tosa.concat %a, %b {axis = 0 : i32} : (tensor<4xi8>, tensor<2xi8>) -> tensor<6xi8>
  return %y : tensor<6xi8>
}
