// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @add(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x3xf32>, %[[B:[^:]*]]: tensor<2x3xf32>)
// CHECK: %[[Y:.*]] = train.add %[[A]], %[[B]] : tensor<2x3xf32>
// CHECK: return %[[Y]] : tensor<2x3xf32>
func.func @add(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = tosa.add %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Size-1 dims broadcast with train.broadcast.
// CHECK-LABEL: func.func @add_broadcast(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x3xf32>, %[[B:[^:]*]]: tensor<1x3xf32>)
// CHECK: %[[BB:.*]] = train.broadcast %[[B]] : tensor<1x3xf32> -> tensor<2x3xf32>
// CHECK: %[[Y:.*]] = train.add %[[A]], %[[BB]] : tensor<2x3xf32>
func.func @add_broadcast(%a: tensor<2x3xf32>, %b: tensor<1x3xf32>) -> tensor<2x3xf32> {
  %y = tosa.add %a, %b : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// An add after a convolution works in NCHW: the [1, 1, 1, C] constant is
// permuted to [1, C, 1, 1] at conversion time and broadcast.
// CHECK-LABEL: func.func @add_channel_constant(
// CHECK: %[[C:.*]] = train.conv2d
// CHECK: %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00]], {{\[\[}}2.000000e+00]]]]> : tensor<1x2x1x1xf32>
// CHECK: %[[KB:.*]] = train.broadcast %[[K]] : tensor<1x2x1x1xf32> -> tensor<1x2x4x4xf32>
// CHECK: %[[Y:.*]] = train.add %[[C]], %[[KB]] : tensor<1x2x4x4xf32>
// CHECK: train.transpose %[[Y]] permutation [0, 2, 3, 1]
func.func @add_channel_constant(%x: tensor<1x4x4x3xf32>, %w: tensor<2x1x1x3xf32>, %b: tensor<2xf32>) -> tensor<1x4x4x2xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %k = "tosa.const"() <{values = dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %y = tosa.add %c, %k : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x4x4x2xf32>
  return %y : tensor<1x4x4x2xf32>
}

// -----

// A residual add of an NHWC argument and a convolution output transposes the
// argument into the convolution's layout.
// CHECK-LABEL: func.func @add_residual(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x4x4x2xf32>
// CHECK: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x4x4x2xf32> -> tensor<1x2x4x4xf32>
// CHECK: %[[C:.*]] = train.conv2d %[[XT]]
// CHECK: %[[Y:.*]] = train.add %[[C]], %[[XT]] : tensor<1x2x4x4xf32>
func.func @add_residual(%x: tensor<1x4x4x2xf32>, %w: tensor<2x1x1x2xf32>, %b: tensor<2xf32>) -> tensor<1x4x4x2xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %y = tosa.add %c, %x : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  return %y : tensor<1x4x4x2xf32>
}

// -----

// TFLite's int8 ADD as TOSA: the lhs is rescaled by 2^19, the rhs by 2^20 then by
// 0.3, the i32 sum by 2·max(s)/(2^20·s_y), into train.qadd. Plain i8 tensors get
// scale 1 where free: s_a = 1, s_b = 2 · 1288490189 · 2^-32 ≈ 0.6 (from
// s_b / (2·s_a) = the rhs multiplier) and s_y = 2 / (2^20 · 1677721600 · 2^-50) = 1.28
// from the output rescale.
// CHECK-LABEL: func.func @add_int8(
// CHECK-SAME: %[[A:[^:]*]]: tensor<1x4x3x!quant.uniform<i8:f32, 1.000000e+00:-5>>, %[[B:[^:]*]]: tensor<1x4x3x!quant.uniform<i8:f32, 0.60000000009313226:9>>)
// CHECK-SAME: -> tensor<1x4x3x!quant.uniform<i8:f32, 1.280000e+00:-2>>
// CHECK: %[[Y:.*]] = train.qadd %[[A]], %[[B]] rounding multiplier_shift : (tensor<1x4x3x!quant.uniform<i8:f32, 1.000000e+00:-5>>, tensor<1x4x3x!quant.uniform<i8:f32, 0.60000000009313226:9>>) -> tensor<1x4x3x!quant.uniform<i8:f32, 1.280000e+00:-2>>
// CHECK: return %[[Y]]
func.func @add_int8(%a: tensor<1x4x3xi8>, %b: tensor<1x4x3xi8>) -> tensor<1x4x3xi8> {
  %za = "tosa.const"() <{values = dense<-5> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zb = "tosa.const"() <{values = dense<9> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zy = "tosa.const"() <{values = dense<-2> : tensor<1xi8>}> : () -> tensor<1xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %m30 = "tosa.const"() <{values = dense<1073741824> : tensor<1xi32>}> : () -> tensor<1xi32>
  %s11 = "tosa.const"() <{values = dense<11> : tensor<1xi8>}> : () -> tensor<1xi8>
  %s10 = "tosa.const"() <{values = dense<10> : tensor<1xi8>}> : () -> tensor<1xi8>
  %mb = "tosa.const"() <{values = dense<1288490189> : tensor<1xi32>}> : () -> tensor<1xi32>
  %sb = "tosa.const"() <{values = dense<32> : tensor<1xi8>}> : () -> tensor<1xi8>
  %my = "tosa.const"() <{values = dense<1677721600> : tensor<1xi32>}> : () -> tensor<1xi32>
  %sy = "tosa.const"() <{values = dense<50> : tensor<1xi8>}> : () -> tensor<1xi8>
  %a32 = tosa.rescale %a, %m30, %s11, %za, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x3xi8>, tensor<1xi32>, tensor<1xi8>, tensor<1xi8>, tensor<1xi32>) -> tensor<1x4x3xi32>
  %b20 = tosa.rescale %b, %m30, %s10, %zb, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x3xi8>, tensor<1xi32>, tensor<1xi8>, tensor<1xi8>, tensor<1xi32>) -> tensor<1x4x3xi32>
  %b32 = tosa.rescale %b20, %mb, %sb, %z32, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x3xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi32>) -> tensor<1x4x3xi32>
  %sum = tosa.add %a32, %b32 : (tensor<1x4x3xi32>, tensor<1x4x3xi32>) -> tensor<1x4x3xi32>
  %y = tosa.rescale %sum, %my, %sy, %z32, %zy {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<1x4x3xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<1x4x3xi8>
  return %y : tensor<1x4x3xi8>
}

// -----

// With quantized types the scales come from the types.
// CHECK-LABEL: func.func @add_int8_typed(
// CHECK: train.qadd %{{.*}}, %{{.*}} rounding multiplier_shift : (tensor<4x!quant.uniform<i8:f32, 5.000000e-01:-5>>, tensor<4x!quant.uniform<i8:f32, 2.500000e-01:9>>) -> tensor<4x!quant.uniform<i8:f32, 1.000000e+00:-2>>
func.func @add_int8_typed(%a: tensor<4x!quant.uniform<i8:f32, 0.5:-5>>, %b: tensor<4x!quant.uniform<i8:f32, 0.25:9>>) -> tensor<4x!quant.uniform<i8:f32, 1.0:-2>> {
  %za = "tosa.const"() <{values = dense<-5> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zb = "tosa.const"() <{values = dense<9> : tensor<1xi8>}> : () -> tensor<1xi8>
  %zy = "tosa.const"() <{values = dense<-2> : tensor<1xi8>}> : () -> tensor<1xi8>
  %z32 = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %m30 = "tosa.const"() <{values = dense<1073741824> : tensor<1xi32>}> : () -> tensor<1xi32>
  %s11 = "tosa.const"() <{values = dense<11> : tensor<1xi8>}> : () -> tensor<1xi8>
  %s10 = "tosa.const"() <{values = dense<10> : tensor<1xi8>}> : () -> tensor<1xi8>
  %s32 = "tosa.const"() <{values = dense<32> : tensor<1xi8>}> : () -> tensor<1xi8>
  %s50 = "tosa.const"() <{values = dense<50> : tensor<1xi8>}> : () -> tensor<1xi8>
  %a32 = tosa.rescale %a, %m30, %s11, %za, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<4x!quant.uniform<i8:f32, 0.5:-5>>, tensor<1xi32>, tensor<1xi8>, tensor<1xi8>, tensor<1xi32>) -> tensor<4xi32>
  %b20 = tosa.rescale %b, %m30, %s10, %zb, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<4x!quant.uniform<i8:f32, 0.25:9>>, tensor<1xi32>, tensor<1xi8>, tensor<1xi8>, tensor<1xi32>) -> tensor<4xi32>
  %b32 = tosa.rescale %b20, %m30, %s32, %z32, %z32 {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<4xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi32>) -> tensor<4xi32>
  %sum = tosa.add %a32, %b32 : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %y = tosa.rescale %sum, %m30, %s50, %z32, %zy {rounding_mode = DOUBLE_ROUND, scale32 = true, per_channel = false, input_unsigned = false, output_unsigned = false} : (tensor<4xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<4x!quant.uniform<i8:f32, 1.0:-2>>
  return %y : tensor<4x!quant.uniform<i8:f32, 1.0:-2>>
}
