// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// A constant OHWI weight is transposed to OIHW at conversion time; the NHWC
// input and output get one train.transpose each.
// CHECK-LABEL: func.func @conv2d_const_weight(
// CHECK-SAME: %[[X:.*]]: tensor<1x6x6x2xf32>) -> tensor<1x3x3x2xf32>
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}0.000000e+00, 1.000000e+00], [2.000000e+00, 3.000000e+00]], {{\[\[}}4.000000e+00, 5.000000e+00], [6.000000e+00, 7.000000e+00]]], {{\[\[\[}}8.000000e+00, 9.000000e+00], [1.000000e+01, 1.100000e+01]], {{\[\[}}1.200000e+01, 1.300000e+01], [1.400000e+01, 1.500000e+01]]]]> : tensor<2x2x2x2xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[5.000000e-01, -5.000000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2] : tensor<1x6x6x2xf32> -> tensor<1x2x6x6xf32>
// CHECK: %[[Y:.*]] = train.conv2d %[[XT]], %[[W]], %[[B]] stride [3, 3] padding [1, 1] : (tensor<1x2x6x6xf32>, tensor<2x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK: %[[YT:.*]] = train.transpose %[[Y]] permutation [0, 2, 3, 1] : tensor<1x2x3x3xf32> -> tensor<1x3x3x2xf32>
// CHECK: return %[[YT]] : tensor<1x3x3x2xf32>
func.func @conv2d_const_weight(%x: tensor<1x6x6x2xf32>) -> tensor<1x3x3x2xf32> {
  // OHWI w[o, h, w, i] = 8o + 4i + 2h + w: its OIHW form counts 0..15 in order.
  %w = "tosa.const"() <{values = dense<[[[[0.0, 4.0], [1.0, 5.0]], [[2.0, 6.0], [3.0, 7.0]]], [[[8.0, 12.0], [9.0, 13.0]], [[10.0, 14.0], [11.0, 15.0]]]]> : tensor<2x2x2x2xf32>}> : () -> tensor<2x2x2x2xf32>
  %b = "tosa.const"() <{values = dense<[0.5, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 3, 3>} : (tensor<1x6x6x2xf32>, tensor<2x2x2x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x3x3x2xf32>
  return %y : tensor<1x3x3x2xf32>
}

// -----

// A weight that is a function argument is transposed by a train.transpose.
// CHECK-LABEL: func.func @conv2d_weight_argument(
// CHECK-SAME: %[[X:.*]]: tensor<1x8x8x3xf32>, %[[W:.*]]: tensor<4x3x3x3xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK-DAG: %[[WT:.*]] = train.transpose %[[W]] permutation [0, 3, 1, 2] : tensor<4x3x3x3xf32> -> tensor<4x3x3x3xf32>
// CHECK-DAG: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2]
// CHECK: train.conv2d %[[XT]], %[[WT]], %[[B]] dilation [2, 2] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
func.func @conv2d_weight_argument(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// A chain of convolutions stays in NCHW: one transpose in, one out.
// CHECK-LABEL: func.func @conv2d_chain(
// CHECK-COUNT-1: train.transpose
// CHECK: train.conv2d
// CHECK-NOT: train.transpose
// CHECK: train.relu
// CHECK-NOT: train.transpose
// CHECK: train.conv2d
// CHECK: train.transpose {{.*}} permutation [0, 2, 3, 1]
// CHECK-NOT: train.transpose
// CHECK: return
func.func @conv2d_chain(%x: tensor<1x8x8x3xf32>, %w0: tensor<4x3x3x3xf32>, %w1: tensor<4x1x1x4xf32>, %b: tensor<4xf32>) -> tensor<1x8x8x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %0 = tosa.conv2d %x, %w0, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x8x4xf32>
  %1 = tosa.clamp %0 {min_val = 0.0 : f32, max_val = 3.40282347E+38 : f32} : (tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  %2 = tosa.conv2d %1, %w1, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x1x1x4xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x8x4xf32>
  return %2 : tensor<1x8x8x4xf32>
}

// -----

// TFLite's SAME padding with stride 2 pads only bottom and right; train pads
// symmetrically, so the extra row and column are concatenated zeros.
// CHECK-LABEL: func.func @conv2d_asymmetric_padding(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x8x8x3xf32>
// CHECK-DAG: %[[XT:.*]] = train.transpose %[[X]] permutation [0, 3, 1, 2]
// CHECK-DAG: %[[ROW:.*]] = arith.constant dense<0.000000e+00> : tensor<1x3x1x8xf32>
// CHECK: %[[H:.*]] = train.concat %[[XT]], %[[ROW]] axis 2 : (tensor<1x3x8x8xf32>, tensor<1x3x1x8xf32>) -> tensor<1x3x9x8xf32>
// CHECK: %[[COL:.*]] = arith.constant dense<0.000000e+00> : tensor<1x3x9x1xf32>
// CHECK: %[[HW:.*]] = train.concat %[[H]], %[[COL]] axis 3 : (tensor<1x3x9x8xf32>, tensor<1x3x9x1xf32>) -> tensor<1x3x9x9xf32>
// CHECK: train.conv2d %[[HW]], %{{.*}}, %{{.*}} stride [2, 2] : (tensor<1x3x9x9xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
func.func @conv2d_asymmetric_padding(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 1, 0, 1>, stride = array<i64: 2, 2>} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// Padding [1, 0] with stride 2 reaches no bottom padding row with padding [1, 1]
// either (same windows, same output size), so it is made symmetric.
// CHECK-LABEL: func.func @conv2d_unused_padding(
// CHECK-NOT: train.concat
// CHECK: train.conv2d %{{.*}}, %{{.*}}, %{{.*}} stride [2, 2] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
func.func @conv2d_unused_padding(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// A bias of one element is broadcast to the output channels.
// CHECK-LABEL: func.func @conv2d_scalar_bias(
// CHECK-SAME: %[[X:.*]]: tensor<1x4x4x2xf32>, %[[W:.*]]: tensor<3x1x1x2xf32>, %[[B:.*]]: tensor<1xf32>)
// 1x1 OHWI -> OIHW only moves unit dims: a reshape.
// CHECK-DAG: %[[WR:.*]] = train.reshape %[[W]] : tensor<3x1x1x2xf32> -> tensor<3x2x1x1xf32>
// CHECK-DAG: %[[BB:.*]] = train.broadcast %[[B]] : tensor<1xf32> -> tensor<3xf32>
// CHECK: train.conv2d %{{.*}}, %[[WR]], %[[BB]] : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
func.func @conv2d_scalar_bias(%x: tensor<1x4x4x2xf32>, %w: tensor<3x1x1x2xf32>, %b: tensor<1xf32>) -> tensor<1x4x4x3xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %0 = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x3xf32>
  return %0 : tensor<1x4x4x3xf32>
}

// -----

// TOSA 1.0's fully connected form, reshape -> 1x1 conv2d over a 1x1 image ->
// reshape, is a train.linear.
// CHECK-LABEL: func.func @conv2d_fully_connected(
// CHECK-SAME: %[[X:.*]]: tensor<2x16xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense<2.500000e-01> : tensor<8x16xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK: %[[Y:.*]] = train.linear %[[X]], %[[W]], %[[B]] : (tensor<2x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK: return %[[Y]] : tensor<2x8xf32>
func.func @conv2d_fully_connected(%x: tensor<2x16xf32>) -> tensor<2x8xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %s0 = tosa.const_shape {values = dense<[2, 1, 1, 16]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %x4 = tosa.reshape %x, %s0 : (tensor<2x16xf32>, !tosa.shape<4>) -> tensor<2x1x1x16xf32>
  %w = "tosa.const"() <{values = dense<0.25> : tensor<8x1x1x16xf32>}> : () -> tensor<8x1x1x16xf32>
  %b = "tosa.const"() <{values = dense<1.0> : tensor<8xf32>}> : () -> tensor<8xf32>
  %y4 = tosa.conv2d %x4, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x1x1x16xf32>, tensor<8x1x1x16xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x1x1x8xf32>
  %s1 = tosa.const_shape {values = dense<[2, 8]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y = tosa.reshape %y4, %s1 : (tensor<2x1x1x8xf32>, !tosa.shape<2>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
