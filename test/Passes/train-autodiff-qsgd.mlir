// RUN: tcc-opt %s --train-autodiff | FileCheck %s
// RUN: tcc-opt %s --train-autodiff="qas=false lr=0.5 weight-decay=0.25" | FileCheck %s --check-prefix=NOQAS

// int8 parameters are updated in the integer domain by train.qsgd: an int8 weight
// (its scales are in its per-axis type) and the int32 bias of a qconv2d, whose bias
// scales s_x · s_w[c] are given explicitly (0.5 · {0.25, 0.5, 0.125}). QAS is on by
// default; qas=false gives the paper's plain int8 SGD.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<1x2x4x4x!quant.uniform<i8:f32, 5.000000e-01:-1>> {train.name = "input"},
// CHECK-SAME: %[[W:.*]]: tensor<3x2x1x1x!quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>> {train.name = "conv.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B:.*]]: tensor<3xi32> {train.name = "conv.bias", train.role = #train.role<trainable>},
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"},
// CHECK-SAME: tensor<3x2x1x1x!quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>> {train.name = "conv.weight", train.updates = 1 : i64},
// CHECK-SAME: tensor<3xi32> {train.name = "conv.bias", train.updates = 2 : i64})
// CHECK: train.cross_entropy_grad
// CHECK: %[[GW:.*]] = train.conv2d_grad_weight %{{.*}}, %{{.*}} : (tensor<1x3x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<3x2x1x1xf32>
// CHECK: %[[GB:.*]] = train.bias_grad %{{.*}} : tensor<1x3x4x4xf32> -> tensor<3xf32>
// CHECK-NOT: train.sgd
// CHECK: %[[NW:.*]] = train.qsgd %[[W]], %[[GW]] lr 0.00999999977 qas : (tensor<3x2x1x1x!quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>>, tensor<3x2x1x1xf32>) -> tensor<3x2x1x1x!quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>>
// CHECK-NEXT: %[[NB:.*]] = train.qsgd %[[B]], %[[GB]] lr 0.00999999977 scales [1.250000e-01, 2.500000e-01, 6.250000e-02] qas : (tensor<3xi32>, tensor<3xf32>) -> tensor<3xi32>
// CHECK-NEXT: return %{{.*}}, %[[NW]], %[[NB]] :

// NOQAS-LABEL: func.func @train_step(
// NOQAS: train.qsgd %{{.*}}, %{{.*}} lr 5.000000e-01 weight_decay 2.500000e-01 :
// NOQAS: train.qsgd %{{.*}}, %{{.*}} lr 5.000000e-01 weight_decay 2.500000e-01 scales [1.250000e-01, 2.500000e-01, 6.250000e-02] :
// NOQAS-NOT: qas
// NOQAS: return
!x = !quant.uniform<i8:f32, 5.000000e-01:-1>
!w = !quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>
!y = !quant.uniform<i8:f32, 2.500000e-01:-128>
func.func @forward(
    %x: tensor<1x2x4x4x!x> {train.name = "input"},
    %w: tensor<3x2x1x1x!w> {train.name = "conv.weight", train.role = #train.role<trainable>},
    %b: tensor<3xi32> {train.name = "conv.bias", train.role = #train.role<trainable>})
    -> tensor<1x3xf32> {
  %y = train.qconv2d %x, %w, %b rounding float_scale
      : (tensor<1x2x4x4x!x>, tensor<3x2x1x1x!w>, tensor<3xi32>) -> tensor<1x3x4x4x!y>
  %p = train.qglobal_avg_pool %y rounding float_scale : tensor<1x3x4x4x!y> -> tensor<1x3x1x1x!y>
  %r = train.reshape %p : tensor<1x3x1x1x!y> -> tensor<1x3x!y>
  %l = quant.dcast %r : tensor<1x3x!y> to tensor<1x3xf32>
  return %l : tensor<1x3xf32>
}
