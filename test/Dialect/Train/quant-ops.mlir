// RUN: tcc-opt %s | tcc-opt | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip
// RUN: tcc-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Round trip of the int8 ops and of the layout ops on quantized tensors.
// `rounding` prints as a bare keyword; its attribute is #train<rounding ...>.

// CHECK-LABEL: func.func @qconv2d(
// CHECK-SAME: %[[X:.*]]: tensor<1x8x16x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>, %[[W:.*]]: tensor<8x1x3x3x!quant.uniform<i8:f32:0, {{.*}}>>, %[[B:.*]]: tensor<8xi32>,
// CHECK-SAME: %[[DW:.*]]: tensor<4x8x3x3x!quant.uniform<i8:f32:0, {{.*}}>>)
func.func @qconv2d(
    %x: tensor<1x8x16x16x!quant.uniform<i8:f32, 0.02:-128>>,
    %w: tensor<8x1x3x3x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08}>>,
    %b: tensor<8xi32>,
    %w2: tensor<4x8x3x3x!quant.uniform<i8:f32:0, {0.5,0.25,0.125,0.0625}>>)
    -> (tensor<1x8x8x8x!quant.uniform<i8:f32, 0.023529411764705882:-128>>,
        tensor<1x4x14x14x!quant.uniform<i8<0:127>:f32, 0.1:5>>) {
  // Depthwise, strided, with bias.
  // CHECK: train.qconv2d %[[X]], %[[W]], %[[B]] stride [2, 2] padding [1, 1] groups 8 rounding float_scale : (tensor<1x8x16x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<8x1x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02,5.000000e-02,6.000000e-02,7.000000e-02,8.000000e-02}>>, tensor<8xi32>) -> tensor<1x8x8x8x!quant.uniform<i8:f32, 0.023529411764705882:-128>>
  %0 = train.qconv2d %x, %w, %b stride [2, 2] padding [1, 1] groups 8 rounding float_scale
      : (tensor<1x8x16x16x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<8x1x3x3x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08}>>,
         tensor<8xi32>)
      -> tensor<1x8x8x8x!quant.uniform<i8:f32, 0.023529411764705882:-128>>
  // Without bias; a narrowed storage range in the result is kept.
  // CHECK: train.qconv2d %[[X]], %[[DW]] rounding multiplier_shift : (tensor<1x8x16x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<4x8x3x3x!quant.uniform<i8:f32:0, {5.000000e-01,2.500000e-01,1.250000e-01,6.250000e-02}>>) -> tensor<1x4x14x14x!quant.uniform<i8<0:127>:f32, 1.000000e-01:5>>
  %1 = train.qconv2d %x, %w2 rounding multiplier_shift
      : (tensor<1x8x16x16x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<4x8x3x3x!quant.uniform<i8:f32:0, {0.5,0.25,0.125,0.0625}>>)
      -> tensor<1x4x14x14x!quant.uniform<i8<0:127>:f32, 0.1:5>>
  return %0, %1 : tensor<1x8x8x8x!quant.uniform<i8:f32, 0.023529411764705882:-128>>,
      tensor<1x4x14x14x!quant.uniform<i8<0:127>:f32, 0.1:5>>
}

// GENERIC: "train.qconv2d"(%{{.*}}, %{{.*}}, %{{.*}}) <{dilation = array<i64: 1, 1>, groups = 8 : i64, padding = array<i64: 1, 1>, rounding = #train<rounding float_scale>, stride = array<i64: 2, 2>}>
// GENERIC: "train.qconv2d"(%{{.*}}, %{{.*}}) <{{{.*}}rounding = #train<rounding multiplier_shift>{{.*}}}>

// CHECK-LABEL: func.func @qlinear(
// CHECK-SAME: %[[X:.*]]: tensor<2x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>, %[[W:.*]]: tensor<4x16x!quant.uniform<i8:f32:0, {{.*}}>>, %[[B:.*]]: tensor<4xi32>)
func.func @qlinear(%x: tensor<2x16x!quant.uniform<i8:f32, 0.02:-128>>,
                   %w: tensor<4x16x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>>,
                   %b: tensor<4xi32>)
    -> (tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>, tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>) {
  // CHECK: train.qlinear %[[X]], %[[W]], %[[B]] rounding multiplier_shift : (tensor<2x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<4x16x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4xi32>) -> tensor<2x4x!quant.uniform<i8:f32, 5.000000e-01:3>>
  %0 = train.qlinear %x, %w, %b rounding multiplier_shift
      : (tensor<2x16x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<4x16x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>>, tensor<4xi32>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>
  // CHECK: train.qlinear %[[X]], %[[W]] rounding float_scale : (tensor<2x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<4x16x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>) -> tensor<2x4x!quant.uniform<i8:f32, 5.000000e-01:3>>
  %1 = train.qlinear %x, %w rounding float_scale
      : (tensor<2x16x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<4x16x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>
  return %0, %1 : tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>, tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>
}

// CHECK-LABEL: func.func @qadd_and_pools(
// CHECK-SAME: %[[A:.*]]: tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>, %[[B:.*]]: tensor<1x4x8x8x!quant.uniform<i8:f32, 3.000000e-02:7>>)
func.func @qadd_and_pools(%a: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
                          %b: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.03:7>>)
    -> (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.05:-20>>,
        tensor<1x4x5x5x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<1x4x4x4x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<1x4x1x1x!quant.uniform<i8:f32, 0.02:-128>>) {
  // Operands and result may have different scales and zero points.
  // CHECK: train.qadd %[[A]], %[[B]] rounding float_scale : (tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<1x4x8x8x!quant.uniform<i8:f32, 3.000000e-02:7>>) -> tensor<1x4x8x8x!quant.uniform<i8:f32, 5.000000e-02:-20>>
  %0 = train.qadd %a, %b rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<1x4x8x8x!quant.uniform<i8:f32, 0.03:7>>)
      -> tensor<1x4x8x8x!quant.uniform<i8:f32, 0.05:-20>>
  // CHECK: train.qavg_pool2d %[[A]] kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad rounding multiplier_shift : (tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<1x4x5x5x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %1 = train.qavg_pool2d %a kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad
      rounding multiplier_shift
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>)
      -> tensor<1x4x5x5x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: train.qavg_pool2d %[[A]] kernel [2, 2] stride [2, 2] rounding float_scale : (tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %2 = train.qavg_pool2d %a kernel [2, 2] stride [2, 2] rounding float_scale
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>)
      -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: train.qglobal_avg_pool %[[A]] rounding float_scale : tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>> -> tensor<1x4x1x1x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %3 = train.qglobal_avg_pool %a rounding float_scale
      : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
      -> tensor<1x4x1x1x!quant.uniform<i8:f32, 0.02:-128>>
  return %0, %1, %2, %3 : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.05:-20>>,
      tensor<1x4x5x5x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<1x4x4x4x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<1x4x1x1x!quant.uniform<i8:f32, 0.02:-128>>
}

