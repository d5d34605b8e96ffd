// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the int8 ops and of the layout ops on quantized tensors.

//===----------------------------------------------------------------------===//
// qconv2d
//===----------------------------------------------------------------------===//

func.func @qconv2d_float_input(%x: tensor<1x4x8x8xf32>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op operand #0 must be ranked tensor of per-tensor int8 quantized type values}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8xf32>, tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

// Unsigned storage is not int8.
func.func @qconv2d_uint8_input(%x: tensor<1x4x8x8x!quant.uniform<u8:f32, 0.1:128>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op operand #0 must be ranked tensor of per-tensor int8 quantized type values}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<u8:f32, 0.1:128>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_per_tensor_weight(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op operand #1 must be ranked tensor of per-axis int8 quantized type values}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x4x3x3x!quant.uniform<i8:f32, 0.1:0>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_float_bias(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>, %b: tensor<4xf32>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op operand #2 must be ranked tensor of 32-bit signless integer values}}
  %0 = train.qconv2d %x, %w, %b rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>, tensor<4xf32>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_float_result(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.qconv2d' op result #0 must be ranked tensor of per-tensor int8 quantized type values}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @qconv2d_missing_rounding(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op requires attribute 'rounding'}}
  %0 = "train.qconv2d"(%x, %w)
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_unknown_rounding(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{expected rounding 'float_scale' or 'multiplier_shift', got 'nearest'}}
  %0 = train.qconv2d %x, %w rounding nearest
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_weight_axis(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:1, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op expected the weight quantized along axis 0, got axis 1}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:1, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_weight_scales(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op weight scale count (2) does not match 4}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_weight_zero_point(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1:3,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op expected weight zero points of 0}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1:3,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_bias_size(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>, %b: tensor<8xi32>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op bias size (8) does not match 4}}
  %0 = train.qconv2d %x, %w, %b rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>, tensor<8xi32>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_bias_rank(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>, %b: tensor<1x4xi32>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op expected bias of rank 1, got rank 2}}
  %0 = train.qconv2d %x, %w, %b rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>, tensor<1x4xi32>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_input_rank(%x: tensor<4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op expected input of rank 4, got rank 3}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

// The geometry is checked as for train.conv2d.
func.func @qconv2d_height(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op output height (8) does not match 6}}
  %0 = train.qconv2d %x, %w rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_depthwise_channels(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op weight input channels (4) does not match 1}}
  %0 = train.qconv2d %x, %w groups 4 rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qconv2d_stride(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qconv2d' op expected stride and dilation >= 1}}
  %0 = train.qconv2d %x, %w stride [0, 0] rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>,
         tensor<4x4x3x3x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x6x6x!quant.uniform<i8:f32, 0.1:0>>
}

//===----------------------------------------------------------------------===//
// qlinear
//===----------------------------------------------------------------------===//

// -----

