// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the gradient and optimizer ops of issue 4 (sum_to ... qsgd)
// and of the train.channels / train.momentum_of argument attributes.

//===----------------------------------------------------------------------===//
// sum_to
//===----------------------------------------------------------------------===//

func.func @sum_to_dynamic(%x: tensor<?x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{'train.sum_to' op expected static shapes, got 'tensor<?x8xf32>'}}
  %0 = train.sum_to %x : tensor<?x8xf32> -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// -----

func.func @sum_to_element_type(%x: tensor<4x8xf32>) -> tensor<1x8xf16> {
  // expected-error @+1 {{'train.sum_to' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.sum_to %x : tensor<4x8xf32> -> tensor<1x8xf16>
  return %0 : tensor<1x8xf16>
}

// -----

func.func @sum_to_rank(%x: tensor<4x8xf32>) -> tensor<1x4x8xf32> {
  // expected-error @+1 {{'train.sum_to' op cannot sum rank 2 to rank 3}}
  %0 = train.sum_to %x : tensor<4x8xf32> -> tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

// -----

func.func @sum_to_dim(%x: tensor<4x8x5x5xf32>) -> tensor<1x3x1x1xf32> {
  // expected-error @+1 {{'train.sum_to' op cannot sum input dimension 1 of size 8 to size 3 (expected 1 or 8)}}
  %0 = train.sum_to %x : tensor<4x8x5x5xf32> -> tensor<1x3x1x1xf32>
  return %0 : tensor<1x3x1x1xf32>
}

// -----

func.func @sum_to_dim_lower_rank(%x: tensor<4x8x5x5xf32>) -> tensor<8x1x2xf32> {
  // expected-error @+1 {{'train.sum_to' op cannot sum input dimension 3 of size 5 to size 2 (expected 1 or 5)}}
  %0 = train.sum_to %x : tensor<4x8x5x5xf32> -> tensor<8x1x2xf32>
  return %0 : tensor<8x1x2xf32>
}

// -----

//===----------------------------------------------------------------------===//
// slice
//===----------------------------------------------------------------------===//

func.func @slice_dynamic(%x: tensor<?x8xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{'train.slice' op expected static shapes, got 'tensor<?x8xf32>'}}
  %0 = train.slice %x offsets [0, 0] sizes [1, 4] : tensor<?x8xf32> -> tensor<1x4xf32>
  return %0 : tensor<1x4xf32>
}

// -----

