// RUN: tcc-opt %s --train-autodiff="lr=0.1" | FileCheck %s
// RUN: tcc-opt %s --train-autodiff="lr=0.1" --train-prune | FileCheck %s

// Partial-channel updates (train.channels = k, set by a sparse update scheme): only
// the first k channels of the weight are trained, as the Tiny Training Engine's
// compiled graph does. dw is depthwise: its channel axis is 0 (one input channel per
// group), its gradient a depthwise conv2d_grad_weight of the first 2 channels of dy
// and x. pw is a 1x1 conv: its first 3 input channels (axis 1), from x[:, :3].
// The slices of forward activations are taken where the activation is computed, so
// only the slice is kept for backward. --train-prune finds nothing to change.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<2x4x6x6xf32> {train.name = "input"},
// CHECK-SAME: %[[WD:[a-z0-9_]+]]: tensor<4x1x3x3xf32> {train.channels = 2 : i64, train.name = "dw.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[BD:[a-z0-9_]+]]: tensor<4xf32> {train.name = "dw.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[WP:[a-z0-9_]+]]: tensor<8x4x1x1xf32> {train.channels = 3 : i64, train.name = "pw.weight", train.role = #train.role<trainable>},
// CHECK-NEXT: %[[X2:[a-z0-9_]+]] = train.slice %[[X]] offsets [0, 0, 0, 0] sizes [2, 2, 6, 6] : tensor<2x4x6x6xf32> -> tensor<2x2x6x6xf32>
// CHECK-NEXT: %[[C1:[a-z0-9_]+]] = train.conv2d %[[X]], %[[WD]], %[[BD]] padding [1, 1] groups 4
// CHECK-NEXT: %[[A1:[a-z0-9_]+]] = train.relu %[[C1]]
// CHECK-NEXT: %[[A13:[a-z0-9_]+]] = train.slice %[[A1]] offsets [0, 0, 0, 0] sizes [2, 3, 6, 6] : tensor<2x4x6x6xf32> -> tensor<2x3x6x6xf32>
// CHECK-NEXT: train.conv2d %[[A1]], %[[WP]]
// CHECK: train.cross_entropy_grad
// CHECK: %[[DA1:[a-z0-9_]+]] = train.conv2d_grad_input %[[DC2:[a-z0-9_]+]], %[[WP]]
// CHECK-NEXT: %[[DWP:[a-z0-9_]+]] = train.conv2d_grad_weight %[[DC2]], %[[A13]] : (tensor<2x8x6x6xf32>, tensor<2x3x6x6xf32>) -> tensor<8x3x1x1xf32>
// CHECK-NEXT: %[[DC1:[a-z0-9_]+]] = train.relu_grad %[[DA1]], %[[A1]]
// CHECK-NEXT: %[[DC12:[a-z0-9_]+]] = train.slice %[[DC1]] offsets [0, 0, 0, 0] sizes [2, 2, 6, 6]
// CHECK-NEXT: %[[DWD:[a-z0-9_]+]] = train.conv2d_grad_weight %[[DC12]], %[[X2]] padding [1, 1] groups 2 : (tensor<2x2x6x6xf32>, tensor<2x2x6x6xf32>) -> tensor<2x1x3x3xf32>
// CHECK-NEXT: %[[DBD:[a-z0-9_]+]] = train.bias_grad %[[DC1]] : tensor<2x4x6x6xf32> -> tensor<4xf32>
// CHECK-NEXT: %[[WD2:[a-z0-9_]+]] = train.slice %[[WD]] offsets [0, 0, 0, 0] sizes [2, 1, 3, 3]
// CHECK-NEXT: %[[NWD2:[a-z0-9_]+]] = train.sgd %[[WD2]], %[[DWD]] lr 1.000000e-01 : tensor<2x1x3x3xf32>
// CHECK-NEXT: %[[WDR:[a-z0-9_]+]] = train.slice %[[WD]] offsets [2, 0, 0, 0] sizes [2, 1, 3, 3]
// CHECK-NEXT: %[[NWD:[a-z0-9_]+]] = train.concat %[[NWD2]], %[[WDR]] axis 0 : (tensor<2x1x3x3xf32>, tensor<2x1x3x3xf32>) -> tensor<4x1x3x3xf32>
// CHECK-NEXT: %[[NBD:[a-z0-9_]+]] = train.sgd %[[BD]], %[[DBD]]
// CHECK-NEXT: %[[WP3:[a-z0-9_]+]] = train.slice %[[WP]] offsets [0, 0, 0, 0] sizes [8, 3, 1, 1]
// CHECK-NEXT: %[[NWP3:[a-z0-9_]+]] = train.sgd %[[WP3]], %[[DWP]] lr 1.000000e-01 : tensor<8x3x1x1xf32>
// CHECK-NEXT: %[[WPR:[a-z0-9_]+]] = train.slice %[[WP]] offsets [0, 3, 0, 0] sizes [8, 1, 1, 1]
// CHECK-NEXT: %[[NWP:[a-z0-9_]+]] = train.concat %[[NWP3]], %[[WPR]] axis 1 : (tensor<8x3x1x1xf32>, tensor<8x1x1x1xf32>) -> tensor<8x4x1x1xf32>
// CHECK-NEXT: %[[NW:[a-z0-9_]+]] = train.sgd
// CHECK-NEXT: return %{{.*}}, %[[NWD]], %[[NBD]], %[[NWP]], %[[NW]] :
func.func @forward(
    %x: tensor<2x4x6x6xf32> {train.name = "input"},
    %wd: tensor<4x1x3x3xf32> {train.channels = 2 : i64, train.name = "dw.weight", train.role = #train.role<trainable>},
    %bd: tensor<4xf32> {train.name = "dw.bias", train.role = #train.role<trainable>},
    %wp: tensor<8x4x1x1xf32> {train.channels = 3 : i64, train.name = "pw.weight", train.role = #train.role<trainable>},
    %w: tensor<10x288xf32> {train.name = "fc.weight", train.role = #train.role<trainable>})
    -> tensor<2x10xf32> {
  %c1 = train.conv2d %x, %wd, %bd padding [1, 1] groups 4
      : (tensor<2x4x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x6x6xf32>
  %a1 = train.relu %c1 : tensor<2x4x6x6xf32>
  %c2 = train.conv2d %a1, %wp : (tensor<2x4x6x6xf32>, tensor<8x4x1x1xf32>) -> tensor<2x8x6x6xf32>
  %f = train.reshape %c2 : tensor<2x8x6x6xf32> -> tensor<2x288xf32>
  %y = train.linear %f, %w : (tensor<2x288xf32>, tensor<10x288xf32>) -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}
