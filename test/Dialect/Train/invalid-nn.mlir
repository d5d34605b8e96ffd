// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the float inference ops (matmul ... mse) and of the
// train.weights module attribute.

//===----------------------------------------------------------------------===//
// matmul
//===----------------------------------------------------------------------===//

func.func @matmul_dynamic(%a: tensor<?x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{'train.matmul' op expected static shapes, got 'tensor<?x8xf32>'}}
  %0 = train.matmul %a, %b : (tensor<?x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

func.func @matmul_lhs_rank(%a: tensor<8xf32>, %b: tensor<8x5xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{'train.matmul' op expected lhs of rank >= 2, got rank 1}}
  %0 = train.matmul %a, %b : (tensor<8xf32>, tensor<8x5xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

func.func @matmul_rhs_rank(%a: tensor<2x4x8xf32>, %b: tensor<8x5xf32>) -> tensor<2x4x5xf32> {
  // expected-error @+1 {{'train.matmul' op expected rhs of rank 3, got rank 2}}
  %0 = train.matmul %a, %b : (tensor<2x4x8xf32>, tensor<8x5xf32>) -> tensor<2x4x5xf32>
  return %0 : tensor<2x4x5xf32>
}

// -----

func.func @matmul_result_rank(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<20xf32> {
  // expected-error @+1 {{'train.matmul' op expected result of rank 2, got rank 1}}
  %0 = train.matmul %a, %b : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<20xf32>
  return %0 : tensor<20xf32>
}

// -----

func.func @matmul_element_type(%a: tensor<4x8xf32>, %b: tensor<8x5xf16>) -> tensor<4x5xf32> {
  // expected-error @+1 {{'train.matmul' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.matmul %a, %b : (tensor<4x8xf32>, tensor<8x5xf16>) -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

func.func @matmul_rhs_batch(%a: tensor<2x4x8xf32>, %b: tensor<3x8x5xf32>) -> tensor<2x4x5xf32> {
  // expected-error @+1 {{'train.matmul' op rhs batch dimension 0 (3) does not match 2}}
  %0 = train.matmul %a, %b : (tensor<2x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x4x5xf32>
  return %0 : tensor<2x4x5xf32>
}

// -----

func.func @matmul_result_batch(%a: tensor<2x4x8xf32>, %b: tensor<2x8x5xf32>) -> tensor<1x4x5xf32> {
  // expected-error @+1 {{'train.matmul' op result batch dimension 0 (1) does not match 2}}
  %0 = train.matmul %a, %b : (tensor<2x4x8xf32>, tensor<2x8x5xf32>) -> tensor<1x4x5xf32>
  return %0 : tensor<1x4x5xf32>
}

// -----

func.func @matmul_contraction(%a: tensor<4x8xf32>, %b: tensor<7x5xf32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{'train.matmul' op rhs contraction size (7) does not match 8}}
  %0 = train.matmul %a, %b : (tensor<4x8xf32>, tensor<7x5xf32>) -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

func.func @matmul_rows(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{'train.matmul' op result rows (3) does not match 4}}
  %0 = train.matmul %a, %b : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @matmul_columns(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{'train.matmul' op result columns (6) does not match 5}}
  %0 = train.matmul %a, %b : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

//===----------------------------------------------------------------------===//
// mul, hardswish, sigmoid, gelu, clamp
//===----------------------------------------------------------------------===//

// -----

func.func @mul_mismatch(%a: tensor<4x8xf32>, %b: tensor<4x7xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.mul' op requires the same type for all operands and results}}
  %0 = "train.mul"(%a, %b) : (tensor<4x8xf32>, tensor<4x7xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @hardswish_result(%a: tensor<4x8xf32>) -> tensor<4x8xf16> {
  // expected-error @+1 {{'train.hardswish' op requires the same type for all operands and results}}
  %0 = "train.hardswish"(%a) : (tensor<4x8xf32>) -> tensor<4x8xf16>
  return %0 : tensor<4x8xf16>
}

// -----

// The activations are float-only (unlike clamp).
func.func @sigmoid_quantized(%a: tensor<4x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<4x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.sigmoid' op operand #0 must be ranked tensor of floating-point values}}
  %0 = train.sigmoid %a : tensor<4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<4x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @gelu_unknown_mode(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expected ':'}}
  %0 = train.gelu %a erf : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @clamp_bounds(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.clamp' op expected min <= max, got min 6.000000e+00 and max 0.000000e+00}}
  %0 = train.clamp %a min 6.0 max 0.0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @clamp_nan(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.clamp' op expected min <= max, got min nan and max 0.000000e+00}}
  %0 = "train.clamp"(%a) <{min = 0x7FC00000 : f32, max = 0.0 : f32}> : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @clamp_missing_max(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.clamp' op requires attribute 'max'}}
  %0 = "train.clamp"(%a) <{min = 0.0 : f32}> : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

//===----------------------------------------------------------------------===//
// broadcast
//===----------------------------------------------------------------------===//

// -----

func.func @broadcast_rank(%a: tensor<2x4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.broadcast' op cannot broadcast rank 3 to rank 2}}
  %0 = train.broadcast %a : tensor<2x4x8xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @broadcast_dim(%a: tensor<3x1xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'train.broadcast' op cannot broadcast input dimension 0 of size 3 to size 4}}
  %0 = train.broadcast %a : tensor<3x1xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @broadcast_element_type(%a: tensor<8xf32>) -> tensor<4x8xf64> {
  // expected-error @+1 {{'train.broadcast' op expected all float operands and results to have element type 'f32', got 'f64'}}
  %0 = train.broadcast %a : tensor<8xf32> -> tensor<4x8xf64>
  return %0 : tensor<4x8xf64>
}

// -----

func.func @broadcast_dynamic(%a: tensor<8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'train.broadcast' op expected static shapes, got 'tensor<?x8xf32>'}}
  %0 = train.broadcast %a : tensor<8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

//===----------------------------------------------------------------------===//
// avg_pool2d, max_pool2d, global_avg_pool
//===----------------------------------------------------------------------===//

// -----

func.func @avg_pool_missing_kernel(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op requires attribute 'kernel'}}
  %0 = "train.avg_pool2d"(%x) : (tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32>
  return %0 : tensor<1x8x7x7xf32>
}

// -----

func.func @avg_pool_rank(%x: tensor<8x8x8xf32>) -> tensor<8x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op expected input of rank 4, got rank 3}}
  %0 = train.avg_pool2d %x kernel [2, 2] : (tensor<8x8x8xf32>) -> tensor<8x7x7xf32>
  return %0 : tensor<8x7x7xf32>
}

// -----

func.func @avg_pool_result_rank(%x: tensor<1x8x8x8xf32>) -> tensor<8x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op expected result of rank 4, got rank 3}}
  %0 = train.avg_pool2d %x kernel [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<8x7x7xf32>
  return %0 : tensor<8x7x7xf32>
}

// -----

func.func @avg_pool_element_type(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf16> {
  // expected-error @+1 {{'train.avg_pool2d' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.avg_pool2d %x kernel [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf16>
  return %0 : tensor<1x8x7x7xf16>
}

// -----

func.func @avg_pool_kernel_size(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op expected kernel, stride and padding of 2 values each}}
  %0 = train.avg_pool2d %x kernel [2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32>
  return %0 : tensor<1x8x7x7xf32>
}

// -----

func.func @avg_pool_stride_zero(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op expected kernel and stride >= 1}}
  %0 = train.avg_pool2d %x kernel [2, 2] stride [0, 1] : (tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32>
  return %0 : tensor<1x8x7x7xf32>
}

// -----

func.func @avg_pool_negative_padding(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x5x5xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op expected padding >= 0}}
  %0 = train.avg_pool2d %x kernel [2, 2] padding [-1, -1] : (tensor<1x8x8x8xf32>) -> tensor<1x8x5x5xf32>
  return %0 : tensor<1x8x5x5xf32>
}

