// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// A constant right operand with batch 1 is a fully connected layer: train.linear
// with the transposed [out, in] weight; a following constant add is its bias.
// CHECK-LABEL: func.func @matmul_fully_connected(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x2x3xf32>) -> tensor<2x2xf32>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[1.000000e-01, 2.000000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[X2:.*]] = train.reshape %[[X]] : tensor<1x2x3xf32> -> tensor<2x3xf32>
// CHECK: %[[Y:.*]] = train.linear %[[X2]], %[[W]], %[[B]] : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
// CHECK: return %[[Y]] : tensor<2x2xf32>
func.func @matmul_fully_connected(%x: tensor<1x2x3xf32>) -> tensor<2x2xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %w = "tosa.const"() <{values = dense<[[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]> : tensor<1x3x2xf32>}> : () -> tensor<1x3x2xf32>
  %y = tosa.matmul %x, %w, %zp, %zp : (tensor<1x2x3xf32>, tensor<1x3x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2xf32>
  %s = tosa.const_shape {values = dense<[2, 2]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y2 = tosa.reshape %y, %s : (tensor<1x2x2xf32>, !tosa.shape<2>) -> tensor<2x2xf32>
  %b = "tosa.const"() <{values = dense<[[0.1, 0.2]]> : tensor<1x2xf32>}> : () -> tensor<1x2xf32>
  %z = tosa.add %y2, %b : (tensor<2x2xf32>, tensor<1x2xf32>) -> tensor<2x2xf32>
  return %z : tensor<2x2xf32>
}

// -----

// Without a reshape the bias add still folds; the result is reshaped back to 3-D.
// CHECK-LABEL: func.func @matmul_bias_3d(
// CHECK: %[[Y:.*]] = train.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<4x5xf32>
// CHECK: %[[Y3:.*]] = train.reshape %[[Y]] : tensor<4x5xf32> -> tensor<1x4x5xf32>
// CHECK-NOT: train.add
// CHECK: return %[[Y3]]
func.func @matmul_bias_3d(%x: tensor<1x4x8xf32>) -> tensor<1x4x5xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %w = "tosa.const"() <{values = dense<0.5> : tensor<1x8x5xf32>}> : () -> tensor<1x8x5xf32>
  %y = tosa.matmul %x, %w, %zp, %zp : (tensor<1x4x8xf32>, tensor<1x8x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x5xf32>
  %b = "tosa.const"() <{values = dense<1.0> : tensor<1x1x5xf32>}> : () -> tensor<1x1x5xf32>
  %z = tosa.add %y, %b : (tensor<1x4x5xf32>, tensor<1x1x5xf32>) -> tensor<1x4x5xf32>
  return %z : tensor<1x4x5xf32>
}

// -----

// Two activations: a batched train.matmul.
// CHECK-LABEL: func.func @matmul_batched(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x3x4xf32>, %[[B:[^:]*]]: tensor<2x4x5xf32>)
// CHECK: %[[Y:.*]] = train.matmul %[[A]], %[[B]] : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
// CHECK: return %[[Y]]
func.func @matmul_batched(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.matmul %a, %b, %zp, %zp : (tensor<2x3x4xf32>, tensor<2x4x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// -----

// Flattening an NHWC feature map for a fully connected layer: the NHWC order is
// folded into the constant weight's columns instead of transposing the activations.
// CHECK-LABEL: func.func @matmul_after_flatten(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x4x4x3xf32>
// CHECK: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2]
// CHECK: %[[C:.*]] = train.conv2d %[[XT]]
// CHECK-NOT: train.transpose
// CHECK: %[[F:.*]] = train.reshape %[[C]] : tensor<1x2x4x4xf32> -> tensor<1x32xf32>
// CHECK-NOT: train.transpose
// CHECK: train.linear %[[F]], %{{.*}} : (tensor<1x32xf32>, tensor<10x32xf32>) -> tensor<1x10xf32>
func.func @matmul_after_flatten(%x: tensor<1x4x4x3xf32>, %w: tensor<2x1x1x3xf32>, %b: tensor<2xf32>) -> tensor<1x1x10xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %s = tosa.const_shape {values = dense<[1, 1, 32]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %f = tosa.reshape %c, %s : (tensor<1x4x4x2xf32>, !tosa.shape<3>) -> tensor<1x1x32xf32>
  %fw = "tosa.const"() <{values = dense<0.5> : tensor<1x32x10xf32>}> : () -> tensor<1x32x10xf32>
  %y = tosa.matmul %f, %fw, %zp, %zp : (tensor<1x1x32xf32>, tensor<1x32x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x10xf32>
  return %y : tensor<1x1x10xf32>
}
