// RUN: tcc-opt %s | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip

// train.qbottleneck round-trips: a 1x1 expansion (no expand geometry printed), a
// first conv as the expansion (expand_stride, expand_padding), no expansion.
!x = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:3>
!w = !quant.uniform<i8:f32:0, {0.01,0.02}>

// CHECK-LABEL: func.func @pointwise_expand(
func.func @pointwise_expand(%x: tensor<1x2x6x6x!x>, %we: tensor<2x2x1x1x!w>, %be: tensor<2xi32>,
    %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>)
    -> tensor<1x2x6x6x!y> {
  // CHECK: train.qbottleneck %{{.*}} expand %{{.*}}, %{{.*}} to !quant.uniform<i8:f32, 2.000000e-02:-128> depthwise %{{.*}}, %{{.*}} padding [1, 1] to
  %y = train.qbottleneck %x expand %we, %be to !x depthwise %wd, %bd padding [1, 1] to !x
      project %wp, %bp rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x2x1x1x!w>,
      tensor<2xi32>, tensor<2x1x3x3x!w>, tensor<2xi32>, tensor<2x2x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}

// CHECK-LABEL: func.func @stem(
func.func @stem(%x: tensor<1x3x8x8x!x>, %we: tensor<2x3x3x3x!w>, %be: tensor<2xi32>,
    %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>, %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>)
    -> tensor<1x2x2x2x!y> {
  // CHECK: train.qbottleneck %{{.*}} expand %{{.*}}, %{{.*}} to !quant.uniform<i8:f32, 2.000000e-02:-128> expand_stride [2, 2] expand_padding [1, 1] depthwise %{{.*}}, %{{.*}} stride [2, 2] padding [1, 1] to
  %y = train.qbottleneck %x expand %we, %be to !x expand_stride [2, 2] expand_padding [1, 1]
      depthwise %wd, %bd stride [2, 2] padding [1, 1] to !x
      project %wp, %bp rounding multiplier_shift : (tensor<1x3x8x8x!x>, tensor<2x3x3x3x!w>,
      tensor<2xi32>, tensor<2x1x3x3x!w>, tensor<2xi32>, tensor<2x2x1x1x!w>, tensor<2xi32>)
      -> tensor<1x2x2x2x!y>
  return %y : tensor<1x2x2x2x!y>
}

// CHECK-LABEL: func.func @no_expansion(
func.func @no_expansion(%x: tensor<1x2x6x6x!x>, %wd: tensor<2x1x3x3x!w>, %bd: tensor<2xi32>,
    %wp: tensor<2x2x1x1x!w>, %bp: tensor<2xi32>) -> tensor<1x2x6x6x!y> {
  // CHECK: train.qbottleneck %{{.*}} depthwise %{{.*}}, %{{.*}} padding [1, 1] to
  %y = train.qbottleneck %x depthwise %wd, %bd padding [1, 1] to !x project %wp, %bp
      rounding float_scale : (tensor<1x2x6x6x!x>, tensor<2x1x3x3x!w>, tensor<2xi32>,
      tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x6x6x!y>
  return %y : tensor<1x2x6x6x!y>
}