// -----

// A window entirely in the padding would have nothing to average.
func.func @avg_pool_padding_kernel(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x11x11xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op expected padding smaller than the kernel, got padding 2 for kernel 2}}
  %0 = train.avg_pool2d %x kernel [2, 2] padding [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x11x11xf32>
  return %0 : tensor<1x8x11x11xf32>
}

// -----

func.func @avg_pool_batch(%x: tensor<1x8x8x8xf32>) -> tensor<2x8x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op output batch size (2) does not match 1}}
  %0 = train.avg_pool2d %x kernel [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<2x8x7x7xf32>
  return %0 : tensor<2x8x7x7xf32>
}

// -----

func.func @avg_pool_channels(%x: tensor<1x8x8x8xf32>) -> tensor<1x4x7x7xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op output channels (4) does not match 8}}
  %0 = train.avg_pool2d %x kernel [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x4x7x7xf32>
  return %0 : tensor<1x4x7x7xf32>
}

// -----

func.func @avg_pool_height(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x5x4xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op output height (5) does not match 4}}
  %0 = train.avg_pool2d %x kernel [2, 2] stride [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x5x4xf32>
  return %0 : tensor<1x8x5x4xf32>
}

// -----

func.func @avg_pool_kernel_too_large(%x: tensor<1x8x2x2xf32>) -> tensor<1x8x1x1xf32> {
  // expected-error @+1 {{'train.avg_pool2d' op kernel does not fit the padded input}}
  %0 = train.avg_pool2d %x kernel [3, 3] : (tensor<1x8x2x2xf32>) -> tensor<1x8x1x1xf32>
  return %0 : tensor<1x8x1x1xf32>
}