func.func @slice_element_type(%x: tensor<4x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.slice' op expected all quantized operands and results to have element type '!quant.uniform<i8:f32, 2.000000e-02:-128>', got 'f32'}}
  %0 = train.slice %x offsets [0, 0] sizes [4, 4] : tensor<4x8x!quant.uniform<i8:f32, 2.000000e-02:-128>> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @slice_result_rank(%x: tensor<4x8xf32>) -> tensor<32xf32> {
  // expected-error @+1 {{'train.slice' op expected result of rank 2, got rank 1}}
  %0 = train.slice %x offsets [0, 0] sizes [4, 8] : tensor<4x8xf32> -> tensor<32xf32>
  return %0 : tensor<32xf32>
}

// -----

func.func @slice_sizes_count(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.slice' op expected 2 sizes (the rank), got 1}}
  %0 = train.slice %x offsets [0, 0] sizes [4] : tensor<4x8xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @slice_sizes_result(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.slice' op sizes [4, 2] do not match the result shape [4, 4]}}
  %0 = train.slice %x offsets [0, 0] sizes [4, 2] : tensor<4x8xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @slice_offsets_count(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.slice' op expected 2 offsets (the rank), got 3}}
  %0 = train.slice %x offsets [0, 0, 0] sizes [4, 4] : tensor<4x8xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @slice_negative_offset(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.slice' op expected offsets >= 0, got -1 in dimension 1}}
  %0 = train.slice %x offsets [0, -1] sizes [4, 4] : tensor<4x8xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @slice_out_of_bounds(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.slice' op slice [5, 9) of dimension 1 exceeds the input size 8}}
  %0 = train.slice %x offsets [0, 5] sizes [4, 4] : tensor<4x8xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @slice_per_axis(%x: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>) -> tensor<2x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.slice' op operand #0 must be ranked tensor of floating-point or per-tensor int8 quantized type or int16 fixed-point gradient type values, but got 'tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>'}}
  %0 = train.slice %x offsets [0, 0] sizes [2, 3] : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> -> tensor<2x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<2x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

//===----------------------------------------------------------------------===//
// pad_to
//===----------------------------------------------------------------------===//

func.func @pad_to_dynamic(%x: tensor<?x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.pad_to' op expected static shapes, got 'tensor<?x4xf32>'}}
  %0 = train.pad_to %x offsets [0, 0] : tensor<?x4xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @pad_to_element_type(%x: tensor<4x4xf16>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.pad_to' op expected all float operands and results to have element type 'f16', got 'f32'}}
  %0 = train.pad_to %x offsets [0, 0] : tensor<4x4xf16> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @pad_to_result_rank(%x: tensor<4x4xf32>) -> tensor<1x4x8xf32> {
  // expected-error @+1 {{'train.pad_to' op expected result of rank 2, got rank 3}}
  %0 = train.pad_to %x offsets [0, 0] : tensor<4x4xf32> -> tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

// -----

func.func @pad_to_offsets_count(%x: tensor<4x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.pad_to' op expected 2 offsets (the rank), got 1}}
  %0 = train.pad_to %x offsets [4] : tensor<4x4xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @pad_to_negative_offset(%x: tensor<4x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.pad_to' op expected offsets >= 0, got -2 in dimension 0}}
  %0 = train.pad_to %x offsets [-2, 0] : tensor<4x4xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @pad_to_does_not_fit(%x: tensor<4x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.pad_to' op input placed at [6, 10) of dimension 1 exceeds the result size 8}}
  %0 = train.pad_to %x offsets [0, 6] : tensor<4x4xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @pad_to_larger_input(%x: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'train.pad_to' op input placed at [0, 8) of dimension 1 exceeds the result size 4}}
  %0 = train.pad_to %x offsets [0, 0] : tensor<4x8xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// avg_pool2d_grad
//===----------------------------------------------------------------------===//

func.func @avg_pool2d_grad_rank(%dy: tensor<1x8x4x4xf32>) -> tensor<8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected result of rank 4, got rank 3}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] : (tensor<1x8x4x4xf32>) -> tensor<8x8x8xf32>
  return %0 : tensor<8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_grad_output_rank(%dy: tensor<8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected grad_output of rank 4, got rank 3}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] : (tensor<8x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_dynamic(%dy: tensor<?x8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected static shapes, got 'tensor<?x8x4x4xf32>'}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] : (tensor<?x8x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_element_type(%dy: tensor<1x8x4x4xf16>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected all float operands and results to have element type 'f16', got 'f32'}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] : (tensor<1x8x4x4xf16>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_kernel_size(%dy: tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected kernel, stride and padding of 2 values each}}
  %0 = train.avg_pool2d_grad %dy kernel [2] : (tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_zero_stride(%dy: tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected kernel and stride >= 1}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [0, 2] : (tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_negative_padding(%dy: tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected padding >= 0}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] padding [-1, 0] : (tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_padding_kernel(%dy: tensor<1x8x6x6xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected padding smaller than the kernel, got padding 2 for kernel 2}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] padding [2, 2] : (tensor<1x8x6x6xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_batch(%dy: tensor<2x8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op output batch size (2) does not match 1}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] : (tensor<2x8x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_channels(%dy: tensor<1x4x4x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op output channels (4) does not match 8}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] : (tensor<1x4x4x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_height(%dy: tensor<1x8x5x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op output height (5) does not match 4}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] : (tensor<1x8x5x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_width(%dy: tensor<1x8x5x4xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op output width (4) does not match 5}}
  %0 = train.avg_pool2d_grad %dy kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad : (tensor<1x8x5x4xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @avg_pool2d_grad_kernel_too_large(%dy: tensor<1x8x1x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op kernel does not fit the padded input}}
  %0 = train.avg_pool2d_grad %dy kernel [9, 9] : (tensor<1x8x1x1xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// max_pool2d_grad
//===----------------------------------------------------------------------===//

func.func @max_pool2d_grad_input_type(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x9x9xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.max_pool2d_grad' op expected input type 'tensor<1x8x8x8xf32>' (the result's type), got 'tensor<1x8x9x9xf32>'}}
  %0 = train.max_pool2d_grad %dy, %x kernel [2, 2] stride [2, 2] : (tensor<1x8x4x4xf32>, tensor<1x8x9x9xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @max_pool2d_grad_quantized_input(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.max_pool2d_grad' op operand #1 must be ranked tensor of floating-point values, but got 'tensor<1x8x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>'}}
  %0 = train.max_pool2d_grad %dy, %x kernel [2, 2] stride [2, 2] : (tensor<1x8x4x4xf32>, tensor<1x8x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @max_pool2d_grad_height(%dy: tensor<1x8x3x4xf32>, %x: tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.max_pool2d_grad' op output height (3) does not match 4}}
  %0 = train.max_pool2d_grad %dy, %x kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x8x3x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

func.func @max_pool2d_grad_zero_kernel(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+1 {{'train.max_pool2d_grad' op expected kernel and stride >= 1}}
  %0 = train.max_pool2d_grad %dy, %x kernel [0, 2] stride [2, 2] : (tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  return %0 : tensor<1x8x8x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// clamp_grad, softmax_grad and the element-wise gradients
//===----------------------------------------------------------------------===//

func.func @clamp_grad_bounds(%dy: tensor<4x8xf32>, %x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.clamp_grad' op expected min <= max, got min 6.000000e+00 and max 0.000000e+00}}
  %0 = train.clamp_grad %dy, %x min 6.0 max 0.0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @clamp_grad_nan_bound(%dy: tensor<4x8xf32>, %x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.clamp_grad' op expected min <= max, got min nan and max 6.000000e+00}}
  %0 = train.clamp_grad %dy, %x min 0x7FC00000 max 6.0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @clamp_grad_types(%dy: tensor<4x8xf32>, %x: tensor<8x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.clamp_grad' op requires the same type for all operands and results}}
  %0 = "train.clamp_grad"(%dy, %x) <{min = 0.0 : f32, max = 6.0 : f32}> : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @softmax_grad_axis(%dy: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.softmax_grad' op expected axis in [0, 2), got 2}}
  %0 = train.softmax_grad %dy, %y axis 2 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @softmax_grad_negative_axis(%dy: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.softmax_grad' op expected axis in [0, 2), got -1}}
  %0 = train.softmax_grad %dy, %y axis -1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @sigmoid_grad_types(%dy: tensor<4x8xf32>, %y: tensor<4x8xf16>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.sigmoid_grad' op requires the same type for all operands and results}}
  %0 = "train.sigmoid_grad"(%dy, %y) : (tensor<4x8xf32>, tensor<4x8xf16>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @gelu_grad_integer(%dy: tensor<4x8xi32>, %x: tensor<4x8xi32>) -> tensor<4x8xi32> {
  // expected-error @+1 {{'train.gelu_grad' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<4x8xi32>'}}
  %0 = train.gelu_grad %dy, %x : tensor<4x8xi32>
  return %0 : tensor<4x8xi32>
}

// -----

//===----------------------------------------------------------------------===//
// layer_norm_grad_input
//===----------------------------------------------------------------------===//

func.func @layer_norm_grad_dynamic(%dy: tensor<?x4xf32>, %x: tensor<2x4xf32>, %w: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op expected static shapes, got 'tensor<?x4xf32>'}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<?x4xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layer_norm_grad_element_type(%dy: tensor<2x4xf32>, %x: tensor<2x4xf32>, %w: tensor<4xf16>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf16>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layer_norm_grad_grad_output(%dy: tensor<4x2xf32>, %x: tensor<2x4xf32>, %w: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op expected grad_output type 'tensor<2x4xf32>' (the input's type), got 'tensor<4x2xf32>'}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<4x2xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layer_norm_grad_result(%dy: tensor<2x4xf32>, %x: tensor<2x4xf32>, %w: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op expected result type 'tensor<2x4xf32>' (the input's type), got 'tensor<8xf32>'}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @layer_norm_grad_weight_rank(%dy: tensor<2x4xf32>, %x: tensor<2x4xf32>, %w: tensor<1x2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op expected weight of rank 1 to 2 (the input's rank), got rank 3}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<1x2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layer_norm_grad_weight_dim(%dy: tensor<2x4xf32>, %x: tensor<2x4xf32>, %w: tensor<8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op weight dimension 0 (8) does not match 4}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<8xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layer_norm_grad_epsilon(%dy: tensor<2x4xf32>, %x: tensor<2x4xf32>, %w: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'train.layer_norm_grad_input' op expected epsilon >= 0, got -1.000000e+00}}
  %0 = train.layer_norm_grad_input %dy, %x, %w epsilon -1.0 : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// mse_grad
//===----------------------------------------------------------------------===//

func.func @mse_grad_target(%p: tensor<4x8xf32>, %t: tensor<4x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.mse_grad' op expected target type 'tensor<4x8xf32>' (the prediction's type), got 'tensor<4x4xf32>'}}
  %0 = train.mse_grad %p, %t : (tensor<4x8xf32>, tensor<4x4xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @mse_grad_result(%p: tensor<4x8xf32>, %t: tensor<4x8xf32>) -> tensor<f32> {
  // expected-error @+1 {{'train.mse_grad' op expected result type 'tensor<4x8xf32>' (the prediction's type), got 'tensor<f32>'}}
  %0 = train.mse_grad %p, %t : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

//===----------------------------------------------------------------------===//
// sgd_momentum
//===----------------------------------------------------------------------===//

func.func @sgd_momentum_zero_lr(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected a positive learning rate, got 0.000000e+00}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0.0 momentum 0.9 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_infinite_lr(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected a finite learning rate, got INF}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0x7F800000 momentum 0.9 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_negative_weight_decay(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected weight_decay >= 0, got -1.000000e+00}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 0.9 weight_decay -1.0 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_infinite_weight_decay(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected a finite weight_decay, got INF}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 0.9 weight_decay 0x7F800000 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_one(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected momentum in [0, 1), got 1.000000e+00}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 1.0 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_negative(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected momentum in [0, 1), got -5.000000e-01}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0.1 momentum -0.5 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_nan(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op expected momentum in [0, 1), got nan}}
  %0, %1 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 0x7FC00000 : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_types(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<8xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op requires the same type for all operands and results}}
  %0, %1 = "train.sgd_momentum"(%p, %g, %m) <{lr = 1.0e-01 : f32, momentum = 9.0e-01 : f32}> : (tensor<4xf32>, tensor<4xf32>, tensor<8xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

func.func @sgd_momentum_missing_momentum(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'train.sgd_momentum' op requires attribute 'momentum'}}
  %0, %1 = "train.sgd_momentum"(%p, %g, %m) <{lr = 1.0e-01 : f32}> : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// sgd (the shared learning-rate check)
//===----------------------------------------------------------------------===//

func.func @sgd_infinite_lr(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op expected a finite learning rate, got INF}}
  %0 = train.sgd %p, %g lr 0x7F800000 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// qsgd
//===----------------------------------------------------------------------===//

func.func @qsgd_float_param(%p: tensor<4x3xf32>, %g: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'train.qsgd' op operand #0 must be ranked tensor of per-tensor int8 quantized type or per-axis int8 quantized type or 32-bit signless integer values, but got 'tensor<4x3xf32>'}}
  %0 = train.qsgd %p, %g lr 0.01 : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @qsgd_integer_grad(%p: tensor<4xi32>, %g: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{'train.qsgd' op operand #1 must be ranked tensor of floating-point or int32 fixed-point gradient type values, but got 'tensor<4xi32>'}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0, 1.0, 1.0, 1.0] : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @qsgd_result_type(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>> {
  // expected-error @+1 {{'train.qsgd' op expected result type 'tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>' (the parameter's type), got 'tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>'}}
  %0 = train.qsgd %p, %g lr 0.01 : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
}

// -----

func.func @qsgd_dynamic(%p: tensor<4xi32>, %g: tensor<?xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{'train.qsgd' op expected static shapes, got 'tensor<?xf32>'}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0, 1.0, 1.0, 1.0] : (tensor<4xi32>, tensor<?xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @qsgd_grad_shape(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<3x4xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected a gradient of the parameter's shape [4, 3], got 'tensor<3x4xf32>'}}
  %0 = train.qsgd %p, %g lr 0.01 : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<3x4xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

func.func @qsgd_zero_lr(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected a positive learning rate, got 0.000000e+00}}
  %0 = train.qsgd %p, %g lr 0.0 : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

func.func @qsgd_infinite_lr(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected a finite learning rate, got INF}}
  %0 = train.qsgd %p, %g lr 0x7F800000 qas : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

func.func @qsgd_negative_weight_decay(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected weight_decay >= 0, got -1.000000e+00}}
  %0 = train.qsgd %p, %g lr 0.01 weight_decay -1.0 : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

func.func @qsgd_weight_with_scales(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected no 'scales' for a quantized weight (its type holds them); 'scales' are for int32 biases}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0, 1.0, 1.0, 1.0] : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

func.func @qsgd_per_tensor_with_scales(%p: tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>> {
  // expected-error @+1 {{'train.qsgd' op expected no 'scales' for a quantized weight (its type holds them); 'scales' are for int32 biases}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0] : (tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
}

// -----

func.func @qsgd_weight_axis(%p: tensor<4x3x!quant.uniform<i8:f32:1, {1.000000e-02,2.000000e-02,3.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:1, {1.000000e-02,2.000000e-02,3.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected the weight quantized along axis 0, got axis 1}}
  %0 = train.qsgd %p, %g lr 0.01 : (tensor<4x3x!quant.uniform<i8:f32:1, {1.000000e-02,2.000000e-02,3.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:1, {1.000000e-02,2.000000e-02,3.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:1, {1.000000e-02,2.000000e-02,3.000000e-02}>>
}

// -----

func.func @qsgd_weight_scale_count(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op weight scale count (3) does not match 4}}
  %0 = train.qsgd %p, %g lr 0.01 : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>>
}

// -----

func.func @qsgd_weight_zero_points(%p: tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02:1,2.000000e-02,3.000000e-02,4.000000e-02}>>, %g: tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02:1,2.000000e-02,3.000000e-02,4.000000e-02}>> {
  // expected-error @+1 {{'train.qsgd' op expected weight zero points of 0}}
  %0 = train.qsgd %p, %g lr 0.01 : (tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02:1,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02:1,2.000000e-02,3.000000e-02,4.000000e-02}>>
  return %0 : tensor<4x3x!quant.uniform<i8:f32:0, {1.000000e-02:1,2.000000e-02,3.000000e-02,4.000000e-02}>>
}

// -----

func.func @qsgd_bias_without_scales(%p: tensor<4xi32>, %g: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{'train.qsgd' op expected 'scales' (the bias scale of each element) for an int32 bias}}
  %0 = train.qsgd %p, %g lr 0.01 qas : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @qsgd_bias_scale_count(%p: tensor<4xi32>, %g: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{'train.qsgd' op scale count (2) does not match 4}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0, 1.0] : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @qsgd_bias_zero_scale(%p: tensor<4xi32>, %g: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{'train.qsgd' op expected positive finite scales, got scales[1] = 0.000000e+00}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0, 0.0, 1.0, 1.0] : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @qsgd_bias_infinite_scale(%p: tensor<4xi32>, %g: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{'train.qsgd' op expected positive finite scales, got scales[3] = INF}}
  %0 = train.qsgd %p, %g lr 0.01 scales [1.0, 1.0, 1.0, 0x7FF0000000000000] : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

//===----------------------------------------------------------------------===//
// train.channels and train.momentum_of argument attributes
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'train.channels' of argument #0 must be an i64 integer, got 2 : i32}}
func.func @channels_not_i64(%w: tensor<8x4xf32> {train.role = #train.role<trainable>, train.channels = 2 : i32}) {
  return
}

// -----

// expected-error @+1 {{'train.channels' of argument #0 must be an i64 integer, got "2"}}
func.func @channels_not_integer(%w: tensor<8x4xf32> {train.role = #train.role<trainable>, train.channels = "2"}) {
  return
}

// -----

// expected-error @+1 {{argument #0 with a 'train.channels' must be a static tensor of rank >= 1, got 'f32'}}
func.func @channels_not_tensor(%w: f32 {train.channels = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{argument #0 with a 'train.channels' must be a static tensor of rank >= 1, got 'tensor<f32>'}}
func.func @channels_scalar_tensor(%w: tensor<f32> {train.channels = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.channels' of argument #0 must be >= 1, got 0}}
func.func @channels_zero(%w: tensor<8x4xf32> {train.role = #train.role<trainable>, train.channels = 0 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.channels' of argument #0 (9) exceeds the channel count of 'tensor<8x4xf32>'}}
func.func @channels_too_many(%w: tensor<8x4xf32> {train.role = #train.role<trainable>, train.channels = 9 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.momentum_of' of argument #1 must be an i64 integer, got 0 : i32}}
func.func @momentum_of_not_i64(%w: tensor<8x4xf32> {train.role = #train.role<trainable>}, %m: tensor<8x4xf32> {train.momentum_of = 0 : i32}) {
  return
}

// -----

// expected-error @+1 {{'train.momentum_of' of argument #1 names argument #2, which is not another argument}}
func.func @momentum_of_missing_arg(%w: tensor<8x4xf32> {train.role = #train.role<trainable>}, %m: tensor<8x4xf32> {train.momentum_of = 2 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.momentum_of' of argument #1 names argument #-1, which is not another argument}}
func.func @momentum_of_negative(%w: tensor<8x4xf32> {train.role = #train.role<trainable>}, %m: tensor<8x4xf32> {train.momentum_of = -1 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.momentum_of' of argument #1 names argument #1, which is not another argument}}
func.func @momentum_of_itself(%w: tensor<8x4xf32> {train.role = #train.role<trainable>}, %m: tensor<8x4xf32> {train.momentum_of = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.momentum_of' of argument #1 names argument #0, which is not a trainable parameter}}
func.func @momentum_of_frozen(%w: tensor<8x4xf32> {train.role = #train.role<frozen>}, %m: tensor<8x4xf32> {train.momentum_of = 0 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.momentum_of' of argument #1 names argument #0, which is not a trainable parameter}}
func.func @momentum_of_data(%w: tensor<8x4xf32>, %m: tensor<8x4xf32> {train.momentum_of = 0 : i64}) {
  return
}

// -----

// expected-error @+1 {{momentum buffer argument #1 has type 'tensor<4x8xf32>' but its parameter (argument #0) has type 'tensor<8x4xf32>'}}
func.func @momentum_of_type(%w: tensor<8x4xf32> {train.role = #train.role<trainable>}, %m: tensor<4x8xf32> {train.momentum_of = 0 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.updates' of result #0 names argument #1, which is not a trainable parameter or a momentum buffer}}
func.func @updates_data_argument(%w: tensor<8x4xf32> {train.role = #train.role<trainable>}, %m: tensor<8x4xf32>) -> (tensor<8x4xf32> {train.updates = 1 : i64}) {
  return %m : tensor<8x4xf32>
}
