// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of train.conv2d_qsgd.

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @gradient_too_large(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x4x2x2xf32>,
                              %x: tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op the gradient [4, 3, 1, 1] is larger than the weight [2, 3, 1, 1]}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x3x1x1x!w>, tensor<1x4x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w>
  return %u : tensor<2x3x1x1x!w>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @partial_with_decay(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                              %x: tensor<1x1x2x2xf32>) -> tensor<2x3x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op expected no weight decay on a partial gradient [2, 1, 1, 1] of the weight [2, 3, 1, 1] (its other channels keep their values)}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1 weight_decay 0.01
      : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<2x3x1x1x!w>
  return %u : tensor<2x3x1x1x!w>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @wrong_output_size(%w: tensor<2x3x3x3x!w>, %dy: tensor<1x2x8x8xf32>,
                             %x: tensor<1x3x8x8xf32>) -> tensor<2x3x3x3x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op output height (8) does not match 6}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x3x3x3x!w>, tensor<1x2x8x8xf32>, tensor<1x3x8x8xf32>) -> tensor<2x3x3x3x!w>
  return %u : tensor<2x3x3x3x!w>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
!v = !quant.uniform<i8:f32:0, {1.0e-2, 3.0e-2}>
func.func @result_not_the_parameter(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                                    %x: tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!v> {
  // expected-error @+1 {{'train.conv2d_qsgd' op expected result type}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!v>
  return %u : tensor<2x3x1x1x!v>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @negative_lr(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                       %x: tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op expected a positive learning rate, got -1.000000e-01}}
  %u = train.conv2d_qsgd %w, %dy, %x lr -0.1
      : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w>
  return %u : tensor<2x3x1x1x!w>
}

// -----

func.func @float_weight(%w: tensor<2x3x1x1xf32>, %dy: tensor<1x2x2x2xf32>,
                        %x: tensor<1x3x2x2xf32>) -> tensor<2x3x1x1xf32> {
  // expected-error @+1 {{'train.conv2d_qsgd' op operand #0 must be ranked tensor of}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x3x1x1xf32>, tensor<1x2x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<2x3x1x1xf32>
  return %u : tensor<2x3x1x1xf32>
}

// -----

!w = !quant.uniform<i8:f32:1, {1.0e-2, 2.0e-2, 3.0e-2}>
func.func @weight_axis_1(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                         %x: tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op expected the weight quantized along axis 0, got axis 1}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w>
  return %u : tensor<2x3x1x1x!w>
}
