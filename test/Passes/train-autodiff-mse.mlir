// --train-autodiff with the mean-squared-error loss: the targets argument has the
// output's float type, and the seed gradient is 2 (y - t) / numel.
// RUN: tcc-opt %s --train-autodiff="loss=mse lr=0.1" | FileCheck %s

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x3xf32>, %[[W:.*]]: tensor<2x3xf32> {train.role = #train.role<trainable>}, %[[T:.*]]: tensor<4x2xf32> {train.name = "labels"})
// CHECK: %[[Y:.*]] = train.linear %[[X]], %[[W]]
// CHECK: %[[LOSS:.*]] = train.mse %[[Y]], %[[T]] : (tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<f32>
// CHECK: %[[DY:.*]] = train.mse_grad %[[Y]], %[[T]]
// CHECK: %[[DW:.*]] = train.linear_grad_weight %[[DY]], %[[X]]
// CHECK: %[[W2:.*]] = train.sgd %[[W]], %[[DW]] lr
// CHECK: return %[[LOSS]], %[[W2]]
func.func @forward(%x: tensor<4x3xf32>,
                   %w: tensor<2x3xf32> {train.role = #train.role<trainable>}) -> tensor<4x2xf32> {
  %y = train.linear %x, %w : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
