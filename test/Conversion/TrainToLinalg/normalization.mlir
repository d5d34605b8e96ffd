// RUN: tcc-opt --convert-train-to-linalg %s | FileCheck %s

// batch_norm: one generic, the parameters indexed by the channel (dim 1).
// CHECK-DAG: #[[CHANNEL:.*]] = affine_map<(d0, d1, d2, d3) -> (d1)>
// CHECK-LABEL: func.func @batch_norm(
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[CHANNEL]], #[[CHANNEL]], #[[CHANNEL]], #[[CHANNEL]], #{{.*}}]
// CHECK: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK: %[[VE:.*]] = arith.addf %{{.*}}, %[[EPS]] : f32
// CHECK: %[[STD:.*]] = math.sqrt %[[VE]] : f32
// CHECK: %[[C:.*]] = arith.subf
// CHECK: %[[N:.*]] = arith.divf %[[C]], %[[STD]] : f32
// CHECK: %[[S:.*]] = arith.mulf %[[N]], %{{.*}} : f32
// CHECK: arith.addf %[[S]], %{{.*}} : f32
func.func @batch_norm(%x: tensor<2x4x3x3xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<2x4x3x3xf32> {
  %y = train.batch_norm %x, %g, %b, %m, %v epsilon 1.0e-05 : (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x3x3xf32>
  return %y : tensor<2x4x3x3xf32>
}

// softmax: the max along the axis (from -inf), exp(x - max), its sum, a division.
// CHECK-LABEL: func.func @softmax(
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%arg0 : tensor<2x5x3xf32>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK: arith.addf
// CHECK: arith.divf
func.func @softmax(%x: tensor<2x5x3xf32>) -> tensor<2x5x3xf32> {
  %y = train.softmax %x axis 1 : tensor<2x5x3xf32>
  return %y : tensor<2x5x3xf32>
}

// CHECK-LABEL: func.func @softmax_grad(
// CHECK: arith.mulf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK: arith.subf
// CHECK: arith.mulf
func.func @softmax_grad(%dy: tensor<4x10xf32>, %y: tensor<4x10xf32>) -> tensor<4x10xf32> {
  %dx = train.softmax_grad %dy, %y axis 1 : tensor<4x10xf32>
  return %dx : tensor<4x10xf32>
}

// layer_norm over the trailing dims of the weight: mean, centered values, biased
// variance (reductions over the last two dims, collapsed into one), then the
// normalization.
// CHECK-LABEL: func.func @layer_norm(
// CHECK: %[[X2:.*]] = tensor.collapse_shape %arg0 {{\[}}[0], [1, 2]] : tensor<3x4x5xf32> into tensor<3x20xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[X2]] : tensor<3x20xf32>) outs(%{{.*}} : tensor<3xf32>)
// CHECK: arith.constant 2.000000e+01 : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK: math.sqrt
// CHECK-LABEL: func.func @layer_norm_grad_input(
// CHECK: math.sqrt
// CHECK: arith.divf
func.func @layer_norm(%x: tensor<3x4x5xf32>, %w: tensor<4x5xf32>, %b: tensor<4x5xf32>) -> tensor<3x4x5xf32> {
  %y = train.layer_norm %x, %w, %b epsilon 1.0e-05 : (tensor<3x4x5xf32>, tensor<4x5xf32>, tensor<4x5xf32>) -> tensor<3x4x5xf32>
  return %y : tensor<3x4x5xf32>
}
func.func @layer_norm_grad_input(%dy: tensor<3x4x5xf32>, %x: tensor<3x4x5xf32>, %w: tensor<4x5xf32>) -> tensor<3x4x5xf32> {
  %dx = train.layer_norm_grad_input %dy, %x, %w epsilon 1.0e-05 : (tensor<3x4x5xf32>, tensor<3x4x5xf32>, tensor<4x5xf32>) -> tensor<3x4x5xf32>
  return %dx : tensor<3x4x5xf32>
}

// bias_grad sums over every dim but the channel (the spatial dims collapsed into one;
// the sums reassociable so that LLVM vectorizes them).
// CHECK-LABEL: func.func @bias_grad(
// CHECK: %[[D:.*]] = tensor.collapse_shape %arg0 {{\[}}[0], [1], [2, 3]] : tensor<2x8x3x3xf32> into tensor<2x8x9xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "reduction"]} ins(%[[D]] : tensor<2x8x9xf32>) outs(%{{.*}} : tensor<8xf32>)
// CHECK: arith.addf %{{.*}}, %{{.*}} fastmath<reassoc> : f32
func.func @bias_grad(%dy: tensor<2x8x3x3xf32>) -> tensor<8xf32> {
  %db = train.bias_grad %dy : tensor<2x8x3x3xf32> -> tensor<8xf32>
  return %db : tensor<8xf32>
}
