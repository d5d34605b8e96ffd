// RUN: tcc-opt %s --train-prune --split-input-file | FileCheck %s
// RUN: tcc-opt %s --pass-pipeline='builtin.module(train-prune{cleanup=false})' --split-input-file | FileCheck %s --check-prefix=RAW

// --train-prune on training steps as a naive autodiff writes them: every gradient
// is computed, then the scheme's updates are picked. The scheme is in the step's
// arguments (train.role, train.channels).

// A 3-layer MLP: fc1 frozen, fc2 bias-only (its weight frozen), fc3 full.

// The signature is kept: loss and the three updates.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x16xf32> {train.name = "input"},
// CHECK-SAME: %[[W1:.*]]: tensor<16x16xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
// CHECK-SAME: %[[B1:.*]]: tensor<16xf32> {train.name = "fc1.bias", train.role = #train.role<frozen>},
// CHECK-SAME: %[[W2:.*]]: tensor<16x16xf32> {train.name = "fc2.weight", train.role = #train.role<frozen>},
// CHECK-SAME: %[[B2:.*]]: tensor<16xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[W3:.*]]: tensor<10x16xf32> {train.name = "fc3.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B3:.*]]: tensor<10xf32> {train.name = "fc3.bias", train.role = #train.role<trainable>},
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"}, tensor<16xf32> {train.name = "fc2.bias", train.updates = 4 : i64}, tensor<10x16xf32> {train.name = "fc3.weight", train.updates = 5 : i64}, tensor<10xf32> {train.name = "fc3.bias", train.updates = 6 : i64})
// The forward pass is untouched.
// CHECK: %[[H1:.*]] = train.linear %[[X]], %[[W1]], %[[B1]]
// CHECK: %[[A1:.*]] = train.relu %[[H1]]
// CHECK: %[[H2:.*]] = train.linear %[[A1]], %[[W2]], %[[B2]]
// CHECK: %[[A2:.*]] = train.relu %[[H2]]
// CHECK: %[[Y:.*]] = train.linear %[[A2]], %[[W3]], %[[B3]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad %[[Y]]
// fc3: full update; cse merges the two identical bias gradients.
// CHECK: %[[DA2:.*]] = train.linear_grad_input %[[DY]], %[[W3]]
// CHECK: %[[DW3:.*]] = train.linear_grad_weight %[[DY]], %[[A2]]
// CHECK: %[[DB3:.*]] = train.bias_grad %[[DY]]
// CHECK-NEXT: %[[DB3SUM:.*]] = train.add %[[DB3]], %[[DB3]]
// fc2 is bias-only: the relu mask of its output and a bias gradient. Its weight
// gradient is gone, and with it the only backward use of its input activation.
// CHECK: %[[DH2:.*]] = train.relu_grad %[[DA2]], %[[A2]]
// CHECK-NEXT: %[[DB2:.*]] = train.bias_grad %[[DH2]]
// fc1 is frozen: back-propagation stops at fc2 (no input gradient of fc2, no
// relu mask of fc1, no fc1 gradient), and no update of a frozen parameter is left.
// CHECK-NOT: train.linear_grad_input
// CHECK-NOT: train.linear_grad_weight
// CHECK-NOT: %[[A1]]{{[,) ]}}
// CHECK-NOT: train.sgd %[[W1]]
// CHECK-NOT: train.sgd %[[B1]]
// CHECK-NOT: train.sgd %[[W2]]
// CHECK: %[[NB2:.*]] = train.sgd %[[B2]], %[[DB2]]
// CHECK-NEXT: %[[NW3:.*]] = train.sgd %[[W3]], %[[DW3]]
// CHECK-NEXT: %[[NB3:.*]] = train.sgd %[[B3]], %[[DB3SUM]]
// CHECK-NEXT: return %{{.*}}, %[[NB2]], %[[NW3]], %[[NB3]] :

