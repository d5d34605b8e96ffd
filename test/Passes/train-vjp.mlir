// RUN: tcc-opt %s --train-vjp --split-input-file | FileCheck %s
// RUN: tcc-opt %s --pass-pipeline='builtin.module(train-vjp{wrt=0,1})' --split-input-file | FileCheck %s --check-prefix=WRT

// A 64->32->10 MLP whose first weight is frozen. @forward_primal returns the logits and
// the one activation the backward reads (relu's output); @forward_vjp takes the weights it
// multiplies by as they are, and computes no gradient of the frozen weight, nor of x.

// CHECK-LABEL: func.func @forward(
// CHECK-LABEL: func.func @forward_primal(
// CHECK-SAME: %[[X:.*]]: tensor<8x64xf32>,
// CHECK-SAME: %[[W1:.*]]: tensor<32x64xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
// CHECK-SAME: %[[B1:.*]]: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
// CHECK-SAME: %[[W2:.*]]: tensor<10x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
// CHECK-SAME: %[[B2:.*]]: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>})
// CHECK-SAME: -> (tensor<8x10xf32>, tensor<8x32xf32> {train.name = "saved0"})
// CHECK: %[[H:.*]] = train.linear %[[X]], %[[W1]], %[[B1]]
// CHECK: %[[A:.*]] = train.relu %[[H]]
// CHECK: %[[Y:.*]] = train.linear %[[A]], %[[W2]], %[[B2]]
// CHECK: return %[[Y]], %[[A]] : tensor<8x10xf32>, tensor<8x32xf32>

// CHECK-LABEL: func.func @forward_vjp(
// CHECK-SAME: %[[SW2:.*]]: tensor<10x32xf32> {vjp.saved_arg = 3 : i64},
// CHECK-SAME: %[[SA:.*]]: tensor<8x32xf32> {vjp.saved_result = 1 : i64},
// CHECK-SAME: %[[DY:.*]]: tensor<8x10xf32> {vjp.grad_of_result = 0 : i64})
// CHECK-SAME: -> (tensor<32xf32> {train.name = "grad(fc1.bias)", vjp.grad_of = 2 : i64},
// CHECK-SAME: tensor<10x32xf32> {train.name = "grad(fc2.weight)", vjp.grad_of = 3 : i64},
// CHECK-SAME: tensor<10xf32> {train.name = "grad(fc2.bias)", vjp.grad_of = 4 : i64})
// CHECK-NOT: train.linear %
// CHECK-DAG: %[[DA:.*]] = train.linear_grad_input %[[DY]], %[[SW2]]
// CHECK-DAG: %[[DW2:.*]] = train.linear_grad_weight %[[DY]], %[[SA]]
// CHECK-DAG: %[[DB2:.*]] = train.bias_grad %[[DY]] : tensor<8x10xf32>
// CHECK: %[[DH:.*]] = train.relu_grad %[[DA]], %[[SA]]
// CHECK-NOT: train.linear_grad_weight
// CHECK-NOT: train.linear_grad_input
// CHECK: %[[DB1:.*]] = train.bias_grad %[[DH]] : tensor<8x32xf32>
// CHECK: return %[[DB1]], %[[DW2]], %[[DB2]]

