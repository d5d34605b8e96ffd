// RUN: tcc-opt --convert-train-to-linalg %s | FileCheck %s

// The maps of @broadcast_sum_to (printed first).
// CHECK-DAG: #[[BCAST:.*]] = affine_map<(d0, d1, d2, d3) -> (0, d1, 0, 0)>
// CHECK-DAG: #[[KEEP:.*]] = affine_map<(d0, d1, d2) -> (d1)>

// reshape: one collapse_shape or expand_shape where dims group, else through 1-D.
// CHECK-LABEL: func.func @reshape(
// CHECK: %[[A:.*]] = tensor.collapse_shape %arg0 {{\[}}[0], [1, 2, 3]] : tensor<4x8x2x2xf32> into tensor<4x32xf32>
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[A]] {{\[}}[0, 1]] : tensor<4x32xf32> into tensor<128xf32>
// CHECK: tensor.expand_shape %[[F]] {{\[}}[0, 1]] output_shape [32, 4] : tensor<128xf32> into tensor<32x4xf32>
func.func @reshape(%x: tensor<4x8x2x2xf32>) -> tensor<32x4xf32> {
  %a = train.reshape %x : tensor<4x8x2x2xf32> -> tensor<4x32xf32>
  %b = train.reshape %a : tensor<4x32xf32> -> tensor<32x4xf32>
  return %b : tensor<32x4xf32>
}

// CHECK-LABEL: func.func @transpose(
// CHECK: linalg.transpose ins(%arg0 : tensor<2x3x4x5xf32>) outs(%{{.*}} : tensor<2x4x5x3xf32>) permutation = [0, 2, 3, 1]
func.func @transpose(%x: tensor<2x3x4x5xf32>) -> tensor<2x4x5x3xf32> {
  %y = train.transpose %x permutation [0, 2, 3, 1] : tensor<2x3x4x5xf32> -> tensor<2x4x5x3xf32>
  return %y : tensor<2x4x5x3xf32>
}

// broadcast reads dims of size 1 at index 0; sum_to reduces them (adjacent reduced
// dims collapsed into one) and reshapes.
// CHECK-LABEL: func.func @broadcast_sum_to(
// CHECK: %[[B:.*]] = linalg.generic {indexing_maps = [#[[BCAST]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0 : tensor<1x8x1x1xf32>) outs(%{{.*}} : tensor<4x8x5x5xf32>)
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[B]] {{\[}}[0], [1], [2, 3]] : tensor<4x8x5x5xf32> into tensor<4x8x25xf32>
// CHECK: %[[S:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[KEEP]]], iterator_types = ["reduction", "parallel", "reduction"]} ins(%[[C]] : tensor<4x8x25xf32>) outs(%{{.*}} : tensor<8xf32>)
// CHECK: tensor.expand_shape %[[S]] {{\[}}[0, 1, 2, 3]] output_shape [1, 8, 1, 1] : tensor<8xf32> into tensor<1x8x1x1xf32>
func.func @broadcast_sum_to(%x: tensor<1x8x1x1xf32>) -> tensor<1x8x1x1xf32> {
  %b = train.broadcast %x : tensor<1x8x1x1xf32> -> tensor<4x8x5x5xf32>
  %s = train.sum_to %b : tensor<4x8x5x5xf32> -> tensor<1x8x1x1xf32>
  return %s : tensor<1x8x1x1xf32>
}

// concat inserts each operand into an empty result; slice and pad_to are
// extract_slice and tensor.pad.
// CHECK-LABEL: func.func @concat_slice_pad(
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x8x4xf32>
// CHECK: %[[C0:.*]] = tensor.insert_slice %arg0 into %[[E]][0, 0, 0] [2, 3, 4] [1, 1, 1]
// CHECK: %[[C1:.*]] = tensor.insert_slice %arg1 into %[[C0]][0, 3, 0] [2, 5, 4] [1, 1, 1]
// CHECK: %[[S:.*]] = tensor.extract_slice %[[C1]][0, 2, 1] [2, 4, 3] [1, 1, 1] : tensor<2x8x4xf32> to tensor<2x4x3xf32>
// CHECK: tensor.pad %[[S]] low[0, 2, 1] high[0, 2, 0]
func.func @concat_slice_pad(%a: tensor<2x3x4xf32>, %b: tensor<2x5x4xf32>) -> tensor<2x8x4xf32> {
  %c = train.concat %a, %b axis 1 : (tensor<2x3x4xf32>, tensor<2x5x4xf32>) -> tensor<2x8x4xf32>
  %s = train.slice %c offsets [0, 2, 1] sizes [2, 4, 3] : tensor<2x8x4xf32> -> tensor<2x4x3xf32>
  %p = train.pad_to %s offsets [0, 2, 1] : tensor<2x4x3xf32> -> tensor<2x8x4xf32>
  return %p : tensor<2x8x4xf32>
}
