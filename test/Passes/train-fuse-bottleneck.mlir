// RUN: tcc-opt --train-fuse-bottleneck --split-input-file %s | FileCheck %s

// A frozen expand -> depthwise (stride 2) -> project chain becomes one op; the
// residual-free block keeps its input and weights, the intermediate types move
// into the op.
!x = !quant.uniform<i8:f32, 0.02:-128>
!e = !quant.uniform<i8:f32, 0.03:-128>
!d = !quant.uniform<i8:f32, 0.04:-5>
!y = !quant.uniform<i8:f32, 0.05:3>
!we = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!wp = !quant.uniform<i8:f32:0, {0.01,0.02}>
// CHECK-LABEL: func.func @expand_depthwise_project(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x2x8x8x
// CHECK-SAME: %[[WE:[^:]*]]: tensor<6x2x1x1x
// CHECK-SAME: %[[BE:[^:]*]]: tensor<6xi32>
// CHECK-SAME: %[[WD:[^:]*]]: tensor<6x1x3x3x
// CHECK-SAME: %[[BD:[^:]*]]: tensor<6xi32>
// CHECK-SAME: %[[WP:[^:]*]]: tensor<2x6x1x1x
// CHECK-SAME: %[[BP:[^:]*]]: tensor<2xi32>
// CHECK-NOT: train.qconv2d
// CHECK: %[[Y:.*]] = train.qbottleneck %[[X]] expand %[[WE]], %[[BE]] to !quant.uniform<i8:f32, 3.000000e-02:-128> depthwise %[[WD]], %[[BD]] stride [2, 2] padding [1, 1] to !quant.uniform<i8:f32, 4.000000e-02:-5> project %[[WP]], %[[BP]] rounding float_scale
// CHECK-SAME: -> tensor<1x2x4x4x!quant.uniform<i8:f32, 5.000000e-02:3>>
// CHECK-NOT: train.qconv2d
// CHECK: return %[[Y]]
func.func @expand_depthwise_project(
    %x: tensor<1x2x8x8x!x>,
    %we: tensor<6x2x1x1x!we> {train.role = #train.role<frozen>},
    %be: tensor<6xi32> {train.role = #train.role<frozen>},
    %wd: tensor<6x1x3x3x!we> {train.role = #train.role<frozen>},
    %bd: tensor<6xi32> {train.role = #train.role<frozen>},
    %wp: tensor<2x6x1x1x!wp> {train.role = #train.role<frozen>},
    %bp: tensor<2xi32> {train.role = #train.role<frozen>}) -> tensor<1x2x4x4x!y> {
  %e = train.qconv2d %x, %we, %be rounding float_scale
      : (tensor<1x2x8x8x!x>, tensor<6x2x1x1x!we>, tensor<6xi32>) -> tensor<1x6x8x8x!e>
  %d = train.qconv2d %e, %wd, %bd stride [2, 2] padding [1, 1] groups 6 rounding float_scale
      : (tensor<1x6x8x8x!e>, tensor<6x1x3x3x!we>, tensor<6xi32>) -> tensor<1x6x4x4x!d>
  %y = train.qconv2d %d, %wp, %bp rounding float_scale
      : (tensor<1x6x4x4x!d>, tensor<2x6x1x1x!wp>, tensor<2xi32>) -> tensor<1x2x4x4x!y>
  return %y : tensor<1x2x4x4x!y>
}

// -----

// A first conv (3x3, stride 2, padding 1, from a 3-channel image) is the expansion of
// the block after it: its output, the largest tensor of the forward pass, goes.
!x = !quant.uniform<i8:f32, 0.02:-128>
!e = !quant.uniform<i8:f32, 0.03:-128>
!d = !quant.uniform<i8:f32, 0.04:-5>
!y = !quant.uniform<i8:f32, 0.05:3>
!we = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>
!wp = !quant.uniform<i8:f32:0, {0.01,0.02}>
// CHECK-LABEL: func.func @stem(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x3x16x16x
// CHECK-SAME: %[[WE:[^:]*]]: tensor<4x3x3x3x
// CHECK-NOT: train.qconv2d
// CHECK: %[[Y:.*]] = train.qbottleneck %[[X]] expand %[[WE]], %{{.*}} to !quant.uniform<i8:f32, 3.000000e-02:-128> expand_stride [2, 2] expand_padding [1, 1] depthwise %{{.*}}, %{{.*}} padding [1, 1] to !quant.uniform<i8:f32, 4.000000e-02:-5> project
// CHECK-SAME: -> tensor<1x2x8x8x!quant.uniform<i8:f32, 5.000000e-02:3>>
// CHECK-NOT: train.qconv2d
// CHECK: return %[[Y]]
func.func @stem(
    %x: tensor<1x3x16x16x!x>,
    %we: tensor<4x3x3x3x!we> {train.role = #train.role<frozen>},
    %be: tensor<4xi32> {train.role = #train.role<frozen>},
    %wd: tensor<4x1x3x3x!we> {train.role = #train.role<frozen>},
    %bd: tensor<4xi32> {train.role = #train.role<frozen>},
    %wp: tensor<2x4x1x1x!wp> {train.role = #train.role<frozen>},
    %bp: tensor<2xi32> {train.role = #train.role<frozen>}) -> tensor<1x2x8x8x!y> {
  %e = train.qconv2d %x, %we, %be stride [2, 2] padding [1, 1] rounding multiplier_shift
      : (tensor<1x3x16x16x!x>, tensor<4x3x3x3x!we>, tensor<4xi32>) -> tensor<1x4x8x8x!e>
  %d = train.qconv2d %e, %wd, %bd padding [1, 1] groups 4 rounding multiplier_shift
      : (tensor<1x4x8x8x!e>, tensor<4x1x3x3x!we>, tensor<4xi32>) -> tensor<1x4x8x8x!d>
  %y = train.qconv2d %d, %wp, %bp rounding multiplier_shift
      : (tensor<1x4x8x8x!d>, tensor<2x4x1x1x!wp>, tensor<2xi32>) -> tensor<1x2x8x8x!y>
  return %y : tensor<1x2x8x8x!y>
}

// -----

// No expansion (depthwise -> project) and a residual qadd, which stays a separate
// element-wise op reading the fused result.
!x = !quant.uniform<i8:f32, 0.02:-128>
!d = !quant.uniform<i8:f32, 0.04:-5>
!y = !quant.uniform<i8:f32, 0.05:3>
!r = !quant.uniform<i8:f32, 0.06:1>
!wd = !quant.uniform<i8:f32:0, {0.01,0.02}>
// CHECK-LABEL: func.func @depthwise_project_residual(
// CHECK: %[[Y:.*]] = train.qbottleneck %{{.*}} depthwise %{{.*}}, %{{.*}} padding [2, 2] to !quant.uniform<i8:f32, 4.000000e-02:-5> project %{{.*}}, %{{.*}} rounding multiplier_shift
// CHECK-NOT: expand
// CHECK: %[[R:.*]] = train.qadd %{{.*}}, %[[Y]] rounding multiplier_shift
// CHECK: return %[[R]]
func.func @depthwise_project_residual(
    %x: tensor<1x2x6x6x!x>,
    %wd: tensor<2x1x5x5x!wd> {train.role = #train.role<frozen>},
    %bd: tensor<2xi32> {train.role = #train.role<frozen>},
    %wp: tensor<2x2x1x1x!wd> {train.role = #train.role<frozen>},
    %bp: tensor<2xi32> {train.role = #train.role<frozen>}) -> tensor<1x2x6x6x!r> {
  %d = train.qconv2d %x, %wd, %bd padding [2, 2] groups 2 rounding multiplier_shift
      : (tensor<1x2x6x6x!x>, tensor<2x1x5x5x!wd>, tensor<2xi32>) -> tensor<1x2x6x6x!d>
  %y = train.qconv2d %d, %wp, %bp rounding multiplier_shift
      : (tensor<1x2x6x6x!d>, tensor<2x2x1x1x!wd>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  %r = train.qadd %x, %y rounding multiplier_shift
      : (tensor<1x2x6x6x!x>, tensor<1x2x6x6x!y>) -> tensor<1x2x6x6x!r>
  return %r : tensor<1x2x6x6x!r>
}

// -----

// Not fused: the depthwise weight is trainable (its gradient needs the expanded
// tensor), and in the second function the depthwise output is also returned
// (saved for something else).
!x = !quant.uniform<i8:f32, 0.02:-128>
!d = !quant.uniform<i8:f32, 0.04:-5>
!y = !quant.uniform<i8:f32, 0.05:3>
!wd = !quant.uniform<i8:f32:0, {0.01,0.02}>
// CHECK-LABEL: func.func @trainable_weight(
// CHECK-NOT: train.qbottleneck
// CHECK: train.qconv2d
// CHECK: train.qconv2d
func.func @trainable_weight(
    %x: tensor<1x2x6x6x!x>,
    %wd: tensor<2x1x3x3x!wd> {train.role = #train.role<trainable>},
    %bd: tensor<2xi32> {train.role = #train.role<frozen>},
    %wp: tensor<2x2x1x1x!wd> {train.role = #train.role<frozen>},
    %bp: tensor<2xi32> {train.role = #train.role<frozen>}) -> tensor<1x2x6x6x!y> {
  %d = train.qconv2d %x, %wd, %bd padding [1, 1] groups 2 rounding float_scale
      : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!wd>, tensor<2xi32>) -> tensor<1x2x6x6x!d>
  %y = train.qconv2d %d, %wp, %bp rounding float_scale
      : (tensor<1x2x6x6x!d>, tensor<2x2x1x1x!wd>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// CHECK-LABEL: func.func @intermediate_read_twice(
// CHECK-NOT: train.qbottleneck
// CHECK: return
func.func @intermediate_read_twice(
    %x: tensor<1x2x6x6x!x>,
    %wd: tensor<2x1x3x3x!wd> {train.role = #train.role<frozen>},
    %bd: tensor<2xi32> {train.role = #train.role<frozen>},
    %wp: tensor<2x2x1x1x!wd> {train.role = #train.role<frozen>},
    %bp: tensor<2xi32> {train.role = #train.role<frozen>})
    -> (tensor<1x2x6x6x!y>, tensor<1x2x6x6x!d>) {
  %d = train.qconv2d %x, %wd, %bd padding [1, 1] groups 2 rounding float_scale
      : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!wd>, tensor<2xi32>) -> tensor<1x2x6x6x!d>
  %y = train.qconv2d %d, %wp, %bp rounding float_scale
      : (tensor<1x2x6x6x!d>, tensor<2x2x1x1x!wd>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y, %d : tensor<1x2x6x6x!y>, tensor<1x2x6x6x!d>
}

// -----

// A stem block (3x3 stride 2 from a 32x32 image) read only by the 1x1 expansion of a
// stride-2 block is streamed into it: its 8x16x16 result becomes one 8x16 row handed
// over (the reader's need 3072 + 512 + both rings + 128 B is below the stem's
// 3072 + 2048 B + its ring). The reader itself is returned: not streamed.
!x = !quant.uniform<i8:f32, 0.02:-128>
!w3 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08}>
// CHECK-LABEL: func.func @stream_the_stem(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x3x32x32x
// CHECK: %[[A:.*]] = train.qbottleneck %[[X]] expand {{.*}} expand_stride [2, 2] expand_padding [1, 1] {{.*}} {train.streamed}
// CHECK-SAME: -> tensor<1x8x16x16x
// CHECK: %[[B:.*]] = train.qbottleneck %[[A]] expand
// CHECK-NOT: train.streamed
// CHECK-SAME: -> tensor<1x8x8x8x
// CHECK: return %[[B]]
func.func @stream_the_stem(
    %x: tensor<1x3x32x32x!x>,
    %w0: tensor<8x3x3x3x!w3> {train.role = #train.role<frozen>},
    %wd: tensor<8x1x3x3x!w3> {train.role = #train.role<frozen>},
    %wp: tensor<8x8x1x1x!w3> {train.role = #train.role<frozen>},
    %b: tensor<8xi32> {train.role = #train.role<frozen>}) -> tensor<1x8x8x8x!x> {
  %s = train.qconv2d %x, %w0, %b stride [2, 2] padding [1, 1] rounding float_scale
      : (tensor<1x3x32x32x!x>, tensor<8x3x3x3x!w3>, tensor<8xi32>) -> tensor<1x8x16x16x!x>
  %d = train.qconv2d %s, %wd, %b padding [1, 1] groups 8 rounding float_scale
      : (tensor<1x8x16x16x!x>, tensor<8x1x3x3x!w3>, tensor<8xi32>) -> tensor<1x8x16x16x!x>
  %p = train.qconv2d %d, %wp, %b rounding float_scale
      : (tensor<1x8x16x16x!x>, tensor<8x8x1x1x!w3>, tensor<8xi32>) -> tensor<1x8x16x16x!x>
  %e1 = train.qconv2d %p, %wp, %b rounding float_scale
      : (tensor<1x8x16x16x!x>, tensor<8x8x1x1x!w3>, tensor<8xi32>) -> tensor<1x8x16x16x!x>
  %d1 = train.qconv2d %e1, %wd, %b stride [2, 2] padding [1, 1] groups 8 rounding float_scale
      : (tensor<1x8x16x16x!x>, tensor<8x1x3x3x!w3>, tensor<8xi32>) -> tensor<1x8x8x8x!x>
  %p1 = train.qconv2d %d1, %wp, %b rounding float_scale
      : (tensor<1x8x8x8x!x>, tensor<8x8x1x1x!w3>, tensor<8xi32>) -> tensor<1x8x8x8x!x>
  return %p1 : tensor<1x8x8x8x!x>
}

// -----

// The same chain at 8x8: the stem's result (8x4x4, 128 B) is smaller than what
// streaming adds to the reader (its 32 B result, 112 B of ring and row, a 32 B row
// handed over): it stays a tensor.
!x = !quant.uniform<i8:f32, 0.02:-128>
!w3 = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08}>
// CHECK-LABEL: func.func @small_result_stays(
// CHECK-NOT: train.streamed
// CHECK: return
func.func @small_result_stays(
    %x: tensor<1x3x8x8x!x>,
    %w0: tensor<8x3x3x3x!w3> {train.role = #train.role<frozen>},
    %wd: tensor<8x1x3x3x!w3> {train.role = #train.role<frozen>},
    %wp: tensor<8x8x1x1x!w3> {train.role = #train.role<frozen>},
    %b: tensor<8xi32> {train.role = #train.role<frozen>}) -> tensor<1x8x2x2x!x> {
  %s = train.qconv2d %x, %w0, %b stride [2, 2] padding [1, 1] rounding float_scale
      : (tensor<1x3x8x8x!x>, tensor<8x3x3x3x!w3>, tensor<8xi32>) -> tensor<1x8x4x4x!x>
  %d = train.qconv2d %s, %wd, %b padding [1, 1] groups 8 rounding float_scale
      : (tensor<1x8x4x4x!x>, tensor<8x1x3x3x!w3>, tensor<8xi32>) -> tensor<1x8x4x4x!x>
  %p = train.qconv2d %d, %wp, %b rounding float_scale
      : (tensor<1x8x4x4x!x>, tensor<8x8x1x1x!w3>, tensor<8xi32>) -> tensor<1x8x4x4x!x>
  %e1 = train.qconv2d %p, %wp, %b rounding float_scale
      : (tensor<1x8x4x4x!x>, tensor<8x8x1x1x!w3>, tensor<8xi32>) -> tensor<1x8x4x4x!x>
  %d1 = train.qconv2d %e1, %wd, %b stride [2, 2] padding [1, 1] groups 8 rounding float_scale
      : (tensor<1x8x4x4x!x>, tensor<8x1x3x3x!w3>, tensor<8xi32>) -> tensor<1x8x2x2x!x>
  %p1 = train.qconv2d %d1, %wp, %b rounding float_scale
      : (tensor<1x8x2x2x!x>, tensor<8x8x1x1x!w3>, tensor<8xi32>) -> tensor<1x8x2x2x!x>
  return %p1 : tensor<1x8x2x2x!x>
}