// wrt=0,1: the gradients of the input and of fc1.weight (named explicitly, so its
// frozen role does not matter); no bias gradient, and no gradient of fc2.weight.
// WRT-LABEL: func.func @forward_vjp(
// WRT-SAME: %[[X:.*]]: tensor<8x64xf32> {vjp.saved_arg = 0 : i64},
// WRT-SAME: %[[W1:.*]]: tensor<32x64xf32> {vjp.saved_arg = 1 : i64},
// WRT-SAME: %[[W2:.*]]: tensor<10x32xf32> {vjp.saved_arg = 3 : i64},
// WRT-SAME: %[[A:.*]]: tensor<8x32xf32> {vjp.saved_result = 1 : i64},
// WRT-SAME: %[[DY:.*]]: tensor<8x10xf32> {vjp.grad_of_result = 0 : i64})
// WRT-SAME: -> (tensor<8x64xf32> {train.name = "grad(arg0)", vjp.grad_of = 0 : i64},
// WRT-SAME: tensor<32x64xf32> {train.name = "grad(fc1.weight)", vjp.grad_of = 1 : i64})
// WRT-NOT: train.bias_grad
// WRT: %[[DA:.*]] = train.linear_grad_input %[[DY]], %[[W2]]
// WRT-NOT: train.linear_grad_weight %[[DY]]
// WRT: %[[DH:.*]] = train.relu_grad %[[DA]], %[[A]]
// WRT-DAG: %[[DX:.*]] = train.linear_grad_input %[[DH]], %[[W1]]
// WRT-DAG: %[[DW1:.*]] = train.linear_grad_weight %[[DH]], %[[X]]
// WRT: return %[[DX]], %[[DW1]]
func.func @forward(
    %x: tensor<8x64xf32>,
    %w1: tensor<32x64xf32> {train.name = "fc1.weight", train.role = #train.role<frozen>},
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

// Two results: only the one that depends on %w gets a gradient argument; a constant the
// backward multiplies by moves into @forward_vjp instead of being saved; %unused reaches
// no result and gets no gradient; a value used twice has its gradients summed.

// CHECK-LABEL: func.func @forward_primal(
// CHECK-SAME: -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32> {train.name = "saved0"})
// CHECK: %[[C:.*]] = arith.constant dense<5.000000e-01> : tensor<4x8xf32>
// CHECK: %[[M:.*]] = train.mul %[[W:.*]], %[[C]]
// CHECK: %[[S:.*]] = train.sigmoid %[[M]]
// CHECK: %[[P:.*]] = train.mul %[[S]], %[[S]]
// CHECK: return %[[X:.*]], %[[P]], %[[S]]

// CHECK-LABEL: func.func @forward_vjp(
// CHECK-SAME: %[[SS:.*]]: tensor<4x8xf32> {vjp.saved_result = 2 : i64},
// CHECK-SAME: %[[DP:.*]]: tensor<4x8xf32> {vjp.grad_of_result = 1 : i64})
// CHECK-SAME: -> (tensor<4x8xf32> {train.name = "grad(w)", vjp.grad_of = 1 : i64})
// CHECK: %[[HALF:.*]] = arith.constant dense<5.000000e-01>
// CHECK: %[[G1:.*]] = train.mul %[[DP]], %[[SS]]
// CHECK: %[[G2:.*]] = train.mul %[[DP]], %[[SS]]
// CHECK: %[[DS:.*]] = train.add %[[G1]], %[[G2]]
// CHECK: %[[DM:.*]] = train.sigmoid_grad %[[DS]], %[[SS]]
// CHECK: %[[DW:.*]] = train.mul %[[DM]], %[[HALF]]
// CHECK: return %[[DW]] : tensor<4x8xf32>
// wrt=0,1: result #0 is the argument %x itself; its gradient is the result's.
// WRT-LABEL: func.func @forward_vjp(
// WRT-SAME: %[[SS:.*]]: tensor<4x8xf32> {vjp.saved_result = 2 : i64},
// WRT-SAME: %[[DX:.*]]: tensor<4x8xf32> {vjp.grad_of_result = 0 : i64},
// WRT-SAME: %[[DP:.*]]: tensor<4x8xf32> {vjp.grad_of_result = 1 : i64})
// WRT: return %[[DX]], %[[DW:.*]] : tensor<4x8xf32>, tensor<4x8xf32>
func.func @forward(%x: tensor<4x8xf32>,
                   %w: tensor<4x8xf32> {train.name = "w", train.role = #train.role<trainable>},
                   %unused: tensor<4x8xf32> {train.name = "unused", train.role = #train.role<trainable>})
    -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c = arith.constant dense<0.5> : tensor<4x8xf32>
  %m = train.mul %w, %c : tensor<4x8xf32>
  %s = train.sigmoid %m : tensor<4x8xf32>
  %p = train.mul %s, %s : tensor<4x8xf32>
  return %x, %p : tensor<4x8xf32>, tensor<4x8xf32>
}
