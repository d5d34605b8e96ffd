// RUN: tcc-opt %s --split-input-file --verify-diagnostics

//===----------------------------------------------------------------------===//
// linear
//===----------------------------------------------------------------------===//

func.func @linear_dynamic(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'train.linear' op expected static shapes, got 'tensor<?x64xf32>'}}
  %0 = train.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

func.func @linear_input_rank(%x: tensor<4x8x8xf32>, %w: tensor<32x64xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op expected input of rank 2, got rank 3}}
  %0 = train.linear %x, %w : (tensor<4x8x8xf32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_weight_rank(%x: tensor<4x64xf32>, %w: tensor<2048xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op expected weight of rank 2, got rank 1}}
  %0 = train.linear %x, %w : (tensor<4x64xf32>, tensor<2048xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_result_rank(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) -> tensor<128xf32> {
  // expected-error @+1 {{'train.linear' op expected result of rank 2, got rank 1}}
  %0 = train.linear %x, %w : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<128xf32>
  return %0 : tensor<128xf32>
}

// -----

func.func @linear_bias_rank(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %b: tensor<1x32xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op expected bias of rank 1, got rank 2}}
  %0 = train.linear %x, %w, %b
      : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<1x32xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_bias_size(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %b: tensor<10xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op bias size (10) does not match 32}}
  %0 = train.linear %x, %w, %b
      : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<10xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_element_type(%x: tensor<4x64xf32>, %w: tensor<32x64xf16>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.linear %x, %w : (tensor<4x64xf32>, tensor<32x64xf16>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_bias_element_type(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %b: tensor<32xbf16>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op expected all float operands and results to have element type 'f32', got 'bf16'}}
  %0 = train.linear %x, %w, %b
      : (tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xbf16>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_in_features(%x: tensor<4x64xf32>, %w: tensor<32x60xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op weight in_features (60) does not match 64}}
  %0 = train.linear %x, %w : (tensor<4x64xf32>, tensor<32x60xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @linear_batch(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) -> tensor<8x32xf32> {
  // expected-error @+1 {{'train.linear' op result batch size (8) does not match 4}}
  %0 = train.linear %x, %w : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<8x32xf32>
  return %0 : tensor<8x32xf32>
}

// -----

func.func @linear_features(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.linear' op result features (16) does not match 32}}
  %0 = train.linear %x, %w : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// ODS type constraint: operands are ranked float tensors.
func.func @linear_integer(%x: tensor<4x64xi32>, %w: tensor<32x64xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.linear' op operand #0 must be ranked tensor of floating-point values}}
  %0 = train.linear %x, %w : (tensor<4x64xi32>, tensor<32x64xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

//===----------------------------------------------------------------------===//
// conv2d
//===----------------------------------------------------------------------===//

// -----

func.func @conv2d_dynamic(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected static shapes, got 'tensor<?x3x8x8xf32>'}}
  %0 = train.conv2d %x, %w : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_input_rank(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected input of rank 4, got rank 3}}
  %0 = train.conv2d %x, %w : (tensor<3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_weight_rank(%x: tensor<1x3x8x8xf32>, %w: tensor<4x27xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected weight of rank 4, got rank 2}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x27xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_result_rank(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected result of rank 4, got rank 3}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<4x6x6xf32>
  return %0 : tensor<4x6x6xf32>
}

// -----

func.func @conv2d_bias_rank(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4x1xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected bias of rank 1, got rank 2}}
  %0 = train.conv2d %x, %w, %b
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4x1xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_bias_size(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op bias size (3) does not match 4}}
  %0 = train.conv2d %x, %w, %b
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_element_type(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf64> {
  // expected-error @+1 {{'train.conv2d' op expected all float operands and results to have element type 'f32', got 'f64'}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf64>
  return %0 : tensor<1x4x6x6xf64>
}

// -----

func.func @conv2d_stride_size(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32> {
  // expected-error @+1 {{'train.conv2d' op expected stride, padding and dilation of 2 values each}}
  %0 = train.conv2d %x, %w stride [2] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

// -----

func.func @conv2d_padding_size(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{'train.conv2d' op expected stride, padding and dilation of 2 values each}}
  %0 = train.conv2d %x, %w padding [1, 1, 1, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %0 : tensor<1x4x8x8xf32>
}

// -----

func.func @conv2d_stride_zero(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected stride and dilation >= 1}}
  %0 = train.conv2d %x, %w stride [1, 0] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_dilation_zero(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected stride and dilation >= 1}}
  %0 = train.conv2d %x, %w dilation [0, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_negative_padding(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x4x4xf32> {
  // expected-error @+1 {{'train.conv2d' op expected padding >= 0}}
  %0 = train.conv2d %x, %w padding [-1, -1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x4x4xf32>
  return %0 : tensor<1x4x4x4xf32>
}

// -----

func.func @conv2d_groups_zero(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op expected groups >= 1, got 0}}
  %0 = train.conv2d %x, %w groups 0 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_input_channels_groups(%x: tensor<1x3x8x8xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op input channels (3) are not divisible by groups (2)}}
  %0 = train.conv2d %x, %w groups 2 : (tensor<1x3x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_output_channels_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<3x2x3x3xf32>) -> tensor<1x3x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op output channels (3) are not divisible by groups (2)}}
  %0 = train.conv2d %x, %w groups 2 : (tensor<1x4x8x8xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x6x6xf32>
  return %0 : tensor<1x3x6x6xf32>
}

// -----

func.func @conv2d_weight_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op weight input channels (2) does not match 3}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

