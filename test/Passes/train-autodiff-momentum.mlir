// RUN: tcc-opt %s --train-autodiff="optimizer=momentum momentum=0.5 lr=0.1" | FileCheck %s

// optimizer=momentum: one buffer argument per trained parameter, named
// "<param>.momentum" and marked with the parameter's index (train.momentum_of),
// placed after the forward arguments (the labels stay last); the updated buffers are
// returned after the parameters, marked with the buffer's index (train.updates).
// fc1 is bias-only; fc2.weight trains its first 8 input features (train.channels):
// its buffer keeps the parameter's type, its slice is updated like the weight's.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<8x64xf32>,
// CHECK-SAME: %[[B1:[a-z0-9_]+]]: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[W2:[a-z0-9_]+]]: tensor<10x32xf32> {train.channels = 8 : i64, train.name = "fc2.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B2:[a-z0-9_]+]]: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[MB1:[a-z0-9_]+]]: tensor<32xf32> {train.momentum_of = 2 : i64, train.name = "fc1.bias.momentum"},
// CHECK-SAME: %[[MW2:[a-z0-9_]+]]: tensor<10x32xf32> {train.momentum_of = 3 : i64, train.name = "fc2.weight.momentum"},
// CHECK-SAME: %[[MB2:[a-z0-9_]+]]: tensor<10xf32> {train.momentum_of = 4 : i64, train.name = "fc2.bias.momentum"},
// CHECK-SAME: %[[LABELS:[a-z0-9_]+]]: tensor<8xi32> {train.name = "labels"})
// CHECK-SAME: -> (tensor<f32> {train.name = "loss"},
// CHECK-SAME: tensor<32xf32> {train.name = "fc1.bias", train.updates = 2 : i64},
// CHECK-SAME: tensor<10x32xf32> {train.name = "fc2.weight", train.updates = 3 : i64},
// CHECK-SAME: tensor<10xf32> {train.name = "fc2.bias", train.updates = 4 : i64},
// CHECK-SAME: tensor<32xf32> {train.name = "fc1.bias.momentum", train.updates = 5 : i64},
// CHECK-SAME: tensor<10x32xf32> {train.name = "fc2.weight.momentum", train.updates = 6 : i64},
// CHECK-SAME: tensor<10xf32> {train.name = "fc2.bias.momentum", train.updates = 7 : i64})
// CHECK: %[[A:[a-z0-9_]+]] = train.relu
// CHECK-NEXT: %[[A8:[a-z0-9_]+]] = train.slice %[[A]] offsets [0, 0] sizes [8, 8] : tensor<8x32xf32> -> tensor<8x8xf32>
// CHECK: train.cross_entropy_grad
// CHECK: %[[DW2:[a-z0-9_]+]] = train.linear_grad_weight %{{.*}}, %[[A8]] : (tensor<8x10xf32>, tensor<8x8xf32>) -> tensor<10x8xf32>
// CHECK: %[[DB2:[a-z0-9_]+]] = train.bias_grad
// CHECK-NOT: train.linear_grad_weight
// CHECK: %[[DB1:[a-z0-9_]+]] = train.bias_grad
// CHECK-NEXT: %[[NB1:[a-z_0-9]+]], %[[NMB1:[a-z_0-9]+]] = train.sgd_momentum %[[B1]], %[[DB1]], %[[MB1]] lr 1.000000e-01 momentum 5.000000e-01 : tensor<32xf32>
// CHECK-NEXT: %[[W2K:[a-z0-9_]+]] = train.slice %[[W2]] offsets [0, 0] sizes [10, 8]
// CHECK-NEXT: %[[MW2K:[a-z0-9_]+]] = train.slice %[[MW2]] offsets [0, 0] sizes [10, 8]
// CHECK-NEXT: %[[NW2K:[a-z_0-9]+]], %[[NMW2K:[a-z_0-9]+]] = train.sgd_momentum %[[W2K]], %[[DW2]], %[[MW2K]] lr 1.000000e-01 momentum 5.000000e-01 : tensor<10x8xf32>
// CHECK-NEXT: %[[W2R:[a-z0-9_]+]] = train.slice %[[W2]] offsets [0, 8] sizes [10, 24]
// CHECK-NEXT: %[[NW2:[a-z0-9_]+]] = train.concat %[[NW2K]], %[[W2R]] axis 1 : (tensor<10x8xf32>, tensor<10x24xf32>) -> tensor<10x32xf32>
// CHECK-NEXT: %[[MW2R:[a-z0-9_]+]] = train.slice %[[MW2]] offsets [0, 8] sizes [10, 24]
// CHECK-NEXT: %[[NMW2:[a-z0-9_]+]] = train.concat %[[NMW2K]], %[[MW2R]] axis 1
// CHECK-NEXT: %[[NB2:[a-z_0-9]+]], %[[NMB2:[a-z_0-9]+]] = train.sgd_momentum %[[B2]], %[[DB2]], %[[MB2]]
// CHECK-NEXT: return %{{.*}}, %[[NB1]], %[[NW2]], %[[NB2]], %[[NMB1]], %[[NMW2]], %[[NMB2]] :
func.func @forward(
    %x: tensor<8x64xf32>,
    %w1: tensor<32x64xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
    %b1: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
    %w2: tensor<10x32xf32> {train.channels = 8 : i64, train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>})
    -> tensor<8x10xf32> {
  %h = train.linear %x, %w1, %b1
      : (tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %a = train.relu %h : tensor<8x32xf32>
  %y = train.linear %a, %w2, %b2
      : (tensor<8x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<8x10xf32>
  return %y : tensor<8x10xf32>
}
