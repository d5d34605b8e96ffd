// RUN: tcc-opt --train-fold-batch-norm %s | FileCheck %s

// conv + bias + BN, epsilon 0 so the folded values are exact:
// s = γ / √σ² = [2/2, 1/0.5] = [1, 2], W' = W · s = [1, 4],
// b' = (b - μ) · s + β = [(1 - 1) · 1 + 0.5, (-1 - 0) · 2 + 0] = [0.5, -2].
// The old constants are erased with the batch norm: the new ones come first.
// CHECK-LABEL: func.func @fold_conv(
// CHECK-SAME: %[[X:.*]]: tensor<1x1x3x3xf32>)
// CHECK-NEXT: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}4.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT: %[[B:.*]] = arith.constant dense<[5.000000e-01, -2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[Y:.*]] = train.conv2d %[[X]], %[[W]], %[[B]] : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NOT: train.batch_norm
// CHECK-NOT: arith.constant
// CHECK: return %[[Y]] : tensor<1x2x3x3xf32>
func.func @fold_conv(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %w = arith.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %b = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %g = arith.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %be = arith.constant dense<[0.5, 0.0]> : tensor<2xf32>
  %m = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %v = arith.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %c = train.conv2d %x, %w, %b
      : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  %y = train.batch_norm %c, %g, %be, %m, %v epsilon 0.0
      : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x3x3xf32>
  return %y : tensor<1x2x3x3xf32>
}

// A conv without bias gets one: s = [3/0.5, -1/1] = [6, -1], W' = [[6, -6], [-0.5, -2]],
// b' = (0 - μ) · s + β = [-2 · 6 + 1, 4 · -1 + 2] = [-11, -2]. The geometry is kept.
// CHECK-LABEL: func.func @fold_conv_without_bias(
// CHECK-SAME: %[[X:.*]]: tensor<1x2x5x6xf32>)
// CHECK: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}6.000000e+00, -6.000000e+00]]], {{\[\[\[}}-5.000000e-01, -2.000000e+00]]]]> : tensor<2x1x1x2xf32>
// CHECK-NEXT: %[[B:.*]] = arith.constant dense<[-1.100000e+01, -2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[Y:.*]] = train.conv2d %[[X]], %[[W]], %[[B]] stride [2, 2] padding [1, 1] dilation [2, 1] groups 2 : (tensor<1x2x5x6xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NOT: train.batch_norm
// CHECK: return %[[Y]] : tensor<1x2x4x4xf32>
func.func @fold_conv_without_bias(%x: tensor<1x2x5x6xf32>) -> tensor<1x2x4x4xf32> {
  %w = arith.constant dense<[[[[1.0, -1.0]]], [[[0.5, 2.0]]]]> : tensor<2x1x1x2xf32>
  %g = arith.constant dense<[3.0, -1.0]> : tensor<2xf32>
  %be = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %m = arith.constant dense<[2.0, -4.0]> : tensor<2xf32>
  %v = arith.constant dense<[0.25, 1.0]> : tensor<2xf32>
  %c = train.conv2d %x, %w stride [2, 2] padding [1, 1] dilation [2, 1] groups 2
      : (tensor<1x2x5x6xf32>, tensor<2x1x1x2xf32>) -> tensor<1x2x4x4xf32>
  %y = train.batch_norm %c, %g, %be, %m, %v epsilon 0.0
      : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x4x4xf32>
  return %y : tensor<1x2x4x4xf32>
}

