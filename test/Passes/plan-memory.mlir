// RUN: tcc-opt %s --split-input-file --plan-memory | FileCheck %s
// RUN: tcc-opt %s --split-input-file --plan-memory="inplace-elementwise=false" | FileCheck %s --check-prefix=NOEW
// RUN: tcc-opt %s --split-input-file --plan-memory="alignment=64" | FileCheck %s --check-prefix=ALIGN

// --plan-memory writes the arena plan into the IR: the module's arena size and
// alignment, train.offset on the arguments in the arena, train.offsets on every op
// (-1: no storage). Offsets of intermediates are the planner's choice, so the checks
// pin what must hold: the parameters at the bottom in argument order, in-place
// results at their operand's offset, frozen parameters out of the arena.

// A training step as --train-reorder leaves it: each update right after its
// gradient, so every SGD update is in place.
// CHECK: module attributes {train.arena_alignment = 16 : i64, train.arena_size = {{[0-9]+}} : i64}
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<4x16xf32> {train.name = "input", train.offset = [[XOFF:[0-9]+]] : i64},
// The frozen weight stays out of the arena (flash).
// CHECK-SAME: %[[W1:[a-z0-9_]+]]: tensor<8x16xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
// CHECK-SAME: %[[W2:[a-z0-9_]+]]: tensor<4x8xf32> {train.name = "fc2.weight", train.offset = 0 : i64, train.role = #train.role<trainable>},
// CHECK-SAME: %[[B2:[a-z0-9_]+]]: tensor<4xf32> {train.name = "fc2.bias", train.offset = 128 : i64, train.role = #train.role<trainable>},
// CHECK-SAME: %[[L:[a-z0-9_]+]]: tensor<4xi32> {train.name = "labels", train.offset = {{[0-9]+}} : i64})
// CHECK: %[[H:.*]] = train.linear %[[X]], %[[W1]] {train.offsets = array<i64: [[HOFF:[0-9]+]]>}
// The relu overwrites its input, which nothing reads afterwards.
// CHECK-NEXT: %[[A:.*]] = train.relu %[[H]] {train.offsets = array<i64: [[HOFF]]>}
// CHECK: %[[DB:.*]] = train.bias_grad
// CHECK-NEXT: %[[B2N:.*]] = train.sgd %[[B2]], %[[DB]] lr {{.*}} {train.offsets = array<i64: 128>}
// CHECK: %[[DW:.*]] = train.linear_grad_weight
// CHECK-NEXT: %[[W2N:.*]] = train.sgd %[[W2]], %[[DW]] lr {{.*}} {train.offsets = array<i64: 0>}
// CHECK-NEXT: return %{{.*}}, %[[W2N]], %[[B2N]] :

// Without element-wise reuse the relu gets storage of its own; updates stay in place.
// NOEW-LABEL: func.func @train_step(
// NOEW: train.linear %{{.*}} {train.offsets = array<i64: [[HOFF:[0-9]+]]>}
// NOEW-NOT: train.relu %{{.*}} {train.offsets = array<i64: [[HOFF]]>}
// NOEW: train.sgd %{{.*}} {train.offsets = array<i64: 128>}
// NOEW: train.sgd %{{.*}} {train.offsets = array<i64: 0>}

