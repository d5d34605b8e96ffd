// RUN: tcc-opt --convert-train-to-linalg %s --split-input-file | FileCheck %s
// RUN: tcc-opt --convert-train-to-linalg="packed=true" %s --split-input-file | FileCheck %s --check-prefix=PACKED

// linear: the bias broadcast over the batch initializes a linalg.matmul reading the
// [out, in] weight transposed through its indexing map. Packed: the weight transposed
// by linalg.transpose and a plain matmul with its register tile.
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func.func @linear(
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%arg2 : tensor<8xf32>) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK: linalg.matmul indexing_maps = [#{{.*}}, #[[B]], #{{.*}}] ins(%arg0, %arg1 : tensor<4x16xf32>, tensor<8x16xf32>) outs(%[[INIT]] : tensor<4x8xf32>)
// PACKED-LABEL: func.func @linear(
// PACKED: %[[WT:.*]] = linalg.transpose ins(%arg1 : tensor<8x16xf32>) outs(%{{.*}} : tensor<16x8xf32>) permutation = [1, 0]
// PACKED: linalg.matmul {tcc.tile_sizes = array<i64: 4, 8, 1>} ins(%arg0, %[[WT]] : tensor<4x16xf32>, tensor<16x8xf32>)
func.func @linear(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %y = train.linear %x, %w, %b : (tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// The gradients of linear: dy · W is a plain matmul, dyᵀ · x reads dy transposed.
// CHECK-DAG: #[[AT:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-LABEL: func.func @linear_grads(
// CHECK: linalg.matmul ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<8x16xf32>) outs(%{{.*}} : tensor<4x16xf32>)
// CHECK: linalg.matmul indexing_maps = [#[[AT]], #{{.*}}, #{{.*}}] ins(%arg0, %arg2 : tensor<4x8xf32>, tensor<4x16xf32>) outs(%{{.*}} : tensor<8x16xf32>)
// PACKED-LABEL: func.func @linear_grads(
// PACKED: linalg.matmul {tcc.tile_sizes = array<i64: 4, 16, 1>} ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<8x16xf32>)
// PACKED: %[[DYT:.*]] = linalg.transpose ins(%arg0 : tensor<4x8xf32>) outs(%{{.*}} : tensor<8x4xf32>) permutation = [1, 0]
// PACKED: linalg.matmul {tcc.tile_sizes = array<i64: 8, 16, 1>} ins(%[[DYT]], %arg2 : tensor<8x4xf32>, tensor<4x16xf32>)
func.func @linear_grads(%dy: tensor<4x8xf32>, %w: tensor<8x16xf32>, %x: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<8x16xf32>) {
  %dx = train.linear_grad_input %dy, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %dw = train.linear_grad_weight %dy, %x : (tensor<4x8xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
  return %dx, %dw : tensor<4x16xf32>, tensor<8x16xf32>
}

// -----

// Batched matmul: rank 3 is linalg.batch_matmul; higher ranks collapse their batch
// dims into one first. Packed, the 5 result columns are zero-padded to 8 (full vector
// registers) and sliced back.
// CHECK-LABEL: func.func @matmul_4d(
// CHECK-DAG: tensor.collapse_shape %arg0 {{\[}}[0, 1], [2], [3]] : tensor<2x3x4x6xf32> into tensor<6x4x6xf32>
// CHECK-DAG: tensor.collapse_shape %arg1 {{\[}}[0, 1], [2], [3]] : tensor<2x3x6x5xf32> into tensor<6x6x5xf32>
// CHECK: %[[Y:.*]] = linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<6x4x6xf32>, tensor<6x6x5xf32>) outs(%{{.*}} : tensor<6x4x5xf32>)
// CHECK: tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2], [3]] output_shape [2, 3, 4, 5] : tensor<6x4x5xf32> into tensor<2x3x4x5xf32>
// PACKED-LABEL: func.func @matmul_4d(
// PACKED: %[[B:.*]] = tensor.pad %{{.*}} low[0, 0, 0] high[0, 0, 3]
// PACKED: } : tensor<6x6x5xf32> to tensor<6x6x8xf32>
// PACKED: %[[Y:.*]] = linalg.batch_matmul {tcc.tile_sizes = array<i64: 1, 4, 8, 1>} ins(%{{.*}}, %[[B]] : tensor<6x4x6xf32>, tensor<6x6x8xf32>) outs(%{{.*}} : tensor<6x4x8xf32>)
// PACKED: tensor.extract_slice %[[Y]][0, 0, 0] [6, 4, 5] [1, 1, 1] : tensor<6x4x8xf32> to tensor<6x4x5xf32>
func.func @matmul_4d(%a: tensor<2x3x4x6xf32>, %b: tensor<2x3x6x5xf32>) -> tensor<2x3x4x5xf32> {
  %y = train.matmul %a, %b : (tensor<2x3x4x6xf32>, tensor<2x3x6x5xf32>) -> tensor<2x3x4x5xf32>
  return %y : tensor<2x3x4x5xf32>
}
