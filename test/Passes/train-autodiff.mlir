// RUN: tcc-opt %s --train-autodiff="lr=0.05" --split-input-file | FileCheck %s
// RUN: tcc-opt %s --pass-pipeline='builtin.module(train-autodiff{lr=0.05})' --split-input-file | FileCheck %s
// RUN: tcc-opt %s --train-autodiff="lr=0.1 weight-decay=0.001 step=sgd_step" --split-input-file | FileCheck %s --check-prefix=OPTS

// A 64->32->10 MLP (examples/mlp.mlir). The input x needs no gradient, so the
// backward pass stops at the first layer's weight and bias gradients.

// The forward function is kept as it is.
// CHECK-LABEL: func.func @forward(
// CHECK: return

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<8x64xf32>,
// CHECK-SAME: %[[W1:.*]]: tensor<32x64xf32> {train.name = "fc1.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B1:.*]]: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[W2:.*]]: tensor<10x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B2:.*]]: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[LABELS:.*]]: tensor<8xi32> {train.name = "labels"})
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"},
// CHECK-SAME: tensor<32x64xf32> {train.name = "fc1.weight", train.updates = 1 : i64},
// CHECK-SAME: tensor<32xf32> {train.name = "fc1.bias", train.updates = 2 : i64},
// CHECK-SAME: tensor<10x32xf32> {train.name = "fc2.weight", train.updates = 3 : i64},
// CHECK-SAME: tensor<10xf32> {train.name = "fc2.bias", train.updates = 4 : i64})
// Forward.
// CHECK: %[[H:.*]] = train.linear %[[X]], %[[W1]], %[[B1]]
// CHECK: %[[A:.*]] = train.relu %[[H]]
// CHECK: %[[Y:.*]] = train.linear %[[A]], %[[W2]], %[[B2]]
// Loss and its gradient.
// CHECK: %[[LOSS:.*]] = train.cross_entropy %[[Y]], %[[LABELS]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad %[[Y]], %[[LABELS]] : tensor<8x10xf32>, tensor<8xi32> -> tensor<8x10xf32>
// fc2.
// CHECK: %[[DA:.*]] = train.linear_grad_input %[[DY]], %[[W2]] : (tensor<8x10xf32>, tensor<10x32xf32>) -> tensor<8x32xf32>
// CHECK: %[[DW2:.*]] = train.linear_grad_weight %[[DY]], %[[A]] : (tensor<8x10xf32>, tensor<8x32xf32>) -> tensor<10x32xf32>
// CHECK: %[[DB2:.*]] = train.bias_grad %[[DY]] : tensor<8x10xf32> -> tensor<10xf32>
// relu: masked by the relu's output.
// CHECK: %[[DH:.*]] = train.relu_grad %[[DA]], %[[A]] : tensor<8x32xf32>
// fc1: no gradient of x.
// CHECK-NOT: train.linear_grad_input
// CHECK: %[[DW1:.*]] = train.linear_grad_weight %[[DH]], %[[X]] : (tensor<8x32xf32>, tensor<8x64xf32>) -> tensor<32x64xf32>
// CHECK-NOT: train.linear_grad_input
// CHECK: %[[DB1:.*]] = train.bias_grad %[[DH]] : tensor<8x32xf32> -> tensor<32xf32>
// CHECK-NOT: train.linear_grad_input
// One SGD update per parameter, in argument order.
// CHECK: %[[NW1:.*]] = train.sgd %[[W1]], %[[DW1]] lr 5.000000e-02 : tensor<32x64xf32>
// CHECK: %[[NB1:.*]] = train.sgd %[[B1]], %[[DB1]] lr 5.000000e-02 : tensor<32xf32>
// CHECK: %[[NW2:.*]] = train.sgd %[[W2]], %[[DW2]] lr 5.000000e-02 : tensor<10x32xf32>
// CHECK: %[[NB2:.*]] = train.sgd %[[B2]], %[[DB2]] lr 5.000000e-02 : tensor<10xf32>
// CHECK: return %[[LOSS]], %[[NW1]], %[[NB1]], %[[NW2]], %[[NB2]] : tensor<f32>, tensor<32x64xf32>, tensor<32xf32>, tensor<10x32xf32>, tensor<10xf32>

