// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// relu6.
// CHECK-LABEL: func.func @clamp_relu6(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3xf32>)
// CHECK: %[[Y:.*]] = train.clamp %[[X]] min 0.000000e+00 max 6.000000e+00 : tensor<2x3xf32>
// CHECK: return %[[Y]]
func.func @clamp_relu6(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = tosa.clamp %x {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// relu: clamp to [0, float max] (or +inf).
// CHECK-LABEL: func.func @clamp_relu(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3xf32>)
// CHECK: %[[Y:.*]] = train.relu %[[X]] : tensor<2x3xf32>
// CHECK: %[[Z:.*]] = train.relu %[[Y]] : tensor<2x3xf32>
// CHECK: return %[[Z]]
func.func @clamp_relu(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = tosa.clamp %x {min_val = 0.0 : f32, max_val = 3.40282347E+38 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %z = tosa.clamp %y {min_val = 0.0 : f32, max_val = 0x7F800000 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %z : tensor<2x3xf32>
}

// -----

// An int8 clamp compares stored values: its integer bounds become real bounds
// (q - z)·s of the tensor's quantized type (scale 1, zero point 3 here, from the
// rescale that consumes it).
// CHECK-LABEL: func.func @clamp_int8(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x!quant.uniform<i8:f32, 1.000000e+00:3>>
// CHECK: train.clamp %[[X]] min -3.000000e+00 max 1.000000e+02 : tensor<4x!quant.uniform<i8:f32, 1.000000e+00:3>>
func.func @clamp_int8(%x: tensor<4xi8>) -> tensor<1x4xi8> {
  %y = tosa.clamp %x {min_val = 0 : i8, max_val = 103 : i8} : (tensor<4xi8>) -> tensor<4xi8>
  %s = tosa.const_shape {values = dense<[1, 1, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %y3 = tosa.reshape %y, %s : (tensor<4xi8>, !tosa.shape<3>) -> tensor<1x1x4xi8>
  %w = "tosa.const"() <{values = dense<1> : tensor<1x4x4xi8>}> : () -> tensor<1x4x4xi8>
  %zx = "tosa.const"() <{values = dense<3> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zw = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.matmul %y3, %w, %zx, %zw : (tensor<1x1x4xi8>, tensor<1x4x4xi8>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x1x4xi32>
  %m = "tosa.const"() <{values = dense<1073741824> : tensor<1xi32>}> : () -> tensor<1xi32>
  %sh = "tosa.const"() <{values = dense<31> : tensor<1xi8>}> : () -> tensor<1xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %r = tosa.rescale %acc, %m, %sh, %z32, %zw {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x1x4xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x1x4xi8>
  %o = tosa.reshape %r, %s : (tensor<1x1x4xi8>, !tosa.shape<3>) -> tensor<1x1x4xi8>
  %s2 = tosa.const_shape {values = dense<[1, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %o2 = tosa.reshape %o, %s2 : (tensor<1x1x4xi8>, !tosa.shape<2>) -> tensor<1x4xi8>
  return %o2 : tensor<1x4xi8>
}
