// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @reshape(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK: %[[Y:.*]] = train.reshape %[[X]] : tensor<2x3x4xf32> -> tensor<6x4xf32>
// CHECK: return %[[Y]] : tensor<6x4xf32>
func.func @reshape(%x: tensor<2x3x4xf32>) -> tensor<6x4xf32> {
  %s = tosa.const_shape {values = dense<[6, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y = tosa.reshape %x, %s : (tensor<2x3x4xf32>, !tosa.shape<2>) -> tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}

// -----

// Reshape chains collapse; a reshape back to the input's shape disappears.
// CHECK-LABEL: func.func @reshape_chain(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: return %[[X]] : tensor<2x3x4xf32>
func.func @reshape_chain(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %s0 = tosa.const_shape {values = dense<[24]> : tensor<1xindex>} : () -> !tosa.shape<1>
  %y = tosa.reshape %x, %s0 : (tensor<2x3x4xf32>, !tosa.shape<1>) -> tensor<24xf32>
  %s1 = tosa.const_shape {values = dense<[2, 3, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %z = tosa.reshape %y, %s1 : (tensor<24xf32>, !tosa.shape<3>) -> tensor<2x3x4xf32>
  return %z : tensor<2x3x4xf32>
}

// -----

// Flattening an NCHW value in TOSA's (NHWC) element order needs the transpose back.
// CHECK-LABEL: func.func @reshape_flatten_nhwc(
// CHECK: %[[C:.*]] = train.conv2d
// CHECK: %[[T:.*]] = train.transpose %[[C]] permutation [0, 2, 3, 1] : tensor<1x2x4x4xf32> -> tensor<1x4x4x2xf32>
// CHECK: %[[F:.*]] = train.reshape %[[T]] : tensor<1x4x4x2xf32> -> tensor<1x32xf32>
// CHECK: return %[[F]]
func.func @reshape_flatten_nhwc(%x: tensor<1x4x4x3xf32>, %w: tensor<2x1x1x3xf32>, %b: tensor<2xf32>) -> tensor<1x32xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %s = tosa.const_shape {values = dense<[1, 32]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %f = tosa.reshape %c, %s : (tensor<1x4x4x2xf32>, !tosa.shape<2>) -> tensor<1x32xf32>
  return %f : tensor<1x32xf32>
}

// -----

// A reshape of a constant is folded.
// CHECK-LABEL: func.func @reshape_const(
// CHECK: %[[C:.*]] = arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: return %[[C]]
func.func @reshape_const() -> tensor<2x2xf32> {
  %c = "tosa.const"() <{values = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>}> : () -> tensor<4xf32>
  %s = tosa.const_shape {values = dense<[2, 2]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y = tosa.reshape %c, %s : (tensor<4xf32>, !tosa.shape<2>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// int8 reshapes keep the quantized type.
// CHECK-LABEL: func.func @reshape_int8(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3x!quant.uniform<i8:f32, 2.500000e-01:1>>)
// CHECK: train.reshape %[[X]] : tensor<2x3x!quant.uniform<i8:f32, 2.500000e-01:1>> -> tensor<6x!quant.uniform<i8:f32, 2.500000e-01:1>>
func.func @reshape_int8(%x: tensor<2x3x!quant.uniform<i8:f32, 0.25:1>>) -> tensor<6x!quant.uniform<i8:f32, 0.25:1>> {
  %s = tosa.const_shape {values = dense<[6]> : tensor<1xindex>} : () -> !tosa.shape<1>
  %y = tosa.reshape %x, %s : (tensor<2x3x!quant.uniform<i8:f32, 0.25:1>>, !tosa.shape<1>) -> tensor<6x!quant.uniform<i8:f32, 0.25:1>>
  return %y : tensor<6x!quant.uniform<i8:f32, 0.25:1>>
}