// The step name, learning rate and weight decay are options.
// OPTS-LABEL: func.func @sgd_step(
// OPTS-COUNT-4: train.sgd {{.*}} lr 1.000000e-01 weight_decay 1.000000e-03
// OPTS: return
func.func @forward(
    %x: tensor<8x64xf32>,
    %w1: tensor<32x64xf32> {train.name = "fc1.weight", train.role = #train.role<trainable>},
    %b1: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
    %w2: tensor<10x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>})
    -> tensor<8x10xf32> {
  %h = train.linear %x, %w1, %b1
      : (tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %a = train.relu %h : tensor<8x32xf32>
  %y = train.linear %a, %w2, %b2
      : (tensor<8x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<8x10xf32>
  return %y : tensor<8x10xf32>
}

// -----

// A small CNN whose conv is frozen: only the linear layer is trained, so no
// gradient flows into the conv.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x1x8x8xf32>,
// CHECK-SAME: %[[WC:.*]]: tensor<4x1x3x3xf32> {train.name = "conv.weight", train.role = #train.role<frozen>},
// CHECK-SAME: %[[BC:.*]]: tensor<4xf32> {train.name = "conv.bias", train.role = #train.role<frozen>},
// CHECK-SAME: %[[W:.*]]: tensor<10x64xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B:.*]]: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>},
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"},
// CHECK-SAME: tensor<10x64xf32> {train.name = "fc.weight", train.updates = 3 : i64},
// CHECK-SAME: tensor<10xf32> {train.name = "fc.bias", train.updates = 4 : i64})
// CHECK: %[[C:.*]] = train.conv2d %[[X]], %[[WC]], %[[BC]] stride [2, 2] padding [1, 1]
// CHECK: %[[A:.*]] = train.relu %[[C]]
// CHECK: %[[F:.*]] = train.reshape %[[A]] : tensor<4x4x4x4xf32> -> tensor<4x64xf32>
// CHECK: %[[Y:.*]] = train.linear %[[F]], %[[W]], %[[B]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad %[[Y]]
// CHECK-NOT: train.linear_grad_input
// CHECK-NOT: train.conv2d_grad
// CHECK: %[[DW:.*]] = train.linear_grad_weight %[[DY]], %[[F]]
// CHECK: %[[DB:.*]] = train.bias_grad %[[DY]]
// CHECK-NOT: train.conv2d_grad
// CHECK: train.sgd %[[W]], %[[DW]] lr 5.000000e-02
// CHECK: train.sgd %[[B]], %[[DB]] lr 5.000000e-02
// CHECK-NOT: train.sgd
// CHECK: return
func.func @forward(
    %x: tensor<4x1x8x8xf32>,
    %wc: tensor<4x1x3x3xf32> {train.name = "conv.weight", train.role = #train.role<frozen>},
    %bc: tensor<4xf32> {train.name = "conv.bias", train.role = #train.role<frozen>},
    %w: tensor<10x64xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
    %b: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %c = train.conv2d %x, %wc, %bc stride [2, 2] padding [1, 1]
      : (tensor<4x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<4x4x4x4xf32>
  %a = train.relu %c : tensor<4x4x4x4xf32>
  %f = train.reshape %a : tensor<4x4x4x4xf32> -> tensor<4x64xf32>
  %y = train.linear %f, %w, %b
      : (tensor<4x64xf32>, tensor<10x64xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}

// -----

// The same CNN with a trainable conv: its weight gradient keeps the conv's
// geometry; the input x needs no gradient, so there is no conv2d_grad_input.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x1x8x8xf32>,
// CHECK-SAME: %[[WC:.*]]: tensor<4x1x3x3xf32> {train.name = "conv.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[BC:.*]]: tensor<4xf32> {train.name = "conv.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[W:.*]]: tensor<10x64xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B:.*]]: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>},
// CHECK-SAME: tensor<4x1x3x3xf32> {train.name = "conv.weight", train.updates = 1 : i64},
// CHECK-SAME: tensor<4xf32> {train.name = "conv.bias", train.updates = 2 : i64},
// CHECK: %[[C:.*]] = train.conv2d %[[X]], %[[WC]], %[[BC]] stride [2, 2] padding [1, 1]
// CHECK: %[[A:.*]] = train.relu %[[C]]
// CHECK: %[[F:.*]] = train.reshape %[[A]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad
// CHECK: %[[DF:.*]] = train.linear_grad_input %[[DY]], %[[W]]
// The reshape's gradient is a reshape back to the conv's output shape.
// CHECK: %[[DA:.*]] = train.reshape %[[DF]] : tensor<4x64xf32> -> tensor<4x4x4x4xf32>
// CHECK: %[[DC:.*]] = train.relu_grad %[[DA]], %[[A]] : tensor<4x4x4x4xf32>
// CHECK-NOT: train.conv2d_grad_input
// CHECK: %[[DWC:.*]] = train.conv2d_grad_weight %[[DC]], %[[X]] stride [2, 2] padding [1, 1] : (tensor<4x4x4x4xf32>, tensor<4x1x8x8xf32>) -> tensor<4x1x3x3xf32>
// CHECK: %[[DBC:.*]] = train.bias_grad %[[DC]] : tensor<4x4x4x4xf32> -> tensor<4xf32>
// CHECK-NOT: train.conv2d_grad_input
// CHECK: train.sgd %[[WC]], %[[DWC]] lr 5.000000e-02 : tensor<4x1x3x3xf32>
// CHECK: train.sgd %[[BC]], %[[DBC]] lr 5.000000e-02 : tensor<4xf32>
// CHECK: return
func.func @forward(
    %x: tensor<4x1x8x8xf32>,
    %wc: tensor<4x1x3x3xf32> {train.name = "conv.weight", train.role = #train.role<trainable>},
    %bc: tensor<4xf32> {train.name = "conv.bias", train.role = #train.role<trainable>},
    %w: tensor<10x64xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
    %b: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %c = train.conv2d %x, %wc, %bc stride [2, 2] padding [1, 1]
      : (tensor<4x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<4x4x4x4xf32>
  %a = train.relu %c : tensor<4x4x4x4xf32>
  %f = train.reshape %a : tensor<4x4x4x4xf32> -> tensor<4x64xf32>
  %y = train.linear %f, %w, %b
      : (tensor<4x64xf32>, tensor<10x64xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}

// -----

// A residual connection: %h is used by the relu and by the add, so its two
// gradients are accumulated with train.add. Unnamed parameters are named
// after their argument.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x16xf32>,
// CHECK-SAME: %[[W1:.*]]: tensor<16x16xf32> {train.role = #train.role<trainable>},
// CHECK-SAME: %[[W2:.*]]: tensor<10x16xf32> {train.role = #train.role<trainable>},
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"},
// CHECK-SAME: tensor<16x16xf32> {train.name = "arg1", train.updates = 1 : i64},
// CHECK-SAME: tensor<10x16xf32> {train.name = "arg2", train.updates = 2 : i64})
// CHECK: %[[H:.*]] = train.linear %[[X]], %[[W1]]
// CHECK: %[[A:.*]] = train.relu %[[H]]
// CHECK: %[[S:.*]] = train.add %[[A]], %[[H]]
// CHECK: %[[Y:.*]] = train.linear %[[S]], %[[W2]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad %[[Y]]
// CHECK: %[[DS:.*]] = train.linear_grad_input %[[DY]], %[[W2]]
// CHECK: %[[DW2:.*]] = train.linear_grad_weight %[[DY]], %[[S]]
// The add passes %[[DS]] to both of its operands; the relu masks one of them.
// CHECK: %[[DR:.*]] = train.relu_grad %[[DS]], %[[A]]
// CHECK: %[[DH:.*]] = train.add %[[DS]], %[[DR]] : tensor<4x16xf32>
// CHECK: %[[DW1:.*]] = train.linear_grad_weight %[[DH]], %[[X]]
// CHECK: %[[NW1:.*]] = train.sgd %[[W1]], %[[DW1]] lr 5.000000e-02
// CHECK: %[[NW2:.*]] = train.sgd %[[W2]], %[[DW2]] lr 5.000000e-02
// CHECK: return %{{.*}}, %[[NW1]], %[[NW2]]
func.func @forward(
    %x: tensor<4x16xf32>,
    %w1: tensor<16x16xf32> {train.role = #train.role<trainable>},
    %w2: tensor<10x16xf32> {train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %h = train.linear %x, %w1 : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %a = train.relu %h : tensor<4x16xf32>
  %s = train.add %a, %h : tensor<4x16xf32>
  %y = train.linear %s, %w2 : (tensor<4x16xf32>, tensor<10x16xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}

// -----

// Frozen parameters get no update and no gradient; a value that is used
// twice by one op (%w as both operands of train.add) still accumulates.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x10xf32>,
// CHECK-SAME: %[[F:.*]]: tensor<10x10xf32> {train.role = #train.role<frozen>},
// CHECK-SAME: %[[W:.*]]: tensor<10x10xf32> {train.role = #train.role<trainable>},
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"}, tensor<10x10xf32> {train.name = "arg2", train.updates = 2 : i64})
// CHECK: %[[H:.*]] = train.linear %[[X]], %[[F]]
// CHECK: %[[V:.*]] = train.add %[[W]], %[[W]]
// CHECK: %[[Y:.*]] = train.linear %[[H]], %[[V]]
// CHECK: %[[DY:.*]] = train.cross_entropy_grad %[[Y]]
// CHECK-NOT: train.linear_grad_input
// CHECK: %[[DV:.*]] = train.linear_grad_weight %[[DY]], %[[H]]
// CHECK-NOT: train.linear_grad_input
// CHECK: %[[DW:.*]] = train.add %[[DV]], %[[DV]]
// CHECK: %[[NW:.*]] = train.sgd %[[W]], %[[DW]]
// CHECK: return %{{.*}}, %[[NW]] : tensor<f32>, tensor<10x10xf32>
func.func @forward(
    %x: tensor<4x10xf32>,
    %f: tensor<10x10xf32> {train.role = #train.role<frozen>},
    %w: tensor<10x10xf32> {train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %h = train.linear %x, %f : (tensor<4x10xf32>, tensor<10x10xf32>) -> tensor<4x10xf32>
  %v = train.add %w, %w : tensor<10x10xf32>
  %y = train.linear %h, %v : (tensor<4x10xf32>, tensor<10x10xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}
