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

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
!a = !quant.uniform<i8:f32:1, {1.0e-2, 2.0e-2, 3.0e-2}>
func.func @per_axis_int8_input(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                               %x: tensor<1x3x2x2x!a>) -> tensor<2x3x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op operand #2 must be ranked tensor of floating-point or per-tensor int8 quantized type or int16 fixed-point gradient type values, but got 'tensor<1x3x2x2x!quant.uniform<i8:f32:1, {1.000000e-02,2.000000e-02,3.000000e-02}>>'}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x3x2x2x!a>) -> tensor<2x3x1x1x!w>
  return %u : tensor<2x3x1x1x!w>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
!a = !quant.uniform<i8:f32, 5.0e-2:-3>
module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  func.func @scratch_outside_the_arena(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                                       %x: tensor<1x3x2x2x!a>) -> tensor<2x3x1x1x!w> {
    // 3 channels (at most a tile of 4) x 2 x 2 floats = 48 bytes at 32 end at 80.
    // expected-error @+1 {{the scratch (48 bytes at offset 32) does not fit in the arena of 64 bytes}}
    %u = train.conv2d_qsgd %w, %dy, %x lr 0.1 {train.scratch_offset = 32 : i64}
        : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x3x2x2x!a>) -> tensor<2x3x1x1x!w>
    return %u : tensor<2x3x1x1x!w>
  }
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @scratch_of_a_float_input(%w: tensor<2x3x1x1x!w>, %dy: tensor<1x2x2x2xf32>,
                                    %x: tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w> {
  // expected-error @+1 {{'train.scratch_offset' is only allowed on ops that need scratch (train.qbottleneck, train.bottleneck_grad, a train.conv2d_qsgd of an int8 input and a float grad_output)}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1 {train.scratch_offset = 0 : i64}
      : (tensor<2x3x1x1x!w>, tensor<1x2x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<2x3x1x1x!w>
  return %u : tensor<2x3x1x1x!w>
}