// A depthwise weight has one input channel per group.
func.func @conv2d_depthwise_weight_channels(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op weight input channels (4) does not match 1}}
  %0 = train.conv2d %x, %w groups 4 : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv2d_batch(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op output batch size (2) does not match 1}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  return %0 : tensor<2x4x6x6xf32>
}

// -----

func.func @conv2d_output_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x8x6x6xf32> {
  // expected-error @+1 {{'train.conv2d' op output channels (8) does not match 4}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x8x6x6xf32>
  return %0 : tensor<1x8x6x6xf32>
}

// -----

func.func @conv2d_height(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x6xf32> {
  // expected-error @+1 {{'train.conv2d' op output height (8) does not match 6}}
  %0 = train.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x6xf32>
  return %0 : tensor<1x4x8x6xf32>
}

// -----

func.func @conv2d_width(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x4x3xf32> {
  // expected-error @+1 {{'train.conv2d' op output width (3) does not match 4}}
  %0 = train.conv2d %x, %w stride [2, 2] padding [1, 1]
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x4x3xf32>
  return %0 : tensor<1x4x4x3xf32>
}

// -----

func.func @conv2d_kernel_too_large(%x: tensor<1x3x2x2xf32>, %w: tensor<4x3x5x5xf32>) -> tensor<1x4x1x1xf32> {
  // expected-error @+1 {{'train.conv2d' op kernel does not fit the padded input}}
  %0 = train.conv2d %x, %w : (tensor<1x3x2x2xf32>, tensor<4x3x5x5xf32>) -> tensor<1x4x1x1xf32>
  return %0 : tensor<1x4x1x1xf32>
}

// -----

// The dilated kernel spans 5 pixels of a 4x4 input.
func.func @conv2d_dilated_kernel_too_large(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32> {
  // expected-error @+1 {{'train.conv2d' op kernel does not fit the padded input}}
  %0 = train.conv2d %x, %w dilation [2, 2] : (tensor<1x3x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32>
  return %0 : tensor<1x4x1x1xf32>
}

// -----

// With stride 2 the division must not round a negative size up to 1.
func.func @conv2d_strided_kernel_too_large(%x: tensor<1x1x2x2xf32>, %w: tensor<1x1x3x3xf32>) -> tensor<1x1x1x1xf32> {
  // expected-error @+1 {{'train.conv2d' op kernel does not fit the padded input}}
  %0 = train.conv2d %x, %w stride [2, 2] : (tensor<1x1x2x2xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x1x1xf32>
  return %0 : tensor<1x1x1x1xf32>
}

//===----------------------------------------------------------------------===//
// add, relu, reshape
//===----------------------------------------------------------------------===//

// -----

func.func @add_mismatch(%a: tensor<4x32xf32>, %b: tensor<4x16xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.add' op requires the same type for all operands and results}}
  %0 = "train.add"(%a, %b) : (tensor<4x32xf32>, tensor<4x16xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

func.func @add_result_mismatch(%a: tensor<4x32xf32>) -> tensor<4x32xf16> {
  // expected-error @+1 {{'train.add' op requires the same type for all operands and results}}
  %0 = "train.add"(%a, %a) : (tensor<4x32xf32>, tensor<4x32xf32>) -> tensor<4x32xf16>
  return %0 : tensor<4x32xf16>
}

// -----

func.func @relu_mismatch(%a: tensor<4x32xf32>) -> tensor<32x4xf32> {
  // expected-error @+1 {{'train.relu' op requires the same type for all operands and results}}
  %0 = "train.relu"(%a) : (tensor<4x32xf32>) -> tensor<32x4xf32>
  return %0 : tensor<32x4xf32>
}

// -----

func.func @reshape_count(%a: tensor<4x8x2x2xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'train.reshape' op cannot reshape 128 elements into 64}}
  %0 = train.reshape %a : tensor<4x8x2x2xf32> -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @reshape_element_type(%a: tensor<4x32xf32>) -> tensor<128xf16> {
  // expected-error @+1 {{'train.reshape' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.reshape %a : tensor<4x32xf32> -> tensor<128xf16>
  return %0 : tensor<128xf16>
}

// -----

func.func @reshape_dynamic(%a: tensor<?x32xf32>) -> tensor<128xf32> {
  // expected-error @+1 {{'train.reshape' op expected static shapes, got 'tensor<?x32xf32>'}}
  %0 = train.reshape %a : tensor<?x32xf32> -> tensor<128xf32>
  return %0 : tensor<128xf32>
}

//===----------------------------------------------------------------------===//
// cross_entropy, cross_entropy_grad
//===----------------------------------------------------------------------===//

// -----

func.func @cross_entropy_logits_rank(%x: tensor<40xf32>, %l: tensor<4xi32>) -> tensor<f32> {
  // expected-error @+1 {{'train.cross_entropy' op expected logits of rank 2, got rank 1}}
  %0 = train.cross_entropy %x, %l : tensor<40xf32>, tensor<4xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @cross_entropy_labels_rank(%x: tensor<4x10xf32>, %l: tensor<4x1xi32>) -> tensor<f32> {
  // expected-error @+1 {{'train.cross_entropy' op expected labels of rank 1, got rank 2}}
  %0 = train.cross_entropy %x, %l : tensor<4x10xf32>, tensor<4x1xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @cross_entropy_label_count(%x: tensor<4x10xf32>, %l: tensor<8xi32>) -> tensor<f32> {
  // expected-error @+1 {{'train.cross_entropy' op label count (8) does not match 4}}
  %0 = train.cross_entropy %x, %l : tensor<4x10xf32>, tensor<8xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @cross_entropy_element_type(%x: tensor<4x10xf32>, %l: tensor<4xi32>) -> tensor<f16> {
  // expected-error @+1 {{'train.cross_entropy' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.cross_entropy %x, %l : tensor<4x10xf32>, tensor<4xi32> -> tensor<f16>
  return %0 : tensor<f16>
}

// -----

func.func @cross_entropy_dynamic(%x: tensor<?x10xf32>, %l: tensor<?xi32>) -> tensor<f32> {
  // expected-error @+1 {{'train.cross_entropy' op expected static shapes, got 'tensor<?x10xf32>'}}
  %0 = train.cross_entropy %x, %l : tensor<?x10xf32>, tensor<?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// ODS type constraint: the loss is a 0-d tensor.
func.func @cross_entropy_result_rank(%x: tensor<4x10xf32>, %l: tensor<4xi32>) -> tensor<1xf32> {
  // expected-error @+1 {{'train.cross_entropy' op result #0 must be 0D tensor of floating-point values}}
  %0 = train.cross_entropy %x, %l : tensor<4x10xf32>, tensor<4xi32> -> tensor<1xf32>
  return %0 : tensor<1xf32>
}

// -----

// ODS type constraint: labels are integers.
func.func @cross_entropy_float_labels(%x: tensor<4x10xf32>, %l: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{'train.cross_entropy' op operand #1 must be ranked tensor of signless integer values}}
  %0 = train.cross_entropy %x, %l : tensor<4x10xf32>, tensor<4xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @cross_entropy_grad_result(%x: tensor<4x10xf32>, %l: tensor<4xi32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'train.cross_entropy_grad' op expected result type 'tensor<4x10xf32>' (the logits' type), got 'tensor<4x8xf32>'}}
  %0 = train.cross_entropy_grad %x, %l : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @cross_entropy_grad_label_count(%x: tensor<4x10xf32>, %l: tensor<2xi32>) -> tensor<4x10xf32> {
  // expected-error @+1 {{'train.cross_entropy_grad' op label count (2) does not match 4}}
  %0 = train.cross_entropy_grad %x, %l : tensor<4x10xf32>, tensor<2xi32> -> tensor<4x10xf32>
  return %0 : tensor<4x10xf32>
}

//===----------------------------------------------------------------------===//
// linear_grad_input, linear_grad_weight, bias_grad
//===----------------------------------------------------------------------===//

// -----

func.func @linear_grad_input_rank(%dy: tensor<4x32xf32>, %w: tensor<32x64xf32>) -> tensor<256xf32> {
  // expected-error @+1 {{'train.linear_grad_input' op expected result of rank 2, got rank 1}}
  %0 = train.linear_grad_input %dy, %w : (tensor<4x32xf32>, tensor<32x64xf32>) -> tensor<256xf32>
  return %0 : tensor<256xf32>
}

// -----

func.func @linear_grad_input_grad_rank(%dy: tensor<128xf32>, %w: tensor<32x64xf32>) -> tensor<4x64xf32> {
  // expected-error @+1 {{'train.linear_grad_input' op expected grad_output of rank 2, got rank 1}}
  %0 = train.linear_grad_input %dy, %w : (tensor<128xf32>, tensor<32x64xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

func.func @linear_grad_input_features(%dy: tensor<4x32xf32>, %w: tensor<32x64xf32>) -> tensor<4x60xf32> {
  // expected-error @+1 {{'train.linear_grad_input' op weight in_features (64) does not match 60}}
  %0 = train.linear_grad_input %dy, %w : (tensor<4x32xf32>, tensor<32x64xf32>) -> tensor<4x60xf32>
  return %0 : tensor<4x60xf32>
}

// -----

func.func @linear_grad_input_element_type(%dy: tensor<4x32xf16>, %w: tensor<32x64xf32>) -> tensor<4x64xf32> {
  // expected-error @+1 {{'train.linear_grad_input' op expected all float operands and results to have element type 'f16', got 'f32'}}
  %0 = train.linear_grad_input %dy, %w : (tensor<4x32xf16>, tensor<32x64xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

func.func @linear_grad_weight_input_rank(%dy: tensor<4x32xf32>, %x: tensor<4x8x8xf32>) -> tensor<32x64xf32> {
  // expected-error @+1 {{'train.linear_grad_weight' op expected input of rank 2, got rank 3}}
  %0 = train.linear_grad_weight %dy, %x : (tensor<4x32xf32>, tensor<4x8x8xf32>) -> tensor<32x64xf32>
  return %0 : tensor<32x64xf32>
}

// -----

func.func @linear_grad_weight_batch(%dy: tensor<8x32xf32>, %x: tensor<4x64xf32>) -> tensor<32x64xf32> {
  // expected-error @+1 {{'train.linear_grad_weight' op result batch size (8) does not match 4}}
  %0 = train.linear_grad_weight %dy, %x : (tensor<8x32xf32>, tensor<4x64xf32>) -> tensor<32x64xf32>
  return %0 : tensor<32x64xf32>
}

// -----

func.func @linear_grad_weight_dynamic(%dy: tensor<4x32xf32>, %x: tensor<4x64xf32>) -> tensor<32x?xf32> {
  // expected-error @+1 {{'train.linear_grad_weight' op expected static shapes, got 'tensor<32x?xf32>'}}
  %0 = train.linear_grad_weight %dy, %x : (tensor<4x32xf32>, tensor<4x64xf32>) -> tensor<32x?xf32>
  return %0 : tensor<32x?xf32>
}

// -----

func.func @bias_grad_result_rank(%dy: tensor<4x32xf32>) -> tensor<1x32xf32> {
  // expected-error @+1 {{'train.bias_grad' op expected result of rank 1, got rank 2}}
  %0 = train.bias_grad %dy : tensor<4x32xf32> -> tensor<1x32xf32>
  return %0 : tensor<1x32xf32>
}

// -----

func.func @bias_grad_input_rank(%dy: tensor<32xf32>) -> tensor<32xf32> {
  // expected-error @+1 {{'train.bias_grad' op expected grad_output of rank >= 2, got rank 1}}
  %0 = train.bias_grad %dy : tensor<32xf32> -> tensor<32xf32>
  return %0 : tensor<32xf32>
}

// -----

func.func @bias_grad_size(%dy: tensor<1x4x6x6xf32>) -> tensor<6xf32> {
  // expected-error @+1 {{'train.bias_grad' op result size (6) does not match 4}}
  %0 = train.bias_grad %dy : tensor<1x4x6x6xf32> -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

//===----------------------------------------------------------------------===//
// conv2d_grad_input, conv2d_grad_weight, relu_grad
//===----------------------------------------------------------------------===//

// -----

func.func @conv2d_grad_input_geometry(%dy: tensor<1x4x4x4xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32> {
  // Without stride and padding, an 8x8 input gives a 6x6 output.
  // expected-error @+1 {{'train.conv2d_grad_input' op output height (4) does not match 6}}
  %0 = train.conv2d_grad_input %dy, %w : (tensor<1x4x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @conv2d_grad_input_rank(%dy: tensor<4x4x4xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'train.conv2d_grad_input' op expected grad_output of rank 4, got rank 3}}
  %0 = train.conv2d_grad_input %dy, %w stride [2, 2] padding [1, 1]
      : (tensor<4x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @conv2d_grad_input_groups(%dy: tensor<1x4x8x8xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{'train.conv2d_grad_input' op output channels (4) are not divisible by groups (3)}}
  %0 = train.conv2d_grad_input %dy, %w padding [1, 1] groups 3
      : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @conv2d_grad_weight_channels(%dy: tensor<1x4x4x4xf32>, %x: tensor<1x3x8x8xf32>) -> tensor<4x1x3x3xf32> {
  // expected-error @+1 {{'train.conv2d_grad_weight' op weight input channels (1) does not match 3}}
  %0 = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1]
      : (tensor<1x4x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<4x1x3x3xf32>
  return %0 : tensor<4x1x3x3xf32>
}

// -----

func.func @conv2d_grad_weight_padding(%dy: tensor<1x4x4x4xf32>, %x: tensor<1x3x8x8xf32>) -> tensor<4x3x3x3xf32> {
  // expected-error @+1 {{'train.conv2d_grad_weight' op expected padding >= 0}}
  %0 = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, -1]
      : (tensor<1x4x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<4x3x3x3xf32>
  return %0 : tensor<4x3x3x3xf32>
}

// -----

func.func @conv2d_grad_weight_element_type(%dy: tensor<1x4x4x4xf32>, %x: tensor<1x3x8x8xf16>) -> tensor<4x3x3x3xf32> {
  // expected-error @+1 {{'train.conv2d_grad_weight' op expected all float operands and results to have element type 'f32', got 'f16'}}
  %0 = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1]
      : (tensor<1x4x4x4xf32>, tensor<1x3x8x8xf16>) -> tensor<4x3x3x3xf32>
  return %0 : tensor<4x3x3x3xf32>
}

// -----

func.func @relu_grad_mismatch(%dy: tensor<4x32xf32>, %y: tensor<4x16xf32>) -> tensor<4x32xf32> {
  // expected-error @+1 {{'train.relu_grad' op requires the same type for all operands and results}}
  %0 = "train.relu_grad"(%dy, %y) : (tensor<4x32xf32>, tensor<4x16xf32>) -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

//===----------------------------------------------------------------------===//
// sgd
//===----------------------------------------------------------------------===//

// -----

func.func @sgd_zero_lr(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op expected a positive learning rate, got 0.000000e+00}}
  %0 = train.sgd %p, %g lr 0.0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @sgd_negative_lr(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op expected a positive learning rate, got -1.000000e+00}}
  %0 = train.sgd %p, %g lr -1.0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @sgd_nan_learning_rate(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op expected a positive learning rate, got nan}}
  %0 = train.sgd %p, %g lr 0x7FC00000 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @sgd_nan_weight_decay(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op expected weight_decay >= 0, got nan}}
  %0 = train.sgd %p, %g lr 0.1 weight_decay 0x7FC00000 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @sgd_negative_weight_decay(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op expected weight_decay >= 0, got -5.000000e-01}}
  %0 = train.sgd %p, %g lr 0.1 weight_decay -0.5 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @sgd_mismatch(%p: tensor<4xf32>, %g: tensor<8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op requires the same type for all operands and results}}
  %0 = "train.sgd"(%p, %g) <{lr = 1.0e-01 : f32}> : (tensor<4xf32>, tensor<8xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @sgd_missing_lr(%p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.sgd' op requires attribute 'lr'}}
  %0 = "train.sgd"(%p, %g) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

//===----------------------------------------------------------------------===//
// Dialect attributes on function arguments and results
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{unknown train dialect argument attribute 'train.frozen'}}
func.func @unknown_arg_attr(%w: tensor<4xf32> {train.frozen}) {
  return
}

// -----

// expected-error @+1 {{'train.role' of argument #1 must be a #train.role<...> attribute, got "trainable"}}
func.func @role_not_role_attr(%x: tensor<4xf32>, %w: tensor<4xf32> {train.role = "trainable"}) {
  return
}

// -----

// expected-error @+1 {{parameter argument #0 with a 'train.role' must be a ranked tensor}}
func.func @role_on_non_tensor(%w: f32 {train.role = #train.role<trainable>}) {
  return
}

// -----

// expected-error @+1 {{parameter argument #0 with a 'train.role' must be a ranked tensor}}
func.func @role_on_unranked(%w: tensor<*xf32> {train.role = #train.role<frozen>}) {
  return
}

// -----

// expected-error @+1 {{'train.name' of argument #0 must be a string}}
func.func @arg_name_not_string(%w: tensor<4xf32> {train.name = 3 : i64}) {
  return
}

// -----

// expected-error @+1 {{'train.name' of result #0 must be a string}}
func.func @result_name_not_string(%w: tensor<4xf32>) -> (tensor<4xf32> {train.name = @w}) {
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{unknown train dialect result attribute 'train.role'}}
func.func @unknown_result_attr(%w: tensor<4xf32>) -> (tensor<4xf32> {train.role = #train.role<trainable>}) {
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{'train.updates' of result #0 must be an integer argument index}}
func.func @updates_not_integer(%w: tensor<4xf32> {train.role = #train.role<trainable>})
    -> (tensor<4xf32> {train.updates = "w"}) {
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{'train.updates' of result #0 names argument #1, which does not exist}}
func.func @updates_missing_arg(%w: tensor<4xf32> {train.role = #train.role<trainable>})
    -> (tensor<4xf32> {train.updates = 1 : i64}) {
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{'train.updates' of result #0 names argument #-1, which does not exist}}
func.func @updates_negative_arg(%w: tensor<4xf32> {train.role = #train.role<trainable>})
    -> (tensor<4xf32> {train.updates = -1 : i64}) {
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{'train.updates' of result #1 names argument #0, which is not a trainable parameter}}
func.func @updates_frozen(%w: tensor<4xf32> {train.role = #train.role<frozen>}, %loss: tensor<f32>)
    -> (tensor<f32>, tensor<4xf32> {train.updates = 0 : i64}) {
  return %loss, %w : tensor<f32>, tensor<4xf32>
}

// -----

// expected-error @+1 {{'train.updates' of result #0 names argument #0, which is not a trainable parameter}}
func.func @updates_no_role(%x: tensor<4xf32>) -> (tensor<4xf32> {train.updates = 0 : i64}) {
  return %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{result #0 updates argument #0 but their types differ}}
func.func @updates_type_mismatch(%w: tensor<4xf32> {train.role = #train.role<trainable>},
                                 %v: tensor<8xf32>)
    -> (tensor<8xf32> {train.updates = 0 : i64}) {
  return %v : tensor<8xf32>
}

// -----

// The role is an enum: unknown cases do not parse.
// expected-error @+2 {{expected ::mlir::train::Role to be one of: frozen, trainable}}
// expected-error @+1 {{failed to parse Train_RoleAttr parameter 'value'}}
func.func @unknown_role(%w: tensor<4xf32> {train.role = #train.role<learnable>}) {
  return
}
