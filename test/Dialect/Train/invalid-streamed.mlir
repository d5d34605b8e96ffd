// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the train.streamed op attribute (a train.qbottleneck whose rows its
// reader computes as it reads them), and the scratch of a reader that runs a chain.

!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @not_a_bottleneck(%x: tensor<1x2x!x>) -> tensor<1x2x!x> {
  // expected-error @+1 {{'train.streamed' is only allowed on train.qbottleneck}}
  %y = train.qadd %x, %x rounding float_scale {train.streamed}
      : (tensor<1x2x!x>, tensor<1x2x!x>) -> tensor<1x2x!x>
  return %y : tensor<1x2x!x>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
func.func @not_unit(%x: tensor<1x2x6x6x!x>, %we: tensor<4x2x1x1x!w4>, %be: tensor<4xi32>,
    %wd: tensor<4x1x3x3x!w4>, %bd: tensor<4xi32>, %wp: tensor<2x4x1x1x!w>,
    %bp: tensor<2xi32>) -> tensor<1x2x6x6x!x> {
  // expected-error @+1 {{'train.streamed' must be a unit attribute, got true}}
  %a = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale {train.streamed = true} : (tensor<1x2x6x6x!x>, tensor<4x1x3x3x!w4>,
      tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
  %b = train.qbottleneck %a expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x2x6x6x!x>, tensor<4x2x1x1x!w4>,
      tensor<4xi32>, tensor<4x1x3x3x!w4>, tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x6x6x!x>
  return %b : tensor<1x2x6x6x!x>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
func.func @read_twice(%x: tensor<1x2x6x6x!x>, %we: tensor<4x2x1x1x!w4>, %be: tensor<4xi32>,
    %wd: tensor<4x1x3x3x!w4>, %bd: tensor<4xi32>, %wp: tensor<2x4x1x1x!w>,
    %bp: tensor<2xi32>) -> (tensor<1x2x6x6x!x>, tensor<1x2x6x6x!x>) {
  // expected-error @+1 {{'train.streamed' needs a result with exactly one use}}
  %a = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale {train.streamed} : (tensor<1x2x6x6x!x>, tensor<4x1x3x3x!w4>,
      tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
  %b = train.qbottleneck %a expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x2x6x6x!x>, tensor<4x2x1x1x!w4>,
      tensor<4xi32>, tensor<4x1x3x3x!w4>, tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x6x6x!x>
  return %a, %b : tensor<1x2x6x6x!x>, tensor<1x2x6x6x!x>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
func.func @returned(%x: tensor<1x2x6x6x!x>, %wd: tensor<4x1x3x3x!w4>, %bd: tensor<4xi32>,
    %wp: tensor<2x4x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!x> {
  // expected-error @+1 {{'train.streamed' needs its result to be the input of a train.qbottleneck}}
  %a = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale {train.streamed} : (tensor<1x2x6x6x!x>, tensor<4x1x3x3x!w4>,
      tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
  return %a : tensor<1x2x6x6x!x>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
func.func @reader_without_expansion(%x: tensor<1x2x6x6x!x>, %wd: tensor<4x1x3x3x!w4>,
    %bd: tensor<4xi32>, %wp: tensor<2x4x1x1x!w>, %bp: tensor<2xi32>,
    %wd2: tensor<2x1x3x3x!w>, %bd2: tensor<2xi32>, %wp2: tensor<2x2x1x1x!w>,
    %bp2: tensor<2xi32>) -> tensor<1x2x6x6x!x> {
  // expected-error @+1 {{'train.streamed' needs a reader with a 1x1, stride 1, unpadded expansion}}
  %a = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale {train.streamed} : (tensor<1x2x6x6x!x>, tensor<4x1x3x3x!w4>,
      tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
  %b = train.qbottleneck %a depthwise %wd2, %bd2 padding [1, 1] to !x project %wp2, %bp2
      rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!w>, tensor<2xi32>,
      tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
  return %b : tensor<1x2x6x6x!x>
}

// -----

!x = !quant.uniform<i8:f32, 0.02:-128>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>
!w4 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
module attributes {train.arena_size = 256 : i64, train.arena_alignment = 16 : i64} {
  func.func @chain_scratch_outside_the_arena(%x: tensor<1x2x6x6x!x>, %we: tensor<4x2x1x1x!w4>,
      %be: tensor<4xi32>, %wd: tensor<4x1x3x3x!w4>, %bd: tensor<4xi32>,
      %wp: tensor<2x4x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!x> {
    %a = train.qbottleneck %x expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
        project %wp, %bp rounding float_scale {train.streamed} : (tensor<1x2x6x6x!x>,
        tensor<4x2x1x1x!w4>, tensor<4xi32>, tensor<4x1x3x3x!w4>, tensor<4xi32>,
        tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
    // Each stage: 4 channels x 3 rows x 6 columns + 4 channels x 4 pixels (the
    // depthwise span) = 88 bytes; the row handed over: 2 channels x 6 = 12 bytes;
    // 188 bytes at 80 end at 268 (88 alone would fit).
    // expected-error @+1 {{the scratch (188 bytes at offset 80) does not fit in the arena of 256 bytes}}
    %b = train.qbottleneck %a expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
        project %wp, %bp rounding float_scale {train.scratch_offset = 80 : i64}
        : (tensor<1x2x6x6x!x>, tensor<4x2x1x1x!w4>, tensor<4xi32>, tensor<4x1x3x3x!w4>,
        tensor<4xi32>, tensor<2x4x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!x>
    return %b : tensor<1x2x6x6x!x>
  }
}
