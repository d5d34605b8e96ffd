// RUN: tcc-opt %s --train-reorder --split-input-file | FileCheck %s
// RUN: tcc-opt %s --pass-pipeline='builtin.module(train-reorder{remat=false})' --split-input-file | FileCheck %s --check-prefix=NOREMAT
// RUN: not tcc-opt %s --pass-pipeline='builtin.module(train-reorder{step=missing})' --split-input-file 2>&1 | FileCheck %s --check-prefix=ERR

// A step that is not there is an error at the module.
// ERR: train-reorder.mlir:{{[0-9]+}}:{{[0-9]+}}: error: no function @missing to reorder
// ERR-NOT: Traceback

// --train-reorder on training steps as --train-autodiff and --train-prune write them:
// the forward pass, the loss, the gradients layer by layer from the last, and every
// optimizer update at the end.

// A 3-layer MLP, every parameter trainable (sgd).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x16xf32> {train.name = "input"},
// CHECK-SAME: %[[W1:[^:]*]]: tensor<32x16xf32>
// CHECK-SAME: %[[B1:[^:]*]]: tensor<32xf32>
// CHECK-SAME: %[[W2:[^:]*]]: tensor<32x32xf32>
// CHECK-SAME: %[[B2:[^:]*]]: tensor<32xf32>
// CHECK-SAME: %[[W3:[^:]*]]: tensor<10x32xf32>
// CHECK-SAME: %[[B3:[^:]*]]: tensor<10xf32>
// CHECK-SAME: %[[LABELS:[^:]*]]: tensor<4xi32>
// The forward pass keeps its order.
// CHECK: %[[H1:.*]] = train.linear %[[X]], %[[W1]], %[[B1]]
// CHECK-NEXT: %[[A1:.*]] = train.relu %[[H1]]
// CHECK-NEXT: %[[H2:.*]] = train.linear %[[A1]], %[[W2]], %[[B2]]
// CHECK-NEXT: %[[A2:.*]] = train.relu %[[H2]]
// CHECK-NEXT: %[[Y:.*]] = train.linear %[[A2]], %[[W3]], %[[B3]]
// CHECK-NEXT: %[[LOSS:.*]] = train.cross_entropy %[[Y]], %[[LABELS]]
// CHECK-NEXT: %[[DY:.*]] = train.cross_entropy_grad %[[Y]], %[[LABELS]]
// Each update right after its gradient: the gradient dies at once and the parameter
// is updated in place.
// CHECK-NEXT: %[[DB3:.*]] = train.bias_grad %[[DY]]
// CHECK-NEXT: %[[NB3:.*]] = train.sgd %[[B3]], %[[DB3]]
// Weight and input gradients interleave: fc2's input gradient and bias update come
// before fc3's weight gradient. fc3's weight is updated (in place) only after its
// input gradient has read it.
// CHECK-NEXT: %[[DA2:.*]] = train.linear_grad_input %[[DY]], %[[W3]]
// CHECK-NEXT: %[[DH2:.*]] = train.relu_grad %[[DA2]], %[[A2]]
// CHECK-NEXT: %[[DB2:.*]] = train.bias_grad %[[DH2]]
// CHECK-NEXT: %[[NB2:.*]] = train.sgd %[[B2]], %[[DB2]]
// CHECK-NEXT: %[[DW3:.*]] = train.linear_grad_weight %[[DY]], %[[A2]]
// CHECK-NEXT: %[[NW3:.*]] = train.sgd %[[W3]], %[[DW3]]
// CHECK-NEXT: %[[DA1:.*]] = train.linear_grad_input %[[DH2]], %[[W2]]
// CHECK-NEXT: %[[DH1:.*]] = train.relu_grad %[[DA1]], %[[A1]]
// CHECK-NEXT: %[[DB1:.*]] = train.bias_grad %[[DH1]]
// CHECK-NEXT: %[[NB1:.*]] = train.sgd %[[B1]], %[[DB1]]
// CHECK-NEXT: %[[DW1:.*]] = train.linear_grad_weight %[[DH1]], %[[X]]
// CHECK-NEXT: %[[NW1:.*]] = train.sgd %[[W1]], %[[DW1]]
// fc2's 32x32 weight gradient is computed last, when the least is live (its inputs,
// 4x32 each, are smaller than it).
// CHECK-NEXT: %[[DW2:.*]] = train.linear_grad_weight %[[DH2]], %[[A1]]
// CHECK-NEXT: %[[NW2:.*]] = train.sgd %[[W2]], %[[DW2]]
// The results are the same values.
// CHECK-NEXT: return %[[LOSS]], %[[NW1]], %[[NB1]], %[[NW2]], %[[NB2]], %[[NW3]], %[[NB3]] :
func.func @train_step(
    %x: tensor<4x16xf32> {train.name = "input"},
    %w1: tensor<32x16xf32> {train.name = "fc1.weight", train.role = #train.role<trainable>},
    %b1: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
    %w2: tensor<32x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<32xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
    %w3: tensor<10x32xf32> {train.name = "fc3.weight", train.role = #train.role<trainable>},
    %b3: tensor<10xf32> {train.name = "fc3.bias", train.role = #train.role<trainable>},
    %labels: tensor<4xi32> {train.name = "labels"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<32x16xf32> {train.name = "fc1.weight", train.updates = 1 : i64},
        tensor<32xf32> {train.name = "fc1.bias", train.updates = 2 : i64},
        tensor<32x32xf32> {train.name = "fc2.weight", train.updates = 3 : i64},
        tensor<32xf32> {train.name = "fc2.bias", train.updates = 4 : i64},
        tensor<10x32xf32> {train.name = "fc3.weight", train.updates = 5 : i64},
        tensor<10xf32> {train.name = "fc3.bias", train.updates = 6 : i64}) {
  %h1 = train.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %a1 = train.relu %h1 : tensor<4x32xf32>
  %h2 = train.linear %a1, %w2, %b2 : (tensor<4x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %a2 = train.relu %h2 : tensor<4x32xf32>
  %y = train.linear %a2, %w3, %b3 : (tensor<4x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  %loss = train.cross_entropy %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<f32>
  %dy = train.cross_entropy_grad %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x10xf32>
  %da2 = train.linear_grad_input %dy, %w3 : (tensor<4x10xf32>, tensor<10x32xf32>) -> tensor<4x32xf32>
  %dw3 = train.linear_grad_weight %dy, %a2 : (tensor<4x10xf32>, tensor<4x32xf32>) -> tensor<10x32xf32>
  %db3 = train.bias_grad %dy : tensor<4x10xf32> -> tensor<10xf32>
  %dh2 = train.relu_grad %da2, %a2 : tensor<4x32xf32>
  %da1 = train.linear_grad_input %dh2, %w2 : (tensor<4x32xf32>, tensor<32x32xf32>) -> tensor<4x32xf32>
  %dw2 = train.linear_grad_weight %dh2, %a1 : (tensor<4x32xf32>, tensor<4x32xf32>) -> tensor<32x32xf32>
  %db2 = train.bias_grad %dh2 : tensor<4x32xf32> -> tensor<32xf32>
  %dh1 = train.relu_grad %da1, %a1 : tensor<4x32xf32>
  %dw1 = train.linear_grad_weight %dh1, %x : (tensor<4x32xf32>, tensor<4x16xf32>) -> tensor<32x16xf32>
  %db1 = train.bias_grad %dh1 : tensor<4x32xf32> -> tensor<32xf32>
  %nw1 = train.sgd %w1, %dw1 lr 0.01 : tensor<32x16xf32>
  %nb1 = train.sgd %b1, %db1 lr 0.01 : tensor<32xf32>
  %nw2 = train.sgd %w2, %dw2 lr 0.01 : tensor<32x32xf32>
  %nb2 = train.sgd %b2, %db2 lr 0.01 : tensor<32xf32>
  %nw3 = train.sgd %w3, %dw3 lr 0.01 : tensor<10x32xf32>
  %nb3 = train.sgd %b3, %db3 lr 0.01 : tensor<10xf32>
  return %loss, %nw1, %nb1, %nw2, %nb2, %nw3, %nb3 : tensor<f32>, tensor<32x16xf32>, tensor<32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<10x32xf32>, tensor<10xf32>
}

// -----

// Momentum: sgd_momentum has two results (the parameter and its momentum buffer),
// both updated in place, right after the gradient; fc1 is frozen (bias only).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x16xf32>
// CHECK-SAME: %[[W1:[^:]*]]: tensor<32x16xf32>
// CHECK-SAME: %[[B1:[^:]*]]: tensor<32xf32>
// CHECK-SAME: %[[W2:[^:]*]]: tensor<10x32xf32>
// CHECK-SAME: %[[B2:[^:]*]]: tensor<10xf32>
// CHECK-SAME: %[[MB1:[^:]*]]: tensor<32xf32> {train.momentum_of = 2 : i64
// CHECK-SAME: %[[MW2:[^:]*]]: tensor<10x32xf32> {train.momentum_of = 3 : i64
// CHECK-SAME: %[[MB2:[^:]*]]: tensor<10xf32> {train.momentum_of = 4 : i64
// CHECK: %[[DY:.*]] = train.cross_entropy_grad
// CHECK-NEXT: %[[DB2:.*]] = train.bias_grad %[[DY]]
// CHECK-NEXT: %[[NB2:[^,]*]], %[[NMB2:[^ ]*]] = train.sgd_momentum %[[B2]], %[[DB2]], %[[MB2]]
// CHECK-NEXT: %[[DA1:.*]] = train.linear_grad_input %[[DY]], %[[W2]]
// CHECK-NEXT: %[[DH1:.*]] = train.relu_grad %[[DA1]]
// CHECK-NEXT: %[[DB1:.*]] = train.bias_grad %[[DH1]]
// CHECK-NEXT: %[[NB1:[^,]*]], %[[NMB1:[^ ]*]] = train.sgd_momentum %[[B1]], %[[DB1]], %[[MB1]]
// CHECK-NEXT: %[[DW2:.*]] = train.linear_grad_weight %[[DY]]
// CHECK-NEXT: %[[NW2:[^,]*]], %[[NMW2:[^ ]*]] = train.sgd_momentum %[[W2]], %[[DW2]], %[[MW2]]
// CHECK-NEXT: return %{{.*}}, %[[NB1]], %[[NW2]], %[[NB2]], %[[NMB1]], %[[NMW2]], %[[NMB2]] :
func.func @train_step(
    %x: tensor<4x16xf32> {train.name = "input"},
    %w1: tensor<32x16xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
    %b1: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
    %w2: tensor<10x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
    %mb1: tensor<32xf32> {train.momentum_of = 2 : i64, train.name = "fc1.bias.momentum"},
    %mw2: tensor<10x32xf32> {train.momentum_of = 3 : i64, train.name = "fc2.weight.momentum"},
    %mb2: tensor<10xf32> {train.momentum_of = 4 : i64, train.name = "fc2.bias.momentum"},
    %labels: tensor<4xi32> {train.name = "labels"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<32xf32> {train.name = "fc1.bias", train.updates = 2 : i64},
        tensor<10x32xf32> {train.name = "fc2.weight", train.updates = 3 : i64},
        tensor<10xf32> {train.name = "fc2.bias", train.updates = 4 : i64},
        tensor<32xf32> {train.name = "fc1.bias.momentum", train.updates = 5 : i64},
        tensor<10x32xf32> {train.name = "fc2.weight.momentum", train.updates = 6 : i64},
        tensor<10xf32> {train.name = "fc2.bias.momentum", train.updates = 7 : i64}) {
  %h1 = train.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  %a1 = train.relu %h1 : tensor<4x32xf32>
  %y = train.linear %a1, %w2, %b2 : (tensor<4x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  %loss = train.cross_entropy %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<f32>
  %dy = train.cross_entropy_grad %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x10xf32>
  %da1 = train.linear_grad_input %dy, %w2 : (tensor<4x10xf32>, tensor<10x32xf32>) -> tensor<4x32xf32>
  %dw2 = train.linear_grad_weight %dy, %a1 : (tensor<4x10xf32>, tensor<4x32xf32>) -> tensor<10x32xf32>
  %db2 = train.bias_grad %dy : tensor<4x10xf32> -> tensor<10xf32>
  %dh1 = train.relu_grad %da1, %a1 : tensor<4x32xf32>
  %db1 = train.bias_grad %dh1 : tensor<4x32xf32> -> tensor<32xf32>
  %nb1, %nmb1 = train.sgd_momentum %b1, %db1, %mb1 lr 0.01 momentum 0.9 : tensor<32xf32>
  %nw2, %nmw2 = train.sgd_momentum %w2, %dw2, %mw2 lr 0.01 momentum 0.9 : tensor<10x32xf32>
  %nb2, %nmb2 = train.sgd_momentum %b2, %db2, %mb2 lr 0.01 momentum 0.9 : tensor<10xf32>
  return %loss, %nb1, %nw2, %nb2, %nmb1, %nmw2, %nmb2 : tensor<f32>, tensor<32xf32>, tensor<10x32xf32>, tensor<10xf32>, tensor<32xf32>, tensor<10x32xf32>, tensor<10xf32>
}

// -----

// Rematerialization: the f32 copy of an int8 input is read by the first layer and,
// much later, by its weight gradient. It is recomputed next to the weight gradient,
// so the int8 input (a quarter of the bytes) is what is kept for backward.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x256x!quant.uniform<i8:f32, 1.250000e-01>>
// CHECK: %[[XF:.*]] = quant.dcast %[[X]]
// CHECK-NEXT: train.linear %[[XF]],
// CHECK: %[[DH:.*]] = train.relu_grad
// CHECK-NEXT: %[[XF2:.*]] = quant.dcast %[[X]]
// CHECK-NEXT: %[[DW:.*]] = train.linear_grad_weight %[[DH]], %[[XF2]]
// CHECK-NEXT: train.sgd %{{.*}}, %[[DW]]
// Without rematerialization the forward's copy is read.
// NOREMAT-LABEL: func.func @train_step(%{{[^:]*}}: tensor<4x256x!quant.uniform
// NOREMAT: %[[XF:.*]] = quant.dcast %
// NOREMAT-NOT: quant.dcast
// NOREMAT: train.linear_grad_weight %{{.*}}, %[[XF]]
func.func @train_step(
    %x: tensor<4x256x!quant.uniform<i8:f32, 0.125>> {train.name = "input"},
    %w1: tensor<64x256xf32> {train.name = "fc1.weight", train.role = #train.role<trainable>},
    %b1: tensor<64xf32> {train.name = "fc1.bias", train.role = #train.role<frozen>},
    %w2: tensor<10x64xf32> {train.name = "fc2.weight", train.role = #train.role<frozen>},
    %b2: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<frozen>},
    %labels: tensor<4xi32> {train.name = "labels"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<64x256xf32> {train.name = "fc1.weight", train.updates = 1 : i64}) {
  %xf = quant.dcast %x : tensor<4x256x!quant.uniform<i8:f32, 0.125>> to tensor<4x256xf32>
  %h = train.linear %xf, %w1, %b1 : (tensor<4x256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  %a = train.relu %h : tensor<4x64xf32>
  %y = train.linear %a, %w2, %b2 : (tensor<4x64xf32>, tensor<10x64xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  %loss = train.cross_entropy %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<f32>
  %dy = train.cross_entropy_grad %y, %labels : tensor<4x10xf32>, tensor<4xi32> -> tensor<4x10xf32>
  %da = train.linear_grad_input %dy, %w2 : (tensor<4x10xf32>, tensor<10x64xf32>) -> tensor<4x64xf32>
  %dh = train.relu_grad %da, %a : tensor<4x64xf32>
  %dw1 = train.linear_grad_weight %dh, %xf : (tensor<4x64xf32>, tensor<4x256xf32>) -> tensor<64x256xf32>
  %nw1 = train.sgd %w1, %dw1 lr 0.01 : tensor<64x256xf32>
  return %loss, %nw1 : tensor<f32>, tensor<64x256xf32>
}
