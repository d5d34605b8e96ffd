// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @max_pool2d(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x8x8x4xf32>)
// CHECK: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x8x8x4xf32> -> tensor<1x4x8x8xf32>
// CHECK: %[[Y:.*]] = train.max_pool2d %[[XT]] kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
// CHECK: %[[YT:.*]] = train.transpose %[[Y]] permutation [0, 2, 3, 1]
// CHECK: return %[[YT]]
func.func @max_pool2d(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %y = tosa.max_pool2d %x {kernel = array<i64: 3, 3>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// Asymmetric padding that symmetric padding cannot reproduce: -inf rows/columns.
// CHECK-LABEL: func.func @max_pool2d_asymmetric(
// CHECK: %[[XT:.*]] = train.transpose
// CHECK: %[[ROW:.*]] = arith.constant dense<0xFF800000> : tensor<1x4x1x8xf32>
// CHECK: %[[H:.*]] = train.concat %[[XT]], %[[ROW]] axis 2 : (tensor<1x4x8x8xf32>, tensor<1x4x1x8xf32>) -> tensor<1x4x9x8xf32>
// CHECK: %[[COL:.*]] = arith.constant dense<0xFF800000> : tensor<1x4x9x1xf32>
// CHECK: %[[HW:.*]] = train.concat %[[H]], %[[COL]] axis 3
// CHECK: train.max_pool2d %[[HW]] kernel [3, 3] stride [2, 2] : (tensor<1x4x9x9xf32>) -> tensor<1x4x4x4xf32>
func.func @max_pool2d_asymmetric(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %y = tosa.max_pool2d %x {kernel = array<i64: 3, 3>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// int8 max pooling moves stored values on the same quantized type; explicit
// padding is the storage minimum.
// CHECK-LABEL: func.func @max_pool2d_int8(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x3x3x2x!quant.uniform<i8:f32, 5.000000e-01:-7>>)
// CHECK: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x3x3x2x!quant.uniform<i8:f32, 5.000000e-01:-7>> -> tensor<1x2x3x3x!quant.uniform<i8:f32, 5.000000e-01:-7>>
// CHECK: %[[C:.*]] = arith.constant dense<-128> : tensor<1x2x1x3xi8>
// CHECK: %[[PAD:.*]] = quant.scast %[[C]] : tensor<1x2x1x3xi8> to tensor<1x2x1x3x!quant.uniform<i8:f32, 5.000000e-01:-7>>
// CHECK: train.concat %[[XT]], %[[PAD]] axis 2
// CHECK: train.max_pool2d %{{.*}} kernel [2, 2] : (tensor<1x2x4x4x!quant.uniform<i8:f32, 5.000000e-01:-7>>) -> tensor<1x2x3x3x!quant.uniform<i8:f32, 5.000000e-01:-7>>
func.func @max_pool2d_int8(%x: tensor<1x3x3x2x!quant.uniform<i8:f32, 0.5:-7>>) -> tensor<1x3x3x2x!quant.uniform<i8:f32, 0.5:-7>> {
  %y = tosa.max_pool2d %x {kernel = array<i64: 2, 2>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 1, 1>} : (tensor<1x3x3x2x!quant.uniform<i8:f32, 0.5:-7>>) -> tensor<1x3x3x2x!quant.uniform<i8:f32, 0.5:-7>>
  return %y : tensor<1x3x3x2x!quant.uniform<i8:f32, 0.5:-7>>
}