// linear + BN over the features, with splat constants: s = [1, 4 / 2] = [1, 2],
// W' = [[1, 2, 3], [8, 10, 12]], b' = [(0 - 0) · 1, (3 - 1) · 2] = [0, 4].
// CHECK-LABEL: func.func @fold_linear(
// CHECK-SAME: %[[X:.*]]: tensor<5x3xf32>)
// CHECK: %[[W:.*]] = arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00], [8.000000e+00, 1.000000e+01, 1.200000e+01]]> : tensor<2x3xf32>
// CHECK-NEXT: %[[B:.*]] = arith.constant dense<[0.000000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[Y:.*]] = train.linear %[[X]], %[[W]], %[[B]] : (tensor<5x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<5x2xf32>
// CHECK-NOT: train.batch_norm
// CHECK: return %[[Y]] : tensor<5x2xf32>
func.func @fold_linear(%x: tensor<5x3xf32>) -> tensor<5x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %b = arith.constant dense<[0.0, 3.0]> : tensor<2xf32>
  %g = arith.constant dense<[1.0, 4.0]> : tensor<2xf32>
  %be = arith.constant dense<0.0> : tensor<2xf32>
  %m = arith.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %v = arith.constant dense<[1.0, 4.0]> : tensor<2xf32>
  %l = train.linear %x, %w, %b : (tensor<5x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<5x2xf32>
  %y = train.batch_norm %l, %g, %be, %m, %v epsilon 0.0
      : (tensor<5x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<5x2xf32>
  return %y : tensor<5x2xf32>
}

// Two batch norms in a row fold one after the other: W = 1 -> 2 -> 4, b = 0 -> 0 -> -1.
// CHECK-LABEL: func.func @fold_twice(
// CHECK: %[[W:.*]] = arith.constant dense<4.000000e+00> : tensor<1x1x1x1xf32>
// CHECK-NEXT: %[[B:.*]] = arith.constant dense<-1.000000e+00> : tensor<1xf32>
// CHECK-NEXT: %[[Y:.*]] = train.conv2d %{{.*}}, %[[W]], %[[B]] :
// CHECK-NOT: train.batch_norm
// CHECK-NOT: arith.constant
// CHECK: return %[[Y]]
func.func @fold_twice(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<1x1x1x1xf32>
  %two = arith.constant dense<2.0> : tensor<1xf32>
  %zero = arith.constant dense<0.0> : tensor<1xf32>
  %one = arith.constant dense<1.0> : tensor<1xf32>
  %quarter = arith.constant dense<0.25> : tensor<1xf32>
  %c = train.conv2d %x, %w : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x2x2xf32>
  %n = train.batch_norm %c, %two, %zero, %zero, %one epsilon 0.0
      : (tensor<1x1x2x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>)
      -> tensor<1x1x2x2xf32>
  %y = train.batch_norm %n, %one, %one, %one, %quarter epsilon 0.0
      : (tensor<1x1x2x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>)
      -> tensor<1x1x2x2xf32>
  return %y : tensor<1x1x2x2xf32>
}

// The weight is a function argument (a parameter): nothing is folded.
// CHECK-LABEL: func.func @no_fold_weight_argument(
// CHECK-SAME: %[[X:.*]]: tensor<1x1x3x3xf32>, %[[W:.*]]: tensor<2x1x1x1xf32>)
// CHECK: %[[C:.*]] = train.conv2d %[[X]], %[[W]] :
// CHECK: %[[Y:.*]] = train.batch_norm %[[C]],
// CHECK: return %[[Y]]
func.func @no_fold_weight_argument(%x: tensor<1x1x3x3xf32>, %w: tensor<2x1x1x1xf32>)
    -> tensor<1x2x3x3xf32> {
  %p = arith.constant dense<1.0> : tensor<2xf32>
  %c = train.conv2d %x, %w
      : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x3x3xf32>
  %y = train.batch_norm %c, %p, %p, %p, %p epsilon 1.000000e-05
      : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x3x3xf32>
  return %y : tensor<1x2x3x3xf32>
}

// The conv result is also returned: folding would change it.
// CHECK-LABEL: func.func @no_fold_conv_used_twice(
// CHECK: %[[C:.*]] = train.conv2d
// CHECK: %[[Y:.*]] = train.batch_norm %[[C]],
// CHECK: return %[[C]], %[[Y]]
func.func @no_fold_conv_used_twice(%x: tensor<1x1x3x3xf32>)
    -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<2x1x1x1xf32>
  %p = arith.constant dense<1.0> : tensor<2xf32>
  %c = train.conv2d %x, %w
      : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x3x3xf32>
  %y = train.batch_norm %c, %p, %p, %p, %p epsilon 1.000000e-05
      : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x3x3xf32>
  return %c, %y : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}

// A batch norm statistic that is an argument, a batch norm after a relu, and a
// weight held in a dense_resource blob are left alone.
// CHECK-LABEL: func.func @no_fold_others(
// CHECK-SAME: %[[X:.*]]: tensor<1x1x3x3xf32>, %[[VAR:.*]]: tensor<2xf32>)
// CHECK: %[[C:.*]] = train.conv2d %[[X]],
// CHECK: %[[N:.*]] = train.batch_norm %[[C]], %{{.*}}, %{{.*}}, %{{.*}}, %[[VAR]]
// CHECK: %[[R:.*]] = train.relu %[[N]]
// CHECK: train.batch_norm %[[R]],
// CHECK: %[[W:.*]] = arith.constant dense_resource<w_blob> : tensor<2x1x1x1xf32>
// CHECK: %[[C2:.*]] = train.conv2d %[[X]], %[[W]]
// CHECK: train.batch_norm %[[C2]],
func.func @no_fold_others(%x: tensor<1x1x3x3xf32>, %var: tensor<2xf32>)
    -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<2x1x1x1xf32>
  %p = arith.constant dense<1.0> : tensor<2xf32>
  %c = train.conv2d %x, %w
      : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x3x3xf32>
  %n = train.batch_norm %c, %p, %p, %p, %var epsilon 1.000000e-05
      : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x3x3xf32>
  %r = train.relu %n : tensor<1x2x3x3xf32>
  %y = train.batch_norm %r, %p, %p, %p, %p epsilon 1.000000e-05
      : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x3x3xf32>
  %wr = arith.constant dense_resource<w_blob> : tensor<2x1x1x1xf32>
  %c2 = train.conv2d %x, %wr
      : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x3x3xf32>
  %y2 = train.batch_norm %c2, %p, %p, %p, %p epsilon 1.000000e-05
      : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> tensor<1x2x3x3xf32>
  return %y, %y2 : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w_blob: "0x040000000000803F00000040"
    }
  }
#-}
