// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// An int8 conv2d with an i32 accumulator and its rescale to i8 are one
// train.qconv2d with TFLite's rounding. Plain i8 tensors get scale 1 and the zero
// points of the zp operands; the per-channel weight scales are then the
// rescale's multiplier · 2^-shift: 1431655765 · 2^-40 and 1073741824 · 2^-38.
// The clamp after the rescale (a fused relu) narrows the result's storage range.
// CHECK-LABEL: func.func @conv2d_rescale(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x4x4x3x!quant.uniform<i8:f32, 1.000000e+00:-3>>)
// CHECK-SAME: -> tensor<1x4x4x2x!quant.uniform<i8<5:127>:f32, 1.000000e+00:5>>
// CHECK: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2]
// CHECK: %[[B:.*]] = arith.constant dense<[100, -100]> : tensor<2xi32>
// CHECK: %[[WC:.*]] = arith.constant dense<{{\[\[\[\[}}1, 2, 3], [4, 5, 6], [7, 8, 9]], {{\[\[}}-1, -2, -3], [-4, -5, -6], [-7, -8, -9]], {{\[\[}}0, 0, 0], [0, 0, 0], [0, 0, 0]]], {{\[\[\[}}1, 1, 1], [1, 1, 1], [1, 1, 1]], {{\[\[}}2, 2, 2], [2, 2, 2], [2, 2, 2]], {{\[\[}}3, 3, 3], [3, 3, 3], [3, 3, 3]]]]> : tensor<2x3x3x3xi8>
// CHECK: %[[W:.*]] = quant.scast %[[WC]] : tensor<2x3x3x3xi8> to tensor<2x3x3x3x!quant.uniform<i8:f32:0, {0.0013020833330301684,3.906250e-03}>>
// CHECK: %[[Y:.*]] = train.qconv2d %[[XT]], %[[W]], %[[B]] padding [1, 1] rounding multiplier_shift : (tensor<1x3x4x4x!quant.uniform<i8:f32, 1.000000e+00:-3>>, tensor<2x3x3x3x!quant.uniform<i8:f32:0, {0.0013020833330301684,3.906250e-03}>>, tensor<2xi32>) -> tensor<1x2x4x4x!quant.uniform<i8<5:127>:f32, 1.000000e+00:5>>
// CHECK: %[[YT:.*]] = train.transpose %[[Y]] permutation [0, 2, 3, 1]
// CHECK: return %[[YT]]
func.func @conv2d_rescale(%x: tensor<1x4x4x3xi8>) -> tensor<1x4x4x2xi8> {
  // OHWI: w[0, :, :, c] counts 1..9 times (1, -1, 0), w[1, :, :, c] = c + 1.
  %w = "tosa.const"() <{values = dense<[[[[1, -1, 0], [2, -2, 0], [3, -3, 0]], [[4, -4, 0], [5, -5, 0], [6, -6, 0]], [[7, -7, 0], [8, -8, 0], [9, -9, 0]]], [[[1, 2, 3], [1, 2, 3], [1, 2, 3]], [[1, 2, 3], [1, 2, 3], [1, 2, 3]], [[1, 2, 3], [1, 2, 3], [1, 2, 3]]]]> : tensor<2x3x3x3xi8>}> : () -> tensor<2x3x3x3xi8>
  %b = "tosa.const"() <{values = dense<[100, -100]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %izp = "tosa.const"() <{values = dense<-3> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.conv2d %x, %w, %b, %izp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xi8>, tensor<2x3x3x3xi8>, tensor<2xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x4x4x2xi32>
  %m = "tosa.const"() <{values = dense<[1431655765, 1073741824]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %s = "tosa.const"() <{values = dense<[40, 38]> : tensor<2xi8>}> : () -> tensor<2xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %ozp = "tosa.const"() <{values = dense<5> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.rescale %acc, %m, %s, %z32, %ozp {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = true, input_unsigned = false, output_unsigned = false} : (tensor<1x4x4x2xi32>, tensor<2xi32>, tensor<2xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x4x4x2xi8>
  %r = tosa.clamp %y {min_val = 5 : i8, max_val = 127 : i8} : (tensor<1x4x4x2xi8>) -> tensor<1x4x4x2xi8>
  return %r : tensor<1x4x4x2xi8>
}

// -----

// Depthwise: groups = C, weights [C·M, 1, KH, KW]; one multiplier for all channels.
// CHECK-LABEL: func.func @depthwise_conv2d_rescale(
// CHECK: train.qconv2d %{{.*}}, %{{.*}}, %{{.*}} stride [2, 2] groups 2 rounding multiplier_shift : (tensor<1x2x5x5x!quant.uniform<i8:f32, 1.000000e+00:7>>, tensor<2x1x3x3x!quant.uniform<i8:f32:0, {6.103515625E-5,6.103515625E-5}>>, tensor<2xi32>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 1.000000e+00:-1>>
func.func @depthwise_conv2d_rescale(%x: tensor<1x5x5x2xi8>) -> tensor<1x2x2x2xi8> {
  %w = "tosa.const"() <{values = dense<3> : tensor<3x3x2x1xi8>}> : () -> tensor<3x3x2x1xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<2xi32>}> : () -> tensor<2xi32>
  %izp = "tosa.const"() <{values = dense<7> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.depthwise_conv2d %x, %w, %b, %izp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x5x5x2xi8>, tensor<3x3x2x1xi8>, tensor<2xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x2x2x2xi32>
  %m = "tosa.const"() <{values = dense<1073741824> : tensor<1xi32>}> : () -> tensor<1xi32>
  %s = "tosa.const"() <{values = dense<44> : tensor<1xi8>}> : () -> tensor<1xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %ozp = "tosa.const"() <{values = dense<-1> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.rescale %acc, %m, %s, %z32, %ozp {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x2x2x2xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x2x2x2xi8>
  return %y : tensor<1x2x2x2xi8>
}

// -----

// int8 matmul with a constant right operand and its rescale: train.qlinear with
// the [out, in] weight.
// CHECK-LABEL: func.func @matmul_rescale(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x2x3x!quant.uniform<i8:f32, 1.000000e+00:4>>)
// CHECK: %[[WC:.*]] = arith.constant dense<{{\[\[}}1, 3, 5], [2, 4, 6]]> : tensor<2x3xi8>
// CHECK: %[[W:.*]] = quant.scast %[[WC]] : tensor<2x3xi8> to tensor<2x3x!quant.uniform<i8:f32:0, {2.500000e-01,2.500000e-01}>>
// CHECK: %[[X2:.*]] = train.reshape %[[X]] : tensor<1x2x3x!quant.uniform<i8:f32, 1.000000e+00:4>> -> tensor<2x3x!quant.uniform<i8:f32, 1.000000e+00:4>>
// CHECK: %[[Y:.*]] = train.qlinear %[[X2]], %[[W]] rounding multiplier_shift : (tensor<2x3x!quant.uniform<i8:f32, 1.000000e+00:4>>, tensor<2x3x!quant.uniform<i8:f32:0, {2.500000e-01,2.500000e-01}>>) -> tensor<2x2x!quant.uniform<i8:f32, 1.000000e+00>>
// CHECK: %[[Y3:.*]] = train.reshape %[[Y]] : tensor<2x2x!quant.uniform<i8:f32, 1.000000e+00>> -> tensor<1x2x2x!quant.uniform<i8:f32, 1.000000e+00>>
// CHECK: return %[[Y3]]
func.func @matmul_rescale(%x: tensor<1x2x3xi8>) -> tensor<1x2x2xi8> {
  %w = "tosa.const"() <{values = dense<[[[1, 2], [3, 4], [5, 6]]]> : tensor<1x3x2xi8>}> : () -> tensor<1x3x2xi8>
  %azp = "tosa.const"() <{values = dense<4> : tensor<1xi8>}> : () -> tensor<1xi8>
  %bzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.matmul %x, %w, %azp, %bzp : (tensor<1x2x3xi8>, tensor<1x3x2xi8>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x2x2xi32>
  %m = "tosa.const"() <{values = dense<1073741824> : tensor<1xi32>}> : () -> tensor<1xi32>
  %s = "tosa.const"() <{values = dense<32> : tensor<1xi8>}> : () -> tensor<1xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %y = tosa.rescale %acc, %m, %s, %z32, %bzp {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x2x2xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x2x2xi8>
  return %y : tensor<1x2x2xi8>
}

// -----

// TOSA 1.0's int8 fully connected form (1x1 conv2d over a 1x1 image) is a qlinear.
// CHECK-LABEL: func.func @fully_connected_rescale(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x8x!quant.uniform<i8:f32, 1.000000e+00:-128>>)
// CHECK: %[[Y:.*]] = train.qlinear %[[X]], %{{.*}}, %{{.*}} rounding multiplier_shift : (tensor<2x8x!quant.uniform<i8:f32, 1.000000e+00:-128>>, tensor<4x8x!quant.uniform<i8:f32:0, {{.*}}>>, tensor<4xi32>) -> tensor<2x4x!quant.uniform<i8:f32, 1.000000e+00:3>>
// CHECK: return %[[Y]]
func.func @fully_connected_rescale(%x: tensor<2x8xi8>) -> tensor<2x4xi8> {
  %s0 = tosa.const_shape {values = dense<[2, 1, 1, 8]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %x4 = tosa.reshape %x, %s0 : (tensor<2x8xi8>, !tosa.shape<4>) -> tensor<2x1x1x8xi8>
  %w = "tosa.const"() <{values = dense<2> : tensor<4x1x1x8xi8>}> : () -> tensor<4x1x1x8xi8>
  %b = "tosa.const"() <{values = dense<10> : tensor<4xi32>}> : () -> tensor<4xi32>
  %izp = "tosa.const"() <{values = dense<-128> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.conv2d %x4, %w, %b, %izp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x1x1x8xi8>, tensor<4x1x1x8xi8>, tensor<4xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<2x1x1x4xi32>
  %m = "tosa.const"() <{values = dense<[1073741824, 1181116006, 1288490189, 1395864371]> : tensor<4xi32>}> : () -> tensor<4xi32>
  %s = "tosa.const"() <{values = dense<[36, 36, 36, 36]> : tensor<4xi8>}> : () -> tensor<4xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %ozp = "tosa.const"() <{values = dense<3> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y4 = tosa.rescale %acc, %m, %s, %z32, %ozp {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = true, input_unsigned = false, output_unsigned = false} : (tensor<2x1x1x4xi32>, tensor<4xi32>, tensor<4xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<2x1x1x4xi8>
  %s1 = tosa.const_shape {values = dense<[2, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y = tosa.reshape %y4, %s1 : (tensor<2x1x1x4xi8>, !tosa.shape<2>) -> tensor<2x4xi8>
  return %y : tensor<2x4xi8>
}

// -----

// With quantized types the activation scales come from the types and the weight
// scales reproduce the rescale: 0.5 · {0.25, 0.125} / 1 = 2^30 · 2^-{33, 34}.
// CHECK-LABEL: func.func @conv2d_rescale_typed(
// CHECK: train.qconv2d %{{.*}}, %{{.*}}, %{{.*}} rounding multiplier_shift : (tensor<1x3x2x2x!quant.uniform<i8:f32, 5.000000e-01:-3>>, tensor<2x3x1x1x!quant.uniform<i8:f32:0, {2.500000e-01,1.250000e-01}>>, tensor<2xi32>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 1.000000e+00:4>>
func.func @conv2d_rescale_typed(%x: tensor<1x2x2x3x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 1.0:4>> {
  %w = "tosa.const"() <{values = dense<1> : tensor<2x1x1x3xi8>}> : () -> tensor<2x1x1x3xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<2xi32>}> : () -> tensor<2xi32>
  %izp = "tosa.const"() <{values = dense<-3> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.conv2d %x, %w, %b, %izp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x3x!quant.uniform<i8:f32, 0.5:-3>>, tensor<2x1x1x3xi8>, tensor<2xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x2x2x2xi32>
  %m = "tosa.const"() <{values = dense<1073741824> : tensor<2xi32>}> : () -> tensor<2xi32>
  %s = "tosa.const"() <{values = dense<[33, 34]> : tensor<2xi8>}> : () -> tensor<2xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %ozp = "tosa.const"() <{values = dense<4> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.rescale %acc, %m, %s, %z32, %ozp {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = true, input_unsigned = false, output_unsigned = false} : (tensor<1x2x2x2xi32>, tensor<2xi32>, tensor<2xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 1.0:4>>
  return %y : tensor<1x2x2x2x!quant.uniform<i8:f32, 1.0:4>>
}