// -----

// Floor mode: (8 + 2·1 - 3) / 2 + 1 = 4 (ceil mode would give 5).
func.func @max_pool_width(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x4x5xf32> {
  // expected-error @+1 {{'train.max_pool2d' op output width (5) does not match 4}}
  %0 = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x5xf32>
  return %0 : tensor<1x8x4x5xf32>
}

// -----

func.func @max_pool_padding_kernel(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x9x9xf32> {
  // expected-error @+1 {{'train.max_pool2d' op expected padding smaller than the kernel, got padding 1 for kernel 1}}
  %0 = train.max_pool2d %x kernel [1, 1] padding [1, 1] : (tensor<1x8x8x8xf32>) -> tensor<1x8x10x10xf32>
  return %0 : tensor<1x8x10x10xf32>
}

// -----

func.func @max_pool_element_type(%x: tensor<1x8x8x8xf32>) -> tensor<1x8x4x4x!quant.uniform<i8:f32, 0.1:0>> {
  // expected-error @+1 {{'train.max_pool2d' op expected all float operands and results to have element type 'f32', got '!quant.uniform<i8:f32, 1.000000e-01>'}}
  %0 = train.max_pool2d %x kernel [2, 2] stride [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4x!quant.uniform<i8:f32, 0.1:0>>
  return %0 : tensor<1x8x4x4x!quant.uniform<i8:f32, 0.1:0>>
}

// -----

func.func @global_avg_pool_spatial(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x2x1xf32> {
  // expected-error @+1 {{'train.global_avg_pool' op output height (2) does not match 1}}
  %0 = train.global_avg_pool %x : tensor<1x8x4x4xf32> -> tensor<1x8x2x1xf32>
  return %0 : tensor<1x8x2x1xf32>
}

// -----

func.func @global_avg_pool_width(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x1x4xf32> {
  // expected-error @+1 {{'train.global_avg_pool' op output width (4) does not match 1}}
  %0 = train.global_avg_pool %x : tensor<1x8x4x4xf32> -> tensor<1x8x1x4xf32>
  return %0 : tensor<1x8x1x4xf32>
}

// -----

func.func @global_avg_pool_channels(%x: tensor<1x8x4x4xf32>) -> tensor<1x4x1x1xf32> {
  // expected-error @+1 {{'train.global_avg_pool' op output channels (4) does not match 8}}
  %0 = train.global_avg_pool %x : tensor<1x8x4x4xf32> -> tensor<1x4x1x1xf32>
  return %0 : tensor<1x4x1x1xf32>
}

// -----

func.func @global_avg_pool_rank(%x: tensor<8x4x4xf32>) -> tensor<8x1x1xf32> {
  // expected-error @+1 {{'train.global_avg_pool' op expected input of rank 4, got rank 3}}
  %0 = train.global_avg_pool %x : tensor<8x4x4xf32> -> tensor<8x1x1xf32>
  return %0 : tensor<8x1x1xf32>
}

//===----------------------------------------------------------------------===//
// concat, transpose
//===----------------------------------------------------------------------===//

// -----

func.func @concat_no_operand() -> tensor<4xf32> {
  // expected-error @+1 {{'train.concat' op expected at least one operand}}
  %0 = "train.concat"() <{axis = 0 : i64}> : () -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @concat_axis(%a: tensor<4x8xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.concat' op expected axis in [0, 2), got 2}}
  %0 = train.concat %a, %a axis 2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @concat_negative_axis(%a: tensor<4x8xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.concat' op expected axis in [0, 2), got -1}}
  %0 = train.concat %a, %a axis -1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @concat_operand_rank(%a: tensor<4x8xf32>, %b: tensor<32xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.concat' op expected operand #1 of rank 2, got rank 1}}
  %0 = train.concat %a, %b axis 1 : (tensor<4x8xf32>, tensor<32xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @concat_other_dim(%a: tensor<4x8xf32>, %b: tensor<3x8xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.concat' op operand #1 dimension 0 (3) does not match 4}}
  %0 = train.concat %a, %b axis 1 : (tensor<4x8xf32>, tensor<3x8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @concat_axis_size(%a: tensor<4x8xf32>, %b: tensor<4x2xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.concat' op result dimension 1 (the concatenation axis) (16) does not match 10}}
  %0 = train.concat %a, %b axis 1 : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @concat_element_type(%a: tensor<4x8xf32>, %b: tensor<4x8xf16>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.concat' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.concat %a, %b axis 1 : (tensor<4x8xf32>, tensor<4x8xf16>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @transpose_size(%a: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  // expected-error @+1 {{'train.transpose' op expected a permutation of 3 values, got 2}}
  %0 = train.transpose %a permutation [1, 0] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  return %0 : tensor<3x2x4xf32>
}

// -----

func.func @transpose_repeated(%a: tensor<2x3x4xf32>) -> tensor<3x3x4xf32> {
  // expected-error @+1 {{'train.transpose' op permutation [1, 1, 2] is not a permutation of 0..2}}
  %0 = train.transpose %a permutation [1, 1, 2] : tensor<2x3x4xf32> -> tensor<3x3x4xf32>
  return %0 : tensor<3x3x4xf32>
}

// -----

func.func @transpose_out_of_range(%a: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  // expected-error @+1 {{'train.transpose' op permutation [1, 0, 3] is not a permutation of 0..2}}
  %0 = train.transpose %a permutation [1, 0, 3] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  return %0 : tensor<3x2x4xf32>
}

// -----

func.func @transpose_result_rank(%a: tensor<2x3x4xf32>) -> tensor<6x4xf32> {
  // expected-error @+1 {{'train.transpose' op expected result of rank 3, got rank 2}}
  %0 = train.transpose %a permutation [0, 1, 2] : tensor<2x3x4xf32> -> tensor<6x4xf32>
  return %0 : tensor<6x4xf32>
}

// -----

func.func @transpose_result_shape(%a: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  // expected-error @+1 {{'train.transpose' op result dimension 0 (4) does not match 3}}
  %0 = train.transpose %a permutation [1, 2, 0] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  return %0 : tensor<4x2x3xf32>
}

// -----

func.func @transpose_element_type(%a: tensor<2x3xf32>) -> tensor<3x2xbf16> {
  // expected-error @+1 {{'train.transpose' op expected all float operands and results to have element type 'f32', got 'bf16'}}
  %0 = train.transpose %a permutation [1, 0] : tensor<2x3xf32> -> tensor<3x2xbf16>
  return %0 : tensor<3x2xbf16>
}

// -----

// Layout ops take float or per-tensor int8 quantized tensors, not plain integers.
func.func @reshape_integer(%a: tensor<4x8xi8>) -> tensor<32xi8> {
  // expected-error @+1 {{'train.reshape' op operand #0 must be ranked tensor of floating-point or per-tensor int8 quantized type or int16 fixed-point gradient type values}}
  %0 = train.reshape %a : tensor<4x8xi8> -> tensor<32xi8>
  return %0 : tensor<32xi8>
}

//===----------------------------------------------------------------------===//
// batch_norm, softmax, layer_norm
//===----------------------------------------------------------------------===//

// -----

func.func @batch_norm_input_rank(%x: tensor<8xf32>, %c: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'train.batch_norm' op expected input of rank >= 2, got rank 1}}
  %0 = train.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05
      : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @batch_norm_gamma_rank(%x: tensor<2x8x4x4xf32>, %g: tensor<1x8xf32>, %c: tensor<8xf32>) -> tensor<2x8x4x4xf32> {
  // expected-error @+1 {{'train.batch_norm' op expected gamma of rank 1, got rank 2}}
  %0 = train.batch_norm %x, %g, %c, %c, %c epsilon 1.0e-05
      : (tensor<2x8x4x4xf32>, tensor<1x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
      -> tensor<2x8x4x4xf32>
  return %0 : tensor<2x8x4x4xf32>
}

// -----

func.func @batch_norm_var_size(%x: tensor<2x8x4x4xf32>, %c: tensor<8xf32>, %v: tensor<4xf32>) -> tensor<2x8x4x4xf32> {
  // expected-error @+1 {{'train.batch_norm' op var size (4) does not match 8}}
  %0 = train.batch_norm %x, %c, %c, %c, %v epsilon 1.0e-05
      : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<4xf32>)
      -> tensor<2x8x4x4xf32>
  return %0 : tensor<2x8x4x4xf32>
}

// -----

func.func @batch_norm_result(%x: tensor<2x8x4x4xf32>, %c: tensor<8xf32>) -> tensor<2x8x2x8xf32> {
  // expected-error @+1 {{'train.batch_norm' op expected result type 'tensor<2x8x4x4xf32>' (the input's type), got 'tensor<2x8x2x8xf32>'}}
  %0 = train.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05
      : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
      -> tensor<2x8x2x8xf32>
  return %0 : tensor<2x8x2x8xf32>
}

// -----

func.func @batch_norm_element_type(%x: tensor<2x8xf32>, %c: tensor<8xf32>, %m: tensor<8xf16>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'train.batch_norm' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.batch_norm %x, %c, %c, %m, %c epsilon 1.0e-05
      : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf16>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @batch_norm_epsilon(%x: tensor<2x8xf32>, %c: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'train.batch_norm' op expected epsilon >= 0, got -1.000000e-03}}
  %0 = train.batch_norm %x, %c, %c, %c, %c epsilon -1.0e-03
      : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @softmax_axis(%x: tensor<4x10xf32>) -> tensor<4x10xf32> {
  // expected-error @+1 {{'train.softmax' op expected axis in [0, 2), got 2}}
  %0 = train.softmax %x axis 2 : tensor<4x10xf32>
  return %0 : tensor<4x10xf32>
}

// -----

func.func @softmax_negative_axis(%x: tensor<4x10xf32>) -> tensor<4x10xf32> {
  // expected-error @+1 {{'train.softmax' op expected axis in [0, 2), got -1}}
  %0 = train.softmax %x axis -1 : tensor<4x10xf32>
  return %0 : tensor<4x10xf32>
}

// -----

func.func @softmax_result(%x: tensor<4x10xf32>) -> tensor<10x4xf32> {
  // expected-error @+1 {{'train.softmax' op requires the same type for all operands and results}}
  %0 = "train.softmax"(%x) <{axis = 1 : i64}> : (tensor<4x10xf32>) -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

// -----

func.func @layer_norm_bias_type(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>, %b: tensor<5x16xf32>) -> tensor<2x5x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op expected bias type 'tensor<16xf32>' (the weight's type), got 'tensor<5x16xf32>'}}
  %0 = train.layer_norm %x, %w, %b epsilon 1.0e-05
      : (tensor<2x5x16xf32>, tensor<16xf32>, tensor<5x16xf32>) -> tensor<2x5x16xf32>
  return %0 : tensor<2x5x16xf32>
}

// -----

func.func @layer_norm_result(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>) -> tensor<10x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op expected result type 'tensor<2x5x16xf32>' (the input's type), got 'tensor<10x16xf32>'}}
  %0 = train.layer_norm %x, %w, %w epsilon 1.0e-05
      : (tensor<2x5x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<10x16xf32>
  return %0 : tensor<10x16xf32>
}

// -----

func.func @layer_norm_weight_rank(%x: tensor<5x16xf32>, %w: tensor<2x5x16xf32>) -> tensor<5x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op expected weight of rank 1 to 2 (the input's rank), got rank 3}}
  %0 = train.layer_norm %x, %w, %w epsilon 1.0e-05
      : (tensor<5x16xf32>, tensor<2x5x16xf32>, tensor<2x5x16xf32>) -> tensor<5x16xf32>
  return %0 : tensor<5x16xf32>
}

// -----

func.func @layer_norm_scalar_weight(%x: tensor<5x16xf32>, %w: tensor<f32>) -> tensor<5x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op expected weight of rank 1 to 2 (the input's rank), got rank 0}}
  %0 = train.layer_norm %x, %w, %w epsilon 1.0e-05
      : (tensor<5x16xf32>, tensor<f32>, tensor<f32>) -> tensor<5x16xf32>
  return %0 : tensor<5x16xf32>
}

// -----

// The weight covers the trailing dimensions: [16], not [5].
func.func @layer_norm_weight_shape(%x: tensor<2x5x16xf32>, %w: tensor<5xf32>) -> tensor<2x5x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op weight dimension 0 (5) does not match 16}}
  %0 = train.layer_norm %x, %w, %w epsilon 1.0e-05
      : (tensor<2x5x16xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<2x5x16xf32>
  return %0 : tensor<2x5x16xf32>
}

// -----

func.func @layer_norm_element_type(%x: tensor<5x16xf32>, %w: tensor<16xf16>) -> tensor<5x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.layer_norm %x, %w, %w epsilon 1.0e-05
      : (tensor<5x16xf32>, tensor<16xf16>, tensor<16xf16>) -> tensor<5x16xf32>
  return %0 : tensor<5x16xf32>
}

// -----

func.func @layer_norm_epsilon(%x: tensor<5x16xf32>, %w: tensor<16xf32>) -> tensor<5x16xf32> {
  // expected-error @+1 {{'train.layer_norm' op expected epsilon >= 0, got nan}}
  %0 = "train.layer_norm"(%x, %w, %w) <{epsilon = 0x7FC00000 : f32}>
      : (tensor<5x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<5x16xf32>
  return %0 : tensor<5x16xf32>
}

//===----------------------------------------------------------------------===//
// mse
//===----------------------------------------------------------------------===//

// -----

func.func @mse_target(%p: tensor<4x3xf32>, %t: tensor<4x2xf32>) -> tensor<f32> {
  // expected-error @+1 {{'train.mse' op expected target type 'tensor<4x3xf32>' (the prediction's type), got 'tensor<4x2xf32>'}}
  %0 = train.mse %p, %t : (tensor<4x3xf32>, tensor<4x2xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @mse_result_element_type(%p: tensor<4x3xf32>) -> tensor<f16> {
  // expected-error @+1 {{'train.mse' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.mse %p, %p : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f16>
  return %0 : tensor<f16>
}

// -----

func.func @mse_result_rank(%p: tensor<4x3xf32>) -> tensor<1xf32> {
  // expected-error @+1 {{'train.mse' op result #0 must be 0D tensor of floating-point values}}
  %0 = train.mse %p, %p : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<1xf32>
  return %0 : tensor<1xf32>
}

//===----------------------------------------------------------------------===//
// train.weights (module attribute)
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'train.weights' must be a non-empty string (the weights file, relative to the .mlir file), got 1 : i64}}
module attributes {train.weights = 1} {
}

// -----

// expected-error @+1 {{'train.weights' must be a non-empty string (the weights file, relative to the .mlir file), got ""}}
module attributes {train.weights = ""} {
}

// -----

// expected-error @+1 {{'train.weights' is only allowed on a builtin.module}}
func.func @weights_on_function() attributes {train.weights = "model.npz"} {
  return
}

// -----

// expected-error @+1 {{unknown train dialect attribute 'train.weight'}}
module attributes {train.weight = "model.npz"} {
}