func.func @qlinear_in_features(%x: tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x8x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qlinear' op weight in_features (8) does not match 16}}
  %0 = train.qlinear %x, %w rounding multiplier_shift
      : (tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x8x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qlinear_features(%x: tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x16x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<2x5x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qlinear' op result features (5) does not match 4}}
  %0 = train.qlinear %x, %w rounding multiplier_shift
      : (tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x16x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<2x5x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<2x5x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qlinear_weight_rank(%x: tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x4x4x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qlinear' op expected weight of rank 2, got rank 3}}
  %0 = train.qlinear %x, %w rounding multiplier_shift
      : (tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x4x4x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qlinear_weight_scales(%x: tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x16x!quant.uniform<i8:f32:0, {0.1,0.1,0.1}>>)
    -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qlinear' op weight scale count (3) does not match 4}}
  %0 = train.qlinear %x, %w rounding multiplier_shift
      : (tensor<2x16x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x16x!quant.uniform<i8:f32:0, {0.1,0.1,0.1}>>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qlinear_dynamic(%x: tensor<?x16x!quant.uniform<i8:f32, 0.1:0>>,
    %w: tensor<4x16x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qlinear' op expected static shapes, got 'tensor<?x16x!quant.uniform<i8:f32, 1.000000e-01>>'}}
  %0 = train.qlinear %x, %w rounding multiplier_shift
      : (tensor<?x16x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x16x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<2x4x!quant.uniform<i8:f32, 0.1:0>>
}

//===----------------------------------------------------------------------===//
// qadd, qavg_pool2d, qglobal_avg_pool
//===----------------------------------------------------------------------===//

// -----

func.func @qadd_rhs_shape(%a: tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>,
    %b: tensor<4x7x!quant.uniform<i8:f32, 0.2:0>>) -> tensor<4x8x!quant.uniform<i8:f32, 0.3:0>> {
  // expected-error @+1 {{'train.qadd' op expected rhs of the lhs's shape, got 'tensor<4x7x!quant.uniform<i8:f32, 2.000000e-01>>' and 'tensor<4x8x!quant.uniform<i8:f32, 1.000000e-01>>'}}
  %0 = train.qadd %a, %b rounding float_scale
      : (tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x7x!quant.uniform<i8:f32, 0.2:0>>)
      -> tensor<4x8x!quant.uniform<i8:f32, 0.3:0>>
  return %0 : tensor<4x8x!quant.uniform<i8:f32, 0.3:0>>
}

// -----

func.func @qadd_result_shape(%a: tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<32x!quant.uniform<i8:f32, 0.3:0>> {
  // expected-error @+1 {{'train.qadd' op expected result of the lhs's shape, got 'tensor<32x!quant.uniform<i8:f32, 3.000000e-01>>' and 'tensor<4x8x!quant.uniform<i8:f32, 1.000000e-01>>'}}
  %0 = train.qadd %a, %a rounding float_scale
      : (tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>)
      -> tensor<32x!quant.uniform<i8:f32, 0.3:0>>
  return %0 : tensor<32x!quant.uniform<i8:f32, 0.3:0>>
}

// -----

func.func @qadd_float(%a: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.qadd' op operand #0 must be ranked tensor of per-tensor int8 quantized type values}}
  %0 = train.qadd %a, %a rounding float_scale : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @qadd_dynamic(%a: tensor<?x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<?x8x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qadd' op expected static shapes, got 'tensor<?x8x!quant.uniform<i8:f32, 1.000000e-01>>'}}
  %0 = train.qadd %a, %a rounding float_scale
      : (tensor<?x8x!quant.uniform<i8:f32, 0.1:0>>, tensor<?x8x!quant.uniform<i8:f32, 0.1:0>>)
      -> tensor<?x8x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<?x8x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

// Average pooling keeps the quantized type.
func.func @qavg_pool_type(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.2:0>> {
  // expected-error @+1 {{'train.qavg_pool2d' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got '!quant.uniform<i8:f32, 2.000000e-01>'}}
  %0 = train.qavg_pool2d %x kernel [2, 2] stride [2, 2] rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.2:0>>
  return %0 : tensor<1x4x4x4x!quant.uniform<i8:f32, 0.2:0>>
}

// -----

func.func @qavg_pool_width(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qavg_pool2d' op output width (8) does not match 4}}
  %0 = train.qavg_pool2d %x kernel [2, 2] stride [2, 2] rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x4x8x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qavg_pool_missing_rounding(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.1:0>> {
  // The parser stops at the ':' on the next line.
  // expected-error @+2 {{custom op 'train.qavg_pool2d' expected 'rounding'}}
  %0 = train.qavg_pool2d %x kernel [2, 2] stride [2, 2]
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x4x4x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @qglobal_avg_pool_type(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x1x1x!quant.uniform<i8:f32, 0.1:3>> {
  // expected-error @+1 {{'train.qglobal_avg_pool' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got '!quant.uniform<i8:f32, 1.000000e-01:3>'}}
  %0 = train.qglobal_avg_pool %x rounding multiplier_shift
      : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>> -> tensor<1x4x1x1x!quant.uniform<i8:f32, 0.1:3>>
  return %0 : tensor<1x4x1x1x!quant.uniform<i8:f32, 0.1:3>>
}

// -----

func.func @qglobal_avg_pool_height(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x8x1x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.qglobal_avg_pool' op output height (8) does not match 1}}
  %0 = train.qglobal_avg_pool %x rounding multiplier_shift
      : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>> -> tensor<1x4x8x1x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x4x8x1x!quant.uniform<i8:f32, 0.1:0>>
}

//===----------------------------------------------------------------------===//
// Layout ops on quantized tensors: one quantized type throughout
//===----------------------------------------------------------------------===//

// -----

func.func @reshape_requantize(%x: tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<32x!quant.uniform<i8:f32, 0.2:0>> {
  // expected-error @+1 {{'train.reshape' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got '!quant.uniform<i8:f32, 2.000000e-01>'}}
  %0 = train.reshape %x : tensor<4x8x!quant.uniform<i8:f32, 0.1:0>> -> tensor<32x!quant.uniform<i8:f32, 0.2:0>>
  return %0 : tensor<32x!quant.uniform<i8:f32, 0.2:0>>
}

// -----

func.func @concat_mixed_scales(%a: tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>,
    %b: tensor<4x8x!quant.uniform<i8:f32, 0.1:1>>) -> tensor<4x16x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.concat' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got '!quant.uniform<i8:f32, 1.000000e-01:1>'}}
  %0 = train.concat %a, %b axis 1
      : (tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>, tensor<4x8x!quant.uniform<i8:f32, 0.1:1>>)
      -> tensor<4x16x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<4x16x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @transpose_dequantize(%x: tensor<4x8x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'train.transpose' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got 'f32'}}
  %0 = train.transpose %x permutation [1, 0] : tensor<4x8x!quant.uniform<i8:f32, 0.1:0>> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @max_pool_requantize(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<1x4x4x4x!quant.uniform<i8<0:127>:f32, 0.1:0>> {
  // expected-error @+1 {{'train.max_pool2d' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got '!quant.uniform<i8<0:127>:f32, 1.000000e-01>'}}
  %0 = train.max_pool2d %x kernel [2, 2] stride [2, 2]
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x4x4x!quant.uniform<i8<0:127>:f32, 0.1:0>>
  return %0 : tensor<1x4x4x4x!quant.uniform<i8<0:127>:f32, 0.1:0>>
}

// -----

func.func @broadcast_requantize(%x: tensor<1x8x!quant.uniform<i8:f32, 0.1:0>>)
    -> tensor<4x8x!quant.uniform<i8:f32, 0.1:5>> {
  // expected-error @+1 {{'train.broadcast' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 1.000000e-01>', got '!quant.uniform<i8:f32, 1.000000e-01:5>'}}
  %0 = train.broadcast %x : tensor<1x8x!quant.uniform<i8:f32, 0.1:0>> -> tensor<4x8x!quant.uniform<i8:f32, 0.1:5>>
  return %0 : tensor<4x8x!quant.uniform<i8:f32, 0.1:5>>
}

// -----

func.func @clamp_requantize(%x: tensor<4x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<4x!quant.uniform<i8:f32, 0.2:0>> {
  // expected-error @+1 {{'train.clamp' op requires the same type for all operands and results}}
  %0 = "train.clamp"(%x) <{min = 0.0 : f32, max = 6.0 : f32}>
      : (tensor<4x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<4x!quant.uniform<i8:f32, 0.2:0>>
  return %0 : tensor<4x!quant.uniform<i8:f32, 0.2:0>>
}

// -----

// Per-channel (weight) types do not flow through layout ops.
func.func @reshape_per_axis(%w: tensor<4x8x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>)
    -> tensor<32x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>> {
  // expected-error @+1 {{'train.reshape' op operand #0 must be ranked tensor of floating-point or per-tensor int8 quantized type or int16 fixed-point gradient type values}}
  %0 = train.reshape %w : tensor<4x8x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>
      -> tensor<32x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>
  return %0 : tensor<32x!quant.uniform<i8:f32:0, {0.1,0.1,0.1,0.1}>>
}
