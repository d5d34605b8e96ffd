// RUN: tcc-opt %s | tcc-opt | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip

// Round trip of the float inference ops (matmul ... mse): custom form ->
// custom form, and custom -> generic -> custom gives byte-identical output.

// The module names its weights file.
// CHECK: module attributes {train.weights = "model.npz"}
module attributes {train.weights = "model.npz"} {

// CHECK-LABEL: func.func @matmul(
// CHECK-SAME: %[[A:.*]]: tensor<2x4x8xf32>, %[[B:.*]]: tensor<2x8x5xf32>, %[[C:.*]]: tensor<4x8xf32>, %[[D:.*]]: tensor<8x3xf32>)
func.func @matmul(%a: tensor<2x4x8xf32>, %b: tensor<2x8x5xf32>, %c: tensor<4x8xf32>,
                  %d: tensor<8x3xf32>) -> (tensor<2x4x5xf32>, tensor<4x3xf32>) {
  // CHECK: train.matmul %[[A]], %[[B]] : (tensor<2x4x8xf32>, tensor<2x8x5xf32>) -> tensor<2x4x5xf32>
  %0 = train.matmul %a, %b : (tensor<2x4x8xf32>, tensor<2x8x5xf32>) -> tensor<2x4x5xf32>
  // Rank 2: no batch dimensions.
  // CHECK: train.matmul %[[C]], %[[D]] : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %1 = train.matmul %c, %d : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  return %0, %1 : tensor<2x4x5xf32>, tensor<4x3xf32>
}

// CHECK-LABEL: func.func @elementwise(
// CHECK-SAME: %[[X:.*]]: tensor<4x8xf32>, %[[Y:.*]]: tensor<4x8xf32>)
func.func @elementwise(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
        tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK: %[[MUL:.*]] = train.mul %[[X]], %[[Y]] : tensor<4x8xf32>
  %0 = train.mul %x, %y : tensor<4x8xf32>
  // relu6.
  // CHECK: train.clamp %[[MUL]] min 0.000000e+00 max 6.000000e+00 : tensor<4x8xf32>
  %1 = train.clamp %0 min 0.0 max 6.0 : tensor<4x8xf32>
  // Equal bounds are allowed.
  // CHECK: train.clamp %[[X]] min -1.500000e+00 max -1.500000e+00 : tensor<4x8xf32>
  %2 = train.clamp %x min -1.5 max -1.5 : tensor<4x8xf32>
  // CHECK: train.hardswish %[[X]] : tensor<4x8xf32>
  %3 = train.hardswish %x : tensor<4x8xf32>
  // CHECK: train.sigmoid %[[X]] : tensor<4x8xf32>
  %4 = train.sigmoid %x : tensor<4x8xf32>
  // CHECK: train.gelu %[[X]] : tensor<4x8xf32>
  %5 = train.gelu %x : tensor<4x8xf32>
  // CHECK: train.gelu %[[X]] tanh : tensor<4x8xf32>
  %6 = train.gelu %x tanh : tensor<4x8xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
      tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// CHECK-LABEL: func.func @broadcast(
// CHECK-SAME: %[[B:.*]]: tensor<1x8x1x1xf32>, %[[V:.*]]: tensor<5xf32>)
func.func @broadcast(%b: tensor<1x8x1x1xf32>, %v: tensor<5xf32>)
    -> (tensor<4x8x5x5xf32>, tensor<4x8x5x5xf32>) {
  // CHECK: train.broadcast %[[B]] : tensor<1x8x1x1xf32> -> tensor<4x8x5x5xf32>
  %0 = train.broadcast %b : tensor<1x8x1x1xf32> -> tensor<4x8x5x5xf32>
  // Lower rank: aligned with the trailing dimensions.
  // CHECK: train.broadcast %[[V]] : tensor<5xf32> -> tensor<4x8x5x5xf32>
  %1 = train.broadcast %v : tensor<5xf32> -> tensor<4x8x5x5xf32>
  return %0, %1 : tensor<4x8x5x5xf32>, tensor<4x8x5x5xf32>
}

// CHECK-LABEL: func.func @pooling(
// CHECK-SAME: %[[X:.*]]: tensor<1x8x8x8xf32>)
func.func @pooling(%x: tensor<1x8x8x8xf32>)
    -> (tensor<1x8x5x5xf32>, tensor<1x8x7x7xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>,
        tensor<1x8x1x1xf32>) {
  // CHECK: train.avg_pool2d %[[X]] kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad : (tensor<1x8x8x8xf32>) -> tensor<1x8x5x5xf32>
  %0 = train.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad
      : (tensor<1x8x8x8xf32>) -> tensor<1x8x5x5xf32>
  // Default stride and padding are elided.
  // CHECK: train.avg_pool2d %[[X]] kernel [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32>
  %1 = train.avg_pool2d %x kernel [2, 2] stride [1, 1] padding [0, 0]
      : (tensor<1x8x8x8xf32>) -> tensor<1x8x7x7xf32>
  // CHECK: train.max_pool2d %[[X]] kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
  %2 = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
  // CHECK: train.max_pool2d %[[X]] kernel [2, 2] stride [2, 2] : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
  %3 = train.max_pool2d %x kernel [2, 2] stride [2, 2]
      : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
  // CHECK: train.global_avg_pool %[[X]] : tensor<1x8x8x8xf32> -> tensor<1x8x1x1xf32>
  %4 = train.global_avg_pool %x : tensor<1x8x8x8xf32> -> tensor<1x8x1x1xf32>
  return %0, %1, %2, %3, %4 : tensor<1x8x5x5xf32>, tensor<1x8x7x7xf32>, tensor<1x8x4x4xf32>,
      tensor<1x8x4x4xf32>, tensor<1x8x1x1xf32>
}

// CHECK-LABEL: func.func @layout(
// CHECK-SAME: %[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<4x2xf32>, %[[T:.*]]: tensor<2x3x4xf32>)
func.func @layout(%a: tensor<4x8xf32>, %b: tensor<4x2xf32>, %t: tensor<2x3x4xf32>)
    -> (tensor<4x10xf32>, tensor<4x8xf32>, tensor<4x3x2xf32>) {
  // CHECK: train.concat %[[A]], %[[B]] axis 1 : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x10xf32>
  %0 = train.concat %a, %b axis 1 : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x10xf32>
  // A single operand is a copy.
  // CHECK: train.concat %[[A]] axis 0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = train.concat %a axis 0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: train.transpose %[[T]] permutation [2, 1, 0] : tensor<2x3x4xf32> -> tensor<4x3x2xf32>
  %2 = train.transpose %t permutation [2, 1, 0] : tensor<2x3x4xf32> -> tensor<4x3x2xf32>
  return %0, %1, %2 : tensor<4x10xf32>, tensor<4x8xf32>, tensor<4x3x2xf32>
}

// CHECK-LABEL: func.func @normalization(
// CHECK-SAME: %[[X:.*]]: tensor<2x8x4x4xf32>, %[[C:.*]]: tensor<8xf32>, %[[S:.*]]: tensor<2x5x16xf32>, %[[W:.*]]: tensor<5x16xf32>)
func.func @normalization(%x: tensor<2x8x4x4xf32>, %c: tensor<8xf32>, %s: tensor<2x5x16xf32>,
                         %w: tensor<5x16xf32>)
    -> (tensor<2x8x4x4xf32>, tensor<2x5x16xf32>, tensor<2x5x16xf32>, tensor<2x5x16xf32>) {
  // CHECK: train.batch_norm %[[X]], %[[C]], %[[C]], %[[C]], %[[C]] epsilon 9.99999974E-6 : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  %0 = train.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05
      : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
      -> tensor<2x8x4x4xf32>
  // CHECK: train.softmax %[[S]] axis 2 : tensor<2x5x16xf32>
  %1 = train.softmax %s axis 2 : tensor<2x5x16xf32>
  // Normalizes over the last two dimensions.
  // CHECK: train.layer_norm %[[S]], %[[W]], %[[W]] epsilon 9.99999974E-6 : (tensor<2x5x16xf32>, tensor<5x16xf32>, tensor<5x16xf32>) -> tensor<2x5x16xf32>
  %2 = train.layer_norm %s, %w, %w epsilon 1.0e-05
      : (tensor<2x5x16xf32>, tensor<5x16xf32>, tensor<5x16xf32>) -> tensor<2x5x16xf32>
  // CHECK: train.softmax %[[S]] axis 0 : tensor<2x5x16xf32>
  %3 = train.softmax %s axis 0 : tensor<2x5x16xf32>
  return %0, %1, %2, %3 : tensor<2x8x4x4xf32>, tensor<2x5x16xf32>, tensor<2x5x16xf32>,
      tensor<2x5x16xf32>
}

// CHECK-LABEL: func.func @mse(
// CHECK-SAME: %[[P:.*]]: tensor<4x3xf32>, %[[T:.*]]: tensor<4x3xf32>)
func.func @mse(%p: tensor<4x3xf32>, %t: tensor<4x3xf32>) -> tensor<f32> {
  // CHECK: train.mse %[[P]], %[[T]] : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %0 = train.mse %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

}
