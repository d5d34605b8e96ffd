// RUN: tcc-opt --convert-train-to-linalg %s --split-input-file | FileCheck %s

// avg_pool2d: the zero-padded input summed by linalg.pooling_nchw_sum, divided by the
// window size (count_include_pad).
// CHECK-LABEL: func.func @avg_pool(
// CHECK: %[[XP:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK: %[[WIN:.*]] = tensor.empty() : tensor<3x3xf32>
// CHECK: %[[SUM:.*]] = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%[[XP]], %[[WIN]] : tensor<1x4x11x11xf32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<1x4x5x5xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<1x4x5x5xf32>)
// CHECK: %[[NINE:.*]] = arith.constant 9.000000e+00 : f32
// CHECK: arith.divf %{{.*}}, %[[NINE]] : f32
func.func @avg_pool(%x: tensor<1x4x9x9xf32>) -> tensor<1x4x5x5xf32> {
  %y = train.avg_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : (tensor<1x4x9x9xf32>) -> tensor<1x4x5x5xf32>
  return %y : tensor<1x4x5x5xf32>
}

// -----

// Without count_include_pad each window's divisor, its number of input pixels, is a
// constant [OH, OW] tensor: 4 in the corner, 6 on the edges, 9 inside.
// CHECK-LABEL: func.func @avg_pool_exclude_pad(
// CHECK: %[[C:.*]] = arith.constant dense<[4.{{0+}}e+00, 6.{{0+}}e+00, 6.{{0+}}e+00, 6.{{0+}}e+00, 9.{{0+}}e+00, 9.{{0+}}e+00, 6.{{0+}}e+00, 9.{{0+}}e+00, 9.{{0+}}e+00]> : tensor<9xf32>
// CHECK: %[[COUNTS:.*]] = tensor.expand_shape %[[C]] {{\[}}[0, 1]] output_shape [3, 3] : tensor<9xf32> into tensor<3x3xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[COUNTS]] : tensor<1x2x3x3xf32>, tensor<3x3xf32>)
// CHECK: arith.divf
func.func @avg_pool_exclude_pad(%x: tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32> {
  %y = train.avg_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  return %y : tensor<1x2x3x3xf32>
}

// -----

// max_pool2d pads with -inf and starts its accumulator at -inf.
// CHECK-LABEL: func.func @max_pool(
// CHECK: %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK: tensor.yield %[[NEG]] : f32
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x3x4x4xf32>)
// CHECK: linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%{{.*}}, %{{.*}} : tensor<2x3x10x10xf32>, tensor<3x3xf32>)
func.func @max_pool(%x: tensor<2x3x8x8xf32>) -> tensor<2x3x4x4xf32> {
  %y = train.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<2x3x8x8xf32>) -> tensor<2x3x4x4xf32>
  return %y : tensor<2x3x4x4xf32>
}

// -----

// global_avg_pool: a reduction over H and W (batch and channels, and H and W, each
// collapsed into one dim), divided by H·W, expanded to NxCx1x1.
// CHECK-LABEL: func.func @global_avg_pool(
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2, 3]] : tensor<2x6x5x7xf32> into tensor<12x35xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]} ins(%[[X]] : tensor<12x35xf32>) outs(%{{.*}} : tensor<12xf32>)
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1]] output_shape [2, 6] : tensor<12xf32> into tensor<2x6xf32>
// CHECK: arith.constant 3.500000e+01 : f32
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2, 3]] output_shape [2, 6, 1, 1] : tensor<2x6xf32> into tensor<2x6x1x1xf32>
func.func @global_avg_pool(%x: tensor<2x6x5x7xf32>) -> tensor<2x6x1x1xf32> {
  %y = train.global_avg_pool %x : tensor<2x6x5x7xf32> -> tensor<2x6x1x1xf32>
  return %y : tensor<2x6x1x1xf32>
}

// -----

// avg_pool2d_grad: dy divided by the window size, stride-dilated and padded by
// k - 1 - p, then summed over windows by linalg.pooling_nchw_sum (the transposed
// pooling).
// CHECK-LABEL: func.func @avg_pool_grad(
// CHECK: arith.divf
// CHECK: %[[D:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 1, 1] [1, 4, 5, 5] [1, 1, 2, 2] : tensor<1x4x5x5xf32> into tensor<1x4x11x11xf32>
// CHECK: linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[D]], %{{.*}} : tensor<1x4x11x11xf32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<1x4x9x9xf32>)
func.func @avg_pool_grad(%dy: tensor<1x4x5x5xf32>) -> tensor<1x4x9x9xf32> {
  %dx = train.avg_pool2d_grad %dy kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : (tensor<1x4x5x5xf32>) -> tensor<1x4x9x9xf32>
  return %dx : tensor<1x4x9x9xf32>
}

// -----

// max_pool2d_grad: one generic finds each window's first maximum (strict `ogt`, an
// i32 window position), a second gathers dy where the flipped window position is the
// window's first maximum (positions padded with -1 never match).
// CHECK-LABEL: func.func @max_pool_grad(
// CHECK: %[[ARG:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<1x2x7x7xf32>, tensor<3x3xf32>) outs(%{{.*}}, %{{.*}} : tensor<1x2x3x3xf32>, tensor<1x2x3x3xi32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.constant -1 : i32
// CHECK: tensor.insert_slice %[[ARG]]#1 into %{{.*}}[0, 0, 1, 1] [1, 2, 3, 3] [1, 1, 2, 2] : tensor<1x2x3x3xi32> into tensor<1x2x7x7xi32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<1x2x7x7xf32>, tensor<1x2x7x7xi32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<1x2x5x5xf32>)
// CHECK: arith.cmpi eq
func.func @max_pool_grad(%dy: tensor<1x2x3x3xf32>, %x: tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32> {
  %dx = train.max_pool2d_grad %dy, %x kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  return %dx : tensor<1x2x5x5xf32>
}