// GENERIC: "train.qadd"(%{{.*}}, %{{.*}}) <{rounding = #train<rounding float_scale>}>
// GENERIC: "train.qavg_pool2d"(%{{.*}}) <{count_include_pad, kernel = array<i64: 2, 2>, padding = array<i64: 1, 1>, rounding = #train<rounding multiplier_shift>, stride = array<i64: 2, 2>}>
// GENERIC: "train.qglobal_avg_pool"(%{{.*}}) <{rounding = #train<rounding float_scale>}>

// The layout ops move or compare stored values: one quantized type throughout.
// CHECK-LABEL: func.func @layout(
// CHECK-SAME: %[[X:.*]]: tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>, %[[Y:.*]]: tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>)
func.func @layout(%x: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
                  %y: tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>)
    -> (tensor<1x256x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<1x8x8x4x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<1x8x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<1x4x4x4x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
        tensor<2x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>) {
  // CHECK: train.reshape %[[X]] : tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>> -> tensor<1x256x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %0 = train.reshape %x : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
      -> tensor<1x256x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: train.transpose %[[X]] permutation [0, 2, 3, 1] : tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>> -> tensor<1x8x8x4x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %1 = train.transpose %x permutation [0, 2, 3, 1]
      : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
      -> tensor<1x8x8x4x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: train.concat %[[X]], %[[Y]] axis 1 : (tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>, tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<1x8x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %2 = train.concat %x, %y axis 1
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>)
      -> tensor<1x8x8x8x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: train.max_pool2d %[[X]] kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>) -> tensor<1x4x4x4x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %3 = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>)
      -> tensor<1x4x4x4x!quant.uniform<i8:f32, 0.02:-128>>
  // relu6 on stored values.
  // CHECK: train.clamp %[[X]] min 0.000000e+00 max 6.000000e+00 : tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %4 = train.clamp %x min 0.0 max 6.0 : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: train.broadcast %[[Y]] : tensor<1x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>> -> tensor<2x4x8x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %5 = train.broadcast %y : tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
      -> tensor<2x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
  return %0, %1, %2, %3, %4, %5 : tensor<1x256x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<1x8x8x4x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<1x8x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<1x4x4x4x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<1x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>,
      tensor<2x4x8x8x!quant.uniform<i8:f32, 0.02:-128>>
}

// Upstream quant.qcast / quant.dcast quantize and dequantize around the int8 ops.
// CHECK-LABEL: func.func @qcast_dcast(
// CHECK-SAME: %[[X:.*]]: tensor<2x16xf32>
func.func @qcast_dcast(%x: tensor<2x16xf32>,
                       %w: tensor<4x16x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>>)
    -> tensor<2x4xf32> {
  // CHECK: %[[Q:.*]] = quant.qcast %[[X]] : tensor<2x16xf32> to tensor<2x16x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %q = quant.qcast %x : tensor<2x16xf32> to tensor<2x16x!quant.uniform<i8:f32, 0.02:-128>>
  // CHECK: %[[Y:.*]] = train.qlinear %[[Q]], %{{.*}} rounding float_scale
  %y = train.qlinear %q, %w rounding float_scale
      : (tensor<2x16x!quant.uniform<i8:f32, 0.02:-128>>,
         tensor<4x16x!quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04}>>)
      -> tensor<2x4x!quant.uniform<i8:f32, 0.5:3>>
  // CHECK: quant.dcast %[[Y]] : tensor<2x4x!quant.uniform<i8:f32, 5.000000e-01:3>> to tensor<2x4xf32>
  %f = quant.dcast %y : tensor<2x4x!quant.uniform<i8:f32, 0.5:3>> to tensor<2x4xf32>
  return %f : tensor<2x4xf32>
}
