// RUN: tcc-opt --convert-train-to-linalg %s | FileCheck %s

// cross_entropy: the row max, the row sums of exp(x - max), the logit of each label
// (selected by comparing the class index with the label), then
// Σ (max + log(sum) - picked) / N as a 0-d tensor.
// CHECK-LABEL: func.func @cross_entropy(
// CHECK-SAME: %[[X:.*]]: tensor<5x10xf32>, %[[L:.*]]: tensor<5xi32>) -> tensor<f32>
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[L]] : tensor<5x10xf32>, tensor<5xi32>) outs(%{{.*}} : tensor<5xf32>)
// CHECK: %[[C:.*]] = linalg.index 1 : index
// CHECK: %[[I:.*]] = arith.index_cast %{{.*}} : i32 to index
// CHECK: arith.cmpi eq, %[[C]], %[[I]] : index
// CHECK: math.log
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = []} ins(%{{.*}} : tensor<f32>) outs(%{{.*}} : tensor<f32>)
// CHECK: arith.constant 5.000000e+00 : f32
// CHECK: arith.divf
func.func @cross_entropy(%x: tensor<5x10xf32>, %labels: tensor<5xi32>) -> tensor<f32> {
  %l = train.cross_entropy %x, %labels : tensor<5x10xf32>, tensor<5xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// cross_entropy_grad: (softmax(x) - onehot(label)) / N in one generic after the
// row max and sums.
// CHECK-LABEL: func.func @cross_entropy_grad(
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<5x10xf32>, tensor<5xf32>, tensor<5xi32>)
// CHECK: arith.cmpi eq
// CHECK: arith.subf
func.func @cross_entropy_grad(%x: tensor<5x10xf32>, %labels: tensor<5xi32>) -> tensor<5x10xf32> {
  %g = train.cross_entropy_grad %x, %labels : tensor<5x10xf32>, tensor<5xi32> -> tensor<5x10xf32>
  return %g : tensor<5x10xf32>
}

// mse: Σ (p - t)² / numel; mse_grad: (p - t) · (2 / numel).
// CHECK-LABEL: func.func @mse(
// CHECK: arith.subf
// CHECK: %[[D:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1]] : tensor<4x3xf32> into tensor<12xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[D]] : tensor<12xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK: arith.constant 1.200000e+01 : f32
// CHECK-LABEL: func.func @mse_grad(
// CHECK: arith.constant 0.166666672 : f32
func.func @mse(%p: tensor<4x3xf32>, %t: tensor<4x3xf32>) -> tensor<f32> {
  %l = train.mse %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
func.func @mse_grad(%p: tensor<4x3xf32>, %t: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %g = train.mse_grad %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  return %g : tensor<4x3xf32>
}
