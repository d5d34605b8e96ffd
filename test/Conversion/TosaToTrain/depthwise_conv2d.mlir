// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// A depthwise convolution is a train.conv2d with groups = C. The [KH, KW, C, M]
// weight becomes [C·M, 1, KH, KW]: output channel c·M + m is w[:, :, c, m].
// CHECK-LABEL: func.func @depthwise_const_weight(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}0.000000e+00]]], {{\[\[\[}}1.000000e+00]]], {{\[\[\[}}2.000000e+00]]], {{\[\[\[}}3.000000e+00]]]]> : tensor<4x1x1x1xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK-DAG: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x4x4x2xf32> -> tensor<1x2x4x4xf32>
// CHECK: %[[Y:.*]] = train.conv2d %[[XT]], %[[W]], %[[B]] groups 2 : (tensor<1x2x4x4xf32>, tensor<4x1x1x1xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
// CHECK: %[[YT:.*]] = train.transpose %[[Y]] permutation [0, 2, 3, 1] : tensor<1x4x4x4xf32> -> tensor<1x4x4x4xf32>
// CHECK: return %[[YT]]
func.func @depthwise_const_weight(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32> {
  // w[0, 0, c, m] = 2c + m
  %w = "tosa.const"() <{values = dense<[[[[0.0, 1.0], [2.0, 3.0]]]]> : tensor<1x1x2x2xf32>}> : () -> tensor<1x1x2x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.depthwise_conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// A weight argument is transposed to [C, M, KH, KW] and reshaped.
// CHECK-LABEL: func.func @depthwise_weight_argument(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x8x8x4xf32>, %[[W:[^:]*]]: tensor<3x3x4x1xf32>, %[[B:[^:]*]]: tensor<4xf32>)
// CHECK-DAG: %[[WT:.*]] = train.transpose %[[W]] permutation [2, 3, 0, 1] : tensor<3x3x4x1xf32> -> tensor<4x1x3x3xf32>
// CHECK-DAG: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x8x8x4xf32> -> tensor<1x4x8x8xf32>
// CHECK: train.conv2d %[[XT]], %[[WT]], %[[B]] stride [2, 2] padding [1, 1] groups 4 : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
func.func @depthwise_weight_argument(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x1xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.depthwise_conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>, tensor<3x3x4x1xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// With a channel multiplier M > 1 the weight argument is reshaped after the transpose.
// CHECK-LABEL: func.func @depthwise_multiplier(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x5x5x2xf32>, %[[W:[^:]*]]: tensor<3x3x2x3xf32>
// CHECK: %[[WT:.*]] = train.transpose %[[W]] permutation [2, 3, 0, 1] : tensor<3x3x2x3xf32> -> tensor<2x3x3x3xf32>
// CHECK: %[[WR:.*]] = train.reshape %[[WT]] : tensor<2x3x3x3xf32> -> tensor<6x1x3x3xf32>
// CHECK: train.conv2d %{{.*}}, %[[WR]], %{{.*}} groups 2 : (tensor<1x2x5x5xf32>, tensor<6x1x3x3xf32>, tensor<6xf32>) -> tensor<1x6x3x3xf32>
func.func @depthwise_multiplier(%x: tensor<1x5x5x2xf32>, %w: tensor<3x3x2x3xf32>, %b: tensor<6xf32>) -> tensor<1x3x3x6xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.depthwise_conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x5x5x2xf32>, tensor<3x3x2x3xf32>, tensor<6xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x3x3x6xf32>
  return %y : tensor<1x3x3x6xf32>
}
