// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of train.qbottleneck and of its train.scratch_offset.

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @project_not_1x1(%x: tensor<1x2x6x6x!x>, %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>,
                           %wp: tensor<2x2x3x3x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op expected a 1x1 project weight, got 3x3}}
  %y = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!w>, tensor<2xi32>,
      tensor<2x2x3x3x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w3 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>
func.func @depthwise_channels(%x: tensor<1x2x6x6x!x>, %wd: tensor<3x1x3x3x!w3>, %bd: tensor<3xi32>,
                              %wp: tensor<2x3x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op depthwise channels (3) does not match 2}}
  %y = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale : (tensor<1x2x6x6x!x>, tensor<3x1x3x3x!w3>, tensor<3xi32>,
      tensor<2x3x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @depthwise_not_per_channel(%x: tensor<1x2x6x6x!x>, %wd: tensor<2x2x3x3x!w>,
    %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op depthwise weight input channels (2) does not match 1}}
  %y = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x2x3x3x!w>, tensor<2xi32>,
      tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @output_height(%x: tensor<1x2x6x6x!x>, %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>,
                         %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op output height (6) does not match 3}}
  %y = train.qbottleneck %x depthwise %wd, %bd stride [2, 2] padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!w>,
      tensor<2xi32>, tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
func.func @expand_bias_size(%x: tensor<1x2x6x6x!x>, %we: tensor<4x2x1x1x!w4>, %be: tensor<3xi32>,
                            %wd: tensor<4x1x3x3x!w4>, %bd: tensor<4xi32>,
                            %wp: tensor<2x4x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op expand bias size (3) does not match 4}}
  %y = train.qbottleneck %x expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x2x6x6x!x>, tensor<4x2x1x1x!w4>,
      tensor<3xi32>, tensor<4x1x3x3x!w4>, tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @intermediate_type_not_int8(%x: tensor<1x2x6x6x!x>, %wd: tensor<2x1x3x3x!w>,
    %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op attribute 'depthwise_type' failed to satisfy constraint: type attribute of per-tensor int8 quantized type}}
  %y = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to f32 project %wp, %bp
      rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!w>, tensor<2xi32>,
      tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
module attributes {train.arena_size = 256 : i64, train.arena_alignment = 16 : i64} {
  func.func @scratch_outside_the_arena(%x: tensor<1x2x6x6x!x>, %we: tensor<4x2x1x1x!w4>,
      %be: tensor<4xi32>, %wd: tensor<4x1x3x3x!w4>, %bd: tensor<4xi32>,
      %wp: tensor<2x4x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
    // 4 channels x 3 rows x 6 columns + 4 channels x 4 pixels (the depthwise span)
    // = 88 bytes at 192 end at 280.
    // expected-error @+1 {{the scratch (88 bytes at offset 192) does not fit in the arena of 256 bytes}}
    %y = train.qbottleneck %x expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
        project %wp, %bp rounding float_scale {train.scratch_offset = 192 : i64}
        : (tensor<1x2x6x6x!x>, tensor<4x2x1x1x!w4>, tensor<4xi32>, tensor<4x1x3x3x!w4>,
        tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
    return %y : tensor<1x2x6x6x!y>
  }
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @scratch_on_another_op(%x: tensor<1x2x!x>) -> tensor<1x2x!x> {
  // expected-error @+1 {{'train.scratch_offset' is only allowed on ops that need scratch (train.qbottleneck, train.bottleneck_grad, a train.conv2d_qsgd of an int8 input and a float grad_output)}}
  %y = train.qadd %x, %x rounding float_scale {train.scratch_offset = 0 : i64}
      : (tensor<1x2x!x>, tensor<1x2x!x>) -> tensor<1x2x!x>
  return %y : tensor<1x2x!x>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @stem_stride_without_expansion(%x: tensor<1x2x6x6x!x>, %wd: tensor<2x1x3x3x!w>,
    %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // expected-error @+1 {{'train.qbottleneck' op expected no expand_stride or expand_padding without an expansion}}
  %y = train.qbottleneck %x expand_stride [2, 2] depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!w>,
      tensor<2xi32>, tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @stem_kernel_too_large(%x: tensor<1x3x2x2x!x>, %we: tensor<2x3x5x5x!w>,
    %be: tensor<2xi32>, %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>,
    %bp: tensor<2xi32>) -> tensor<1x2x1x1x!y> {
  // expected-error @+1 {{'train.qbottleneck' op the 5x5 expand kernel does not fit the padded input}}
  %y = train.qbottleneck %x expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x3x2x2x!x>, tensor<2x3x5x5x!w>,
      tensor<2xi32>, tensor<2x1x3x3x!w>, tensor<2xi32>, tensor<2x2x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x1x1x!y>
  return %y : tensor<1x2x1x1x!y>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
func.func @stem_output_size(%x: tensor<1x3x8x8x!x>, %we: tensor<2x3x3x3x!w>,
    %be: tensor<2xi32>, %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>,
    %bp: tensor<2xi32>) -> tensor<1x2x8x8x!y> {
  // expected-error @+1 {{'train.qbottleneck' op output height (8) does not match 4}}
  %y = train.qbottleneck %x expand %we, %be to !x expand_stride [2, 2] expand_padding [1, 1]
      depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x3x8x8x!x>, tensor<2x3x3x3x!w>,
      tensor<2xi32>, tensor<2x1x3x3x!w>, tensor<2xi32>, tensor<2x2x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x8x8x!y>
  return %y : tensor<1x2x8x8x!y>
}