// Without cleanup (no canonicalize/cse) the dead ops are still erased, but the
// duplicate bias gradient stays.
// RAW-LABEL: func.func @train_step(
// RAW: %[[DB3A:.*]] = train.bias_grad
// RAW-NEXT: %[[DB3B:.*]] = train.bias_grad
// RAW-NEXT: train.add %[[DB3A]], %[[DB3B]]
// RAW-NOT: train.linear_grad_input
// RAW-NOT: train.linear_grad_weight
// RAW: return
func.func @train_step(
    %x: tensor<4x16xf32> {train.name = "input"},
    %w1: tensor<16x16xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
    %b1: tensor<16xf32> {train.name = "fc1.bias", train.role = #train.role<frozen>},
    %w2: tensor<16x16xf32> {train.name = "fc2.weight", train.role = #train.role<frozen>},
    %b2: tensor<16xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
    %w3: tensor<10x16xf32> {train.name = "fc3.weight", train.role = #train.role<trainable>},
    %b3: tensor<10xf32> {train.name = "fc3.bias", train.role = #train.role<trainable>},
    %labels: tensor<4xi32> {train.name = "labels"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<16xf32> {train.name = "fc2.bias", train.updates = 4 : i64},
        tensor<10x16xf32> {train.name = "fc3.weight", train.updates = 5 : i64},
        tensor<10xf32> {train.name = "fc3.bias", train.updates = 6 : i64}) {
  %h1 = train.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %a1 = train.relu %h1 : tensor<4x16xf32>
  %h2 = train.linear %a1, %w2, %b2 : (tensor<4x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %a2 = train.relu %h2 : tensor<4x16xf32>
  %y = train.linear %a2, %w3, %b3 : (tensor<4x16xf32>, tensor<10x16xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  %loss = train.cross_entropy %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<f32>
  %dy = train.cross_entropy_grad %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x10xf32>
  %da2 = train.linear_grad_input %dy, %w3 : (tensor<4x10xf32>, tensor<10x16xf32>) -> tensor<4x16xf32>
  %dw3 = train.linear_grad_weight %dy, %a2 : (tensor<4x10xf32>, tensor<4x16xf32>) -> tensor<10x16xf32>
  %db3a = train.bias_grad %dy : tensor<4x10xf32> -> tensor<10xf32>
  %db3b = train.bias_grad %dy : tensor<4x10xf32> -> tensor<10xf32>
  %db3 = train.add %db3a, %db3b : tensor<10xf32>
  %dh2 = train.relu_grad %da2, %a2 : tensor<4x16xf32>
  %da1 = train.linear_grad_input %dh2, %w2 : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %dw2 = train.linear_grad_weight %dh2, %a1 : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<16x16xf32>
  %db2 = train.bias_grad %dh2 : tensor<4x16xf32> -> tensor<16xf32>
  %dh1 = train.relu_grad %da1, %a1 : tensor<4x16xf32>
  %dw1 = train.linear_grad_weight %dh1, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<16x16xf32>
  %db1 = train.bias_grad %dh1 : tensor<4x16xf32> -> tensor<16xf32>
  %nw1 = train.sgd %w1, %dw1 lr 0.1 : tensor<16x16xf32>
  %nb1 = train.sgd %b1, %db1 lr 0.1 : tensor<16xf32>
  %nw2 = train.sgd %w2, %dw2 lr 0.1 : tensor<16x16xf32>
  %nb2 = train.sgd %b2, %db2 lr 0.1 : tensor<16xf32>
  %nw3 = train.sgd %w3, %dw3 lr 0.1 : tensor<10x16xf32>
  %nb3 = train.sgd %b3, %db3 lr 0.1 : tensor<10xf32>
  return %loss, %nb2, %nw3, %nb3 : tensor<f32>, tensor<16xf32>, tensor<10x16xf32>, tensor<10xf32>
}

// -----

// Partial channels. dw (depthwise, 4 channels) trains its first 2 channels: the
// channel axis of a depthwise weight is 0 (one input channel per group). pw (1x1,
// 4 -> 8) trains its first 3 input channels, axis 1. dw gets a full-width update in
// the input; pw already has the sliced form but slices a full-width gradient.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<2x4x6x6xf32> {train.name = "input"},
// CHECK-SAME: %[[WD:.*]]: tensor<4x1x3x3xf32> {train.channels = 2 : i64, train.name = "dw.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[BD:.*]]: tensor<4xf32> {train.name = "dw.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[WP:.*]]: tensor<8x4x1x1xf32> {train.channels = 3 : i64, train.name = "pw.weight", train.role = #train.role<trainable>},
// Only the slices of the activations are kept for backward: each slice is taken
// right after its activation is computed (here the input, first).
// CHECK-NEXT: %[[X2:.*]] = train.slice %[[X]] offsets [0, 0, 0, 0] sizes [2, 2, 6, 6] : tensor<2x4x6x6xf32> -> tensor<2x2x6x6xf32>
// CHECK-NEXT: %[[C1:.*]] = train.conv2d %[[X]], %[[WD]], %[[BD]] padding [1, 1] groups 4
// CHECK-NEXT: %[[A1:.*]] = train.relu %[[C1]]
// CHECK-NEXT: %[[A13:.*]] = train.slice %[[A1]] offsets [0, 0, 0, 0] sizes [2, 3, 6, 6] : tensor<2x4x6x6xf32> -> tensor<2x3x6x6xf32>
// CHECK-NEXT: train.conv2d %[[A1]], %[[WP]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad
// pw: the weight gradient of 3 input channels, from the sliced activation.
// CHECK: %[[DC2:.*]] = train.reshape
// CHECK: %[[DA1:.*]] = train.conv2d_grad_input %[[DC2]], %[[WP]] : (tensor<2x8x6x6xf32>, tensor<8x4x1x1xf32>) -> tensor<2x4x6x6xf32>
// CHECK-NEXT: %[[DWP:.*]] = train.conv2d_grad_weight %[[DC2]], %[[A13]] : (tensor<2x8x6x6xf32>, tensor<2x3x6x6xf32>) -> tensor<8x3x1x1xf32>
// dw: the first 2 channels of dy and x, a depthwise gradient with 2 groups.
// CHECK-NEXT: %[[DC1:.*]] = train.relu_grad %[[DA1]], %[[A1]]
// CHECK-NEXT: %[[DC12:.*]] = train.slice %[[DC1]] offsets [0, 0, 0, 0] sizes [2, 2, 6, 6] : tensor<2x4x6x6xf32> -> tensor<2x2x6x6xf32>
// CHECK-NEXT: %[[DWD:.*]] = train.conv2d_grad_weight %[[DC12]], %[[X2]] padding [1, 1] groups 2 : (tensor<2x2x6x6xf32>, tensor<2x2x6x6xf32>) -> tensor<2x1x3x3xf32>
// The bias is updated whole.
// CHECK-NEXT: %[[DBD:.*]] = train.bias_grad %[[DC1]] : tensor<2x4x6x6xf32> -> tensor<4xf32>
// No full-width weight gradient is left.
// CHECK-NOT: -> tensor<4x1x3x3xf32>
// CHECK-NOT: -> tensor<8x4x1x1xf32>
// p' = concat(sgd(p[:k], g_k), p[k:]) along the channel axis.
// CHECK: %[[WD2:.*]] = train.slice %[[WD]] offsets [0, 0, 0, 0] sizes [2, 1, 3, 3] : tensor<4x1x3x3xf32> -> tensor<2x1x3x3xf32>
// CHECK-NEXT: %[[NWD2:.*]] = train.sgd %[[WD2]], %[[DWD]] lr 1.000000e-01 : tensor<2x1x3x3xf32>
// CHECK-NEXT: %[[WDR:.*]] = train.slice %[[WD]] offsets [2, 0, 0, 0] sizes [2, 1, 3, 3] : tensor<4x1x3x3xf32> -> tensor<2x1x3x3xf32>
// CHECK-NEXT: %[[NWD:.*]] = train.concat %[[NWD2]], %[[WDR]] axis 0 : (tensor<2x1x3x3xf32>, tensor<2x1x3x3xf32>) -> tensor<4x1x3x3xf32>
// CHECK-NEXT: %[[NBD:.*]] = train.sgd %[[BD]], %[[DBD]]
// CHECK-NEXT: %[[WP3:.*]] = train.slice %[[WP]] offsets [0, 0, 0, 0] sizes [8, 3, 1, 1]
// CHECK-NEXT: %[[NWP3:.*]] = train.sgd %[[WP3]], %[[DWP]] lr 1.000000e-01 : tensor<8x3x1x1xf32>
// CHECK-NEXT: %[[WPR:.*]] = train.slice %[[WP]] offsets [0, 3, 0, 0] sizes [8, 1, 1, 1]
// CHECK-NEXT: %[[NWP:.*]] = train.concat %[[NWP3]], %[[WPR]] axis 1 : (tensor<8x3x1x1xf32>, tensor<8x1x1x1xf32>) -> tensor<8x4x1x1xf32>
// CHECK: return %{{.*}}, %[[NWD]], %[[NBD]], %[[NWP]], %{{.*}} :

// RAW-LABEL: func.func @train_step(
// RAW: train.conv2d_grad_weight %{{.*}}, %{{.*}} : (tensor<2x8x6x6xf32>, tensor<2x3x6x6xf32>) -> tensor<8x3x1x1xf32>
// RAW: train.conv2d_grad_weight %{{.*}}, %{{.*}} padding [1, 1] groups 2
// RAW-NOT: train.conv2d_grad_weight{{.*}}-> tensor<8x4x1x1xf32>
// RAW: return
func.func @train_step(
    %x: tensor<2x4x6x6xf32> {train.name = "input"},
    %wd: tensor<4x1x3x3xf32> {train.channels = 2 : i64, train.name = "dw.weight", train.role = #train.role<trainable>},
    %bd: tensor<4xf32> {train.name = "dw.bias", train.role = #train.role<trainable>},
    %wp: tensor<8x4x1x1xf32> {train.channels = 3 : i64, train.name = "pw.weight", train.role = #train.role<trainable>},
    %w: tensor<10x288xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
    %labels: tensor<2xi32> {train.name = "labels"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<4x1x3x3xf32> {train.name = "dw.weight", train.updates = 1 : i64},
        tensor<4xf32> {train.name = "dw.bias", train.updates = 2 : i64},
        tensor<8x4x1x1xf32> {train.name = "pw.weight", train.updates = 3 : i64},
        tensor<10x288xf32> {train.name = "fc.weight", train.updates = 4 : i64}) {
  %c1 = train.conv2d %x, %wd, %bd padding [1, 1] groups 4 : (tensor<2x4x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x6x6xf32>
  %a1 = train.relu %c1 : tensor<2x4x6x6xf32>
  %c2 = train.conv2d %a1, %wp : (tensor<2x4x6x6xf32>, tensor<8x4x1x1xf32>) -> tensor<2x8x6x6xf32>
  %f = train.reshape %c2 : tensor<2x8x6x6xf32> -> tensor<2x288xf32>
  %y = train.linear %f, %w : (tensor<2x288xf32>, tensor<10x288xf32>) -> tensor<2x10xf32>
  %loss = train.cross_entropy %y, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  %dy = train.cross_entropy_grad %y, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<2x10xf32>
  %df = train.linear_grad_input %dy, %w : (tensor<2x10xf32>, tensor<10x288xf32>) -> tensor<2x288xf32>
  %dw = train.linear_grad_weight %dy, %f : (tensor<2x10xf32>, tensor<2x288xf32>) -> tensor<10x288xf32>
  %dc2 = train.reshape %df : tensor<2x288xf32> -> tensor<2x8x6x6xf32>
  %da1 = train.conv2d_grad_input %dc2, %wp : (tensor<2x8x6x6xf32>, tensor<8x4x1x1xf32>) -> tensor<2x4x6x6xf32>
  %dwp = train.conv2d_grad_weight %dc2, %a1 : (tensor<2x8x6x6xf32>, tensor<2x4x6x6xf32>) -> tensor<8x4x1x1xf32>
  %dc1 = train.relu_grad %da1, %a1 : tensor<2x4x6x6xf32>
  %dwd = train.conv2d_grad_weight %dc1, %x padding [1, 1] groups 4 : (tensor<2x4x6x6xf32>, tensor<2x4x6x6xf32>) -> tensor<4x1x3x3xf32>
  %dbd = train.bias_grad %dc1 : tensor<2x4x6x6xf32> -> tensor<4xf32>
  %nwd = train.sgd %wd, %dwd lr 0.1 : tensor<4x1x3x3xf32>
  %nbd = train.sgd %bd, %dbd lr 0.1 : tensor<4xf32>
  %wp3 = train.slice %wp offsets [0, 0, 0, 0] sizes [8, 3, 1, 1] : tensor<8x4x1x1xf32> -> tensor<8x3x1x1xf32>
  %dwp3 = train.slice %dwp offsets [0, 0, 0, 0] sizes [8, 3, 1, 1] : tensor<8x4x1x1xf32> -> tensor<8x3x1x1xf32>
  %nwp3 = train.sgd %wp3, %dwp3 lr 0.1 : tensor<8x3x1x1xf32>
  %wp1 = train.slice %wp offsets [0, 3, 0, 0] sizes [8, 1, 1, 1] : tensor<8x4x1x1xf32> -> tensor<8x1x1x1xf32>
  %nwp = train.concat %nwp3, %wp1 axis 1 : (tensor<8x3x1x1xf32>, tensor<8x1x1x1xf32>) -> tensor<8x4x1x1xf32>
  %nw = train.sgd %w, %dw lr 0.1 : tensor<10x288xf32>
  return %loss, %nwd, %nbd, %nwp, %nw : tensor<f32>, tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<8x4x1x1xf32>, tensor<10x288xf32>
}