// ALIGN: module attributes {train.arena_alignment = 64 : i64
// ALIGN-LABEL: func.func @train_step(
// ALIGN-SAME: {train.name = "fc2.bias", train.offset = 128 : i64
func.func @train_step(
    %x: tensor<4x16xf32> {train.name = "input"},
    %w1: tensor<8x16xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
    %w2: tensor<4x8xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<4xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
    %labels: tensor<4xi32> {train.name = "labels"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<4x8xf32> {train.name = "fc2.weight", train.updates = 2 : i64},
        tensor<4xf32> {train.name = "fc2.bias", train.updates = 3 : i64}) {
  %h = train.linear %x, %w1 : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  %a = train.relu %h : tensor<4x8xf32>
  %y = train.linear %a, %w2, %b2 : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  %loss = train.cross_entropy %y, %labels : tensor<4x4xf32>, tensor<4xi32> -> tensor<f32>
  %dy = train.cross_entropy_grad %y, %labels : tensor<4x4xf32>, tensor<4xi32> -> tensor<4x4xf32>
  %db = train.bias_grad %dy : tensor<4x4xf32> -> tensor<4xf32>
  %b2n = train.sgd %b2, %db lr 0.1 : tensor<4xf32>
  %dw = train.linear_grad_weight %dy, %a : (tensor<4x4xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %w2n = train.sgd %w2, %dw lr 0.1 : tensor<4x8xf32>
  return %loss, %w2n, %b2n : tensor<f32>, tensor<4x8xf32>, tensor<4xf32>
}

// -----

// The parameter is read after its update (no --train-reorder): the update cannot be
// in place; it gets storage of its own (a code generator copies it back at the end).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[a-z0-9_]+]]: tensor<8x8xf32> {train.name = "w", train.offset = 0 : i64, train.role = #train.role<trainable>})
// CHECK: %[[WN:.*]] = train.sgd %[[W]], %{{.*}} lr {{.*}} {train.offsets = array<i64: {{[1-9][0-9]*}}>}
// CHECK-NEXT: train.linear %{{.*}}, %[[W]] {train.offsets = array<i64: {{[0-9]+}}>}
func.func @train_step(
    %x: tensor<4x8xf32> {train.name = "input"},
    %w: tensor<8x8xf32> {train.name = "w", train.role = #train.role<trainable>})
    -> (tensor<4x8xf32> {train.name = "out"},
        tensor<8x8xf32> {train.name = "w", train.updates = 1 : i64}) {
  %g = train.linear_grad_weight %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<8x8xf32>
  %wn = train.sgd %w, %g lr 0.1 : tensor<8x8xf32>
  %y = train.linear %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  return %y, %wn : tensor<4x8xf32>, tensor<8x8xf32>
}

// -----

// Momentum: both results of sgd_momentum in place. A value computed from frozen
// parameters alone (the transpose of a frozen weight) has no storage (-1). The add
// reads a trainable parameter for the last time but must not overwrite it: it
// overwrites the data input instead.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<2x8xf32> {train.name = "input", train.offset = [[XOFF:[0-9]+]] : i64},
// CHECK-SAME: %[[P:[a-z0-9_]+]]: tensor<2x8xf32> {train.name = "pos", train.offset = 0 : i64, train.role = #train.role<trainable>},
// CHECK-SAME: %[[W:[a-z0-9_]+]]: tensor<4x8xf32> {train.name = "w", train.role = #train.role<frozen>},
// CHECK-SAME: %[[M:[a-z0-9_]+]]: tensor<2x8xf32> {train.momentum_of = 1 : i64, train.name = "pos.momentum", train.offset = 64 : i64},
// CHECK: train.transpose %[[W]] permutation [1, 0] {train.offsets = array<i64: -1>}
// CHECK-NEXT: %[[H:.*]] = train.add %[[X]], %[[P]] {train.offsets = array<i64: [[XOFF]]>}
// CHECK: %[[PN:.*]], %[[MN:.*]] = train.sgd_momentum %[[P]], %{{.*}}, %[[M]] lr {{.*}} {train.offsets = array<i64: 0, 64>}
// CHECK-NEXT: return %{{.*}}, %[[PN]], %[[MN]] :
func.func @train_step(
    %x: tensor<2x8xf32> {train.name = "input"},
    %p: tensor<2x8xf32> {train.name = "pos", train.role = #train.role<trainable>},
    %w: tensor<4x8xf32> {train.name = "w", train.role = #train.role<frozen>},
    %m: tensor<2x8xf32> {train.name = "pos.momentum", train.momentum_of = 1 : i64},
    %target: tensor<2x4xf32> {train.name = "target"})
    -> (tensor<f32> {train.name = "loss"},
        tensor<2x8xf32> {train.name = "pos", train.updates = 1 : i64},
        tensor<2x8xf32> {train.name = "pos.momentum", train.updates = 3 : i64}) {
  %t = train.transpose %w permutation [1, 0] : tensor<4x8xf32> -> tensor<8x4xf32>
  %h = train.add %x, %p : tensor<2x8xf32>
  %a = train.relu %h : tensor<2x8xf32>
  %y = train.matmul %a, %t : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  %l = train.mse %y, %target : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
  %dy = train.mse_grad %y, %target : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %da = train.matmul %dy, %w : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
  %dh = train.relu_grad %da, %a : tensor<2x8xf32>
  %pn, %mn = train.sgd_momentum %p, %dh, %m lr 0.1 momentum 0.9 : tensor<2x8xf32>
  return %l, %pn, %mn : tensor<f32>, tensor<2x8xf32>, tensor<2x8xf32>
}
