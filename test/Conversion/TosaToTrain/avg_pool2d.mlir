// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// TOSA does not count padding in the average: no count_include_pad.
// CHECK-LABEL: func.func @avg_pool2d(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x4x4x8xf32>)
// CHECK: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x4x4x8xf32> -> tensor<1x8x4x4xf32>
// CHECK: %[[Y:.*]] = train.avg_pool2d %[[XT]] kernel [3, 3] padding [1, 1] : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
// CHECK: %[[YT:.*]] = train.transpose %[[Y]] permutation [0, 2, 3, 1] : tensor<1x8x4x4xf32> -> tensor<1x4x4x8xf32>
// CHECK: return %[[YT]]
func.func @avg_pool2d(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.avg_pool2d %x, %zp, %zp {acc_type = f32, kernel = array<i64: 3, 3>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  return %y : tensor<1x4x4x8xf32>
}

// -----

// A global average pool (7x7 kernel over a 7x7 image) followed by the flatten of
// a classifier: [1, C, 1, 1] to [1, C] needs no transpose.
// CHECK-LABEL: func.func @avg_pool2d_global(
// CHECK: %[[XT:.*]] = train.transpose
// CHECK: %[[Y:.*]] = train.avg_pool2d %[[XT]] kernel [7, 7] stride [7, 7] : (tensor<1x16x7x7xf32>) -> tensor<1x16x1x1xf32>
// CHECK-NOT: train.transpose
// CHECK: %[[F:.*]] = train.reshape %[[Y]] : tensor<1x16x1x1xf32> -> tensor<1x16xf32>
// CHECK: return %[[F]]
func.func @avg_pool2d_global(%x: tensor<1x7x7x16xf32>) -> tensor<1x16xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.avg_pool2d %x, %zp, %zp {acc_type = f32, kernel = array<i64: 7, 7>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 7, 7>} : (tensor<1x7x7x16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x1x16xf32>
  %s = tosa.const_shape {values = dense<[1, 16]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %f = tosa.reshape %y, %s : (tensor<1x1x1x16xf32>, !tosa.shape<2>) -> tensor<1x16xf32>
  return %f : tensor<1x16xf32>
}

// -----

// Asymmetric padding: the extra row/column are concatenated zeros, the pool
// counts all padding and each output is rescaled by kernel size / (input pixels
// in its window), so padding stays uncounted. With a 2x2 kernel, stride 2 and
// padding [0, 1, 0, 1] on 3x3, the last row and column of windows hold 2, the
// corner 1 input pixel(s).
// CHECK-LABEL: func.func @avg_pool2d_asymmetric(
// CHECK: %[[H:.*]] = train.concat
// CHECK: %[[HW:.*]] = train.concat %[[H]], %{{.*}} axis 3 : (tensor<1x2x4x3xf32>, tensor<1x2x4x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK: %[[P:.*]] = train.avg_pool2d %[[HW]] kernel [2, 2] stride [2, 2] count_include_pad : (tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32>
// CHECK: %[[F:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00], [2.000000e+00, 4.000000e+00]]]]> : tensor<1x1x2x2xf32>
// CHECK: %[[FB:.*]] = train.broadcast %[[F]] : tensor<1x1x2x2xf32> -> tensor<1x2x2x2xf32>
// CHECK: train.mul %[[P]], %[[FB]] : tensor<1x2x2x2xf32>
func.func @avg_pool2d_asymmetric(%x: tensor<1x3x3x2xf32>) -> tensor<1x2x2x2xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.avg_pool2d %x, %zp, %zp {acc_type = f32, kernel = array<i64: 2, 2>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 2, 2>} : (tensor<1x3x3x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}
