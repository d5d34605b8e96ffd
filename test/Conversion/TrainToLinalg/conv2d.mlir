// RUN: tcc-opt --convert-train-to-linalg %s --split-input-file | FileCheck %s
// RUN: tcc-opt --convert-train-to-linalg="packed=true" %s --split-input-file | FileCheck %s --check-prefix=PACKED

// A groups-1 convolution: the input is padded, the bias initializes the accumulator of
// linalg.conv_2d_nchw_fchw. Packed: sample by sample (scf.for over the batch), the
// windows packed by im2col [C·KH·KW, OH·OW] and multiplied by the weight [O, C·KH·KW]
// in a linalg.matmul with its register tile.
// CHECK-LABEL: func.func @conv2d(
// CHECK-SAME: %[[X:.*]]: tensor<2x3x8x8xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK: %[[XP:.*]] = tensor.pad %[[X]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK: tensor.yield %{{.*}} : f32
// CHECK: } : tensor<2x3x8x8xf32> to tensor<2x3x10x10xf32>
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<4xf32>) outs(%{{.*}} : tensor<2x4x4x4xf32>)
// CHECK: %[[Y:.*]] = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%[[XP]], %[[W]] : tensor<2x3x10x10xf32>, tensor<4x3x3x3xf32>) outs(%[[INIT]] : tensor<2x4x4x4xf32>)
// CHECK: return %[[Y]]
// PACKED-LABEL: func.func @conv2d(
// PACKED: %[[WM:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3]] : tensor<4x3x3x3xf32> into tensor<4x27xf32>
// PACKED: %[[Y:.*]] = scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<2x4x16xf32>)
// PACKED: %[[XN:.*]] = tensor.extract_slice %{{.*}}{{\[}}%[[N]], 0, 0, 0] [1, 3, 10, 10] [1, 1, 1, 1] : tensor<2x3x10x10xf32> to tensor<3x10x10xf32>
// PACKED: %[[COLS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[XN]] : tensor<3x10x10xf32>) outs(%{{.*}} : tensor<3x3x3x4x4xf32>)
// PACKED: %[[C:.*]] = tensor.collapse_shape %[[COLS]] {{\[}}[0, 1, 2], [3, 4]] : tensor<3x3x3x4x4xf32> into tensor<27x16xf32>
// PACKED: %[[YN:.*]] = tensor.extract_slice %[[ACC]]{{\[}}%[[N]], 0, 0] [1, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> to tensor<4x16xf32>
// PACKED: %[[P:.*]] = linalg.matmul {tcc.tile_sizes = array<i64: 4, 16, 1>} ins(%[[WM]], %[[C]] : tensor<4x27xf32>, tensor<27x16xf32>) outs(%[[YN]] : tensor<4x16xf32>)
// PACKED: %[[NEXT:.*]] = tensor.insert_slice %[[P]] into %[[ACC]]{{\[}}%[[N]], 0, 0] [1, 4, 16] [1, 1, 1]
// PACKED: scf.yield %[[NEXT]] : tensor<2x4x16xf32>
// PACKED: tensor.expand_shape %[[Y]] {{\[}}[0], [1], [2, 3]] output_shape [2, 4, 4, 4]
func.func @conv2d(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<2x4x4x4xf32> {
  %y = train.conv2d %x, %w, %b stride [2, 2] padding [1, 1] : (tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<2x4x4x4xf32>
  return %y : tensor<2x4x4x4xf32>
}

// -----

// Depthwise (groups = channels): linalg.depthwise_conv_2d_nchw_chw with the weight's
// unit dim collapsed. Packed (stride 1): over the flattened rows of the padded input
// (8 × 8, plus 2 zeros for the last window), one contiguous loop per window tap
// computes 6 rows of the padded width 8, of which the first 6 columns are kept.
// CHECK-LABEL: func.func @depthwise(
// CHECK: %[[W3:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2], [3]] : tensor<8x1x3x3xf32> into tensor<8x3x3xf32>
// CHECK: linalg.depthwise_conv_2d_nchw_chw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%{{.*}}, %[[W3]] : tensor<1x8x8x8xf32>, tensor<8x3x3xf32>)
// PACKED-DAG: #[[TAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4 + d2 * 8 + d3)>
// PACKED-LABEL: func.func @depthwise(
// PACKED: %[[FLAT:.*]] = tensor.pad %{{.*}} low[0, 0, 0] high[0, 0, 2]
// PACKED: } : tensor<1x8x64xf32> to tensor<1x8x66xf32>
// PACKED: %[[WIDE:.*]] = linalg.generic {indexing_maps = [#[[TAP]], #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction", "reduction", "parallel"]} ins(%[[FLAT]], %{{.*}} : tensor<1x8x66xf32>, tensor<8x1x3x3xf32>) outs(%{{.*}} : tensor<1x8x48xf32>)
// PACKED: %[[ROWS:.*]] = tensor.expand_shape %[[WIDE]] {{\[}}[0], [1], [2, 3]] output_shape [1, 8, 6, 8]
// PACKED: tensor.extract_slice %[[ROWS]][0, 0, 0, 0] [1, 8, 6, 6] [1, 1, 1, 1]
// PACKED-NOT: linalg.depthwise_conv_2d_nchw_chw
func.func @depthwise(%x: tensor<1x8x6x6xf32>, %w: tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = train.conv2d %x, %w padding [1, 1] groups 8 : (tensor<1x8x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32>
  return %y : tensor<1x8x6x6xf32>
}

// -----

// Other groups: linalg.conv_2d_ngchw_gfchw on the input, weight and output expanded
// with a group dimension; dilation is an attribute of the named op.
// CHECK-LABEL: func.func @grouped(
// CHECK-DAG: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2], [3], [4]] output_shape [1, 3, 2, 9, 9] : tensor<1x6x9x9xf32> into tensor<1x3x2x9x9xf32>
// CHECK-DAG: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2], [3], [4]] output_shape [3, 3, 2, 3, 3] : tensor<9x2x3x3xf32> into tensor<3x3x2x3x3xf32>
// CHECK: %[[Y:.*]] = linalg.conv_2d_ngchw_gfchw {dilations = dense<2> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
// CHECK: tensor.collapse_shape %[[Y]] {{\[}}[0], [1, 2], [3], [4]] : tensor<1x3x3x5x5xf32> into tensor<1x9x5x5xf32>
func.func @grouped(%x: tensor<1x6x9x9xf32>, %w: tensor<9x2x3x3xf32>) -> tensor<1x9x5x5xf32> {
  %y = train.conv2d %x, %w dilation [2, 2] groups 3 : (tensor<1x6x9x9xf32>, tensor<9x2x3x3xf32>) -> tensor<1x9x5x5xf32>
  return %y : tensor<1x9x5x5xf32>
}

// -----

// The input gradient is a transposed convolution: dy, stride-dilated (inserted into
// zeros with strides 2) and padded by k - 1 - p = 1, convolved with the weight flipped
// and channel-swapped (a linalg.generic reading w[o, c, 2 - a, 2 - b]). Packed: sample
// by sample, the window gradients Wᵀ·dy[n] by a linalg.matmul, added into the padded
// input gradient one strided (a, b) plane at a time, then cropped.
// CHECK-LABEL: func.func @grad_input(
// CHECK-SAME: %[[DY:.*]]: tensor<2x4x4x4xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>)
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x4x10x10xf32>)
// CHECK: %[[D:.*]] = tensor.insert_slice %[[DY]] into %[[Z]][0, 0, 1, 1] [2, 4, 4, 4] [1, 1, 2, 2] : tensor<2x4x4x4xf32> into tensor<2x4x10x10xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x4x3x3x3xf32>) outs(%{{.*}} : tensor<1x3x4x3x3xf32>)
// CHECK: %[[WT:.*]] = tensor.collapse_shape %{{.*}} : tensor<1x3x4x3x3xf32> into tensor<3x4x3x3xf32>
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[D]], %[[WT]] : tensor<2x4x10x10xf32>, tensor<3x4x3x3xf32>) outs(%{{.*}} : tensor<2x3x8x8xf32>)
// PACKED-LABEL: func.func @grad_input(
// PACKED: %[[WT:.*]] = linalg.transpose ins(%{{.*}} : tensor<4x27xf32>) outs(%{{.*}} : tensor<27x4xf32>) permutation = [1, 0]
// PACKED: scf.for
// PACKED: linalg.matmul {tcc.tile_sizes = array<i64: 3, 16, 1>} ins(%[[WT]], %{{.*}} : tensor<27x4xf32>, tensor<4x16xf32>) outs(%{{.*}} : tensor<27x16xf32>)
// PACKED-COUNT-9: tensor.insert_slice %{{.*}} into %{{.*}}[0, {{[0-2]}}, {{[0-2]}}] [3, 4, 4] [1, 2, 2] : tensor<3x4x4xf32> into tensor<3x10x10xf32>
// PACKED: tensor.extract_slice %{{.*}}[0, 1, 1] [3, 8, 8] [1, 1, 1] : tensor<3x10x10xf32> to tensor<3x8x8xf32>
func.func @grad_input(%dy: tensor<2x4x4x4xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<2x3x8x8xf32> {
  %dx = train.conv2d_grad_input %dy, %w stride [2, 2] padding [1, 1] : (tensor<2x4x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<2x3x8x8xf32>
  return %dx : tensor<2x3x8x8xf32>
}

// -----

// The weight gradient contracts batch and output pixels in one linalg.generic over
// (g, f, c, a, b, n, i, j). Packed: dWᵀ [C·KH·KW, O] accumulated sample by sample as
// cols [C·KH·KW, OH·OW] · dy[n]ᵀ (its 4 columns zero-padded to 8), then transposed.
// CHECK-LABEL: func.func @grad_weight(
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<2x1x4x4x4xf32>, tensor<2x1x3x10x10xf32>) outs(%{{.*}} : tensor<1x4x3x3x3xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2], [3], [4]] : tensor<1x4x3x3x3xf32> into tensor<4x3x3x3xf32>
// PACKED-LABEL: func.func @grad_weight(
// PACKED: %[[DW:.*]] = scf.for %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<27x8xf32>)
// PACKED: %[[DYT:.*]] = linalg.transpose ins(%{{.*}} : tensor<4x16xf32>) outs(%{{.*}} : tensor<16x4xf32>) permutation = [1, 0]
// PACKED: %[[DYP:.*]] = tensor.pad %[[DYT]] low[0, 0] high[0, 4]
// PACKED: linalg.matmul {tcc.tile_sizes = array<i64: 3, 8, 1>} ins(%{{.*}}, %[[DYP]] : tensor<27x16xf32>, tensor<16x8xf32>) outs(%[[ACC]] : tensor<27x8xf32>)
// PACKED: %[[S:.*]] = tensor.extract_slice %[[DW]][0, 0] [27, 4] [1, 1] : tensor<27x8xf32> to tensor<27x4xf32>
// PACKED: linalg.transpose ins(%[[S]] : tensor<27x4xf32>) outs(%{{.*}} : tensor<4x27xf32>) permutation = [1, 0]
func.func @grad_weight(%dy: tensor<2x4x4x4xf32>, %x: tensor<2x3x8x8xf32>) -> tensor<4x3x3x3xf32> {
  %dw = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1] : (tensor<2x4x4x4xf32>, tensor<2x3x8x8xf32>) -> tensor<4x3x3x3xf32>
  return %dw : tensor<4x3x3x3xf32>
}
