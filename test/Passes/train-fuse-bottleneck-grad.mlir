// RUN: tcc-opt --train-fuse-bottleneck-grad --split-input-file %s | FileCheck %s

// A trained block's backward (projection and depthwise frozen, the expansion's
// weight updated from an int8 x) becomes one op: its bias gradients are results
// that the bias updates read, the expansion's update is its fourth result.
!x = !quant.uniform<i8:f32, 0.02:-128>
!we = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
// CHECK-LABEL: func.func @trained_block(
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x2x4x4xf32>
// CHECK-SAME: %[[WP:[^:]*]]: tensor<2x6x1x1xf32>
// CHECK-SAME: %[[WD:[^:]*]]: tensor<6x1x3x3xf32>
// CHECK-SAME: %[[MD:[^:]*]]: tensor<12xi8>
// CHECK-SAME: %[[W:[^:]*]]: tensor<6x3x1x1x
// CHECK-SAME: %[[ME:[^:]*]]: tensor<48xi8>
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x3x8x8x
// CHECK-SAME: %[[BD:[^:]*]]: tensor<6xi32>
// CHECK-SAME: %[[BE:[^:]*]]: tensor<6xi32>
func.func @trained_block(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>,
                         %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>,
                         %w: tensor<6x3x1x1x!we>, %me: tensor<48xi8>,
                         %x: tensor<1x3x8x8x!x>, %bd: tensor<6xi32>, %be: tensor<6xi32>)
    -> (tensor<1x3x8x8xf32>, tensor<6x3x1x1x!we>, tensor<6xi32>, tensor<6xi32>) {
  // CHECK: %[[WE:.*]] = quant.dcast %[[W]]
  // CHECK: %[[DX:.*]], %[[DBD:.*]], %[[DBE:.*]], %[[U:.*]] = train.bottleneck_grad %[[DY]] project %[[WP]] depthwise %[[WD]], %[[MD]] stride [2, 2] padding [1, 1] expand %[[WE]], %[[ME]] update %[[W]], %[[X]] lr 1.000000e-01 qas :
  // CHECK-NOT: train.conv2d_grad_input
  // CHECK-NOT: train.mask_grad
  // CHECK-NOT: train.conv2d_qsgd
  // CHECK: %[[UD:.*]] = train.qsgd %[[BD]], %[[DBD]]
  // CHECK: %[[UE:.*]] = train.qsgd %[[BE]], %[[DBE]]
  // CHECK: return %[[DX]], %[[U]], %[[UD]], %[[UE]]
  %g2 = train.conv2d_grad_input %dy, %wp
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>) -> tensor<1x6x4x4xf32>
  %g2m = train.mask_grad %g2, %md : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbd = train.bias_grad %g2m : tensor<1x6x4x4xf32> -> tensor<6xf32>
  %gd = train.conv2d_grad_input %g2m, %wd stride [2, 2] padding [1, 1] groups 6
      : (tensor<1x6x4x4xf32>, tensor<6x1x3x3xf32>) -> tensor<1x6x8x8xf32>
  %g1 = train.mask_grad %gd, %me : tensor<1x6x8x8xf32>, tensor<48xi8>
  %gbe = train.bias_grad %g1 : tensor<1x6x8x8xf32> -> tensor<6xf32>
  %we = quant.dcast %w : tensor<6x3x1x1x!we> to tensor<6x3x1x1xf32>
  %dx = train.conv2d_grad_input %g1, %we
      : (tensor<1x6x8x8xf32>, tensor<6x3x1x1xf32>) -> tensor<1x3x8x8xf32>
  %u = train.conv2d_qsgd %w, %g1, %x lr 0.1 qas
      : (tensor<6x3x1x1x!we>, tensor<1x6x8x8xf32>, tensor<1x3x8x8x!x>) -> tensor<6x3x1x1x!we>
  %ud = train.qsgd %bd, %gbd lr 0.1 scales [1.0e-3, 1.0e-3, 1.0e-3, 1.0e-3, 1.0e-3, 1.0e-3] qas
      : (tensor<6xi32>, tensor<6xf32>) -> tensor<6xi32>
  %ue = train.qsgd %be, %gbe lr 0.1 scales [1.0e-3, 1.0e-3, 1.0e-3, 1.0e-3, 1.0e-3, 1.0e-3] qas
      : (tensor<6xi32>, tensor<6xf32>) -> tensor<6xi32>
  return %dx, %u, %ud, %ue : tensor<1x3x8x8xf32>, tensor<6x3x1x1x!we>, tensor<6xi32>, tensor<6xi32>
}

// -----

// A frozen expansion weight (biases trained only): no update, three results. An
// operand defined after the chain starts (the mask of g1) moves up before it.
// CHECK-LABEL: func.func @bias_only(
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x2x4x4xf32>
// CHECK: %[[ME:.*]] = train.clamp_mask
// CHECK: %[[DX:.*]], %[[DBD:.*]], %[[DBE:.*]] = train.bottleneck_grad %[[DY]] project %{{.*}} depthwise %{{.*}}, %{{.*}} padding [1, 1] expand %{{.*}}, %[[ME]] : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<12xi8>) -> (tensor<1x3x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
// CHECK-NEXT: return %[[DX]], %[[DBD]], %[[DBE]]
func.func @bias_only(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>,
                     %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>,
                     %we: tensor<6x3x1x1xf32>, %e: tensor<1x6x4x4xf32>)
    -> (tensor<1x3x4x4xf32>, tensor<6xf32>, tensor<6xf32>) {
  %g2 = train.conv2d_grad_input %dy, %wp
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>) -> tensor<1x6x4x4xf32>
  %g2m = train.mask_grad %g2, %md : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbd = train.bias_grad %g2m : tensor<1x6x4x4xf32> -> tensor<6xf32>
  %gd = train.conv2d_grad_input %g2m, %wd padding [1, 1] groups 6
      : (tensor<1x6x4x4xf32>, tensor<6x1x3x3xf32>) -> tensor<1x6x4x4xf32>
  %me = train.clamp_mask %e min 0.0 max 6.0 : tensor<1x6x4x4xf32> -> tensor<12xi8>
  %g1 = train.mask_grad %gd, %me : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbe = train.bias_grad %g1 : tensor<1x6x4x4xf32> -> tensor<6xf32>
  %dx = train.conv2d_grad_input %g1, %we
      : (tensor<1x6x4x4xf32>, tensor<6x3x1x1xf32>) -> tensor<1x3x4x4xf32>
  return %dx, %gbd, %gbe : tensor<1x3x4x4xf32>, tensor<6xf32>, tensor<6xf32>
}

// -----

// Left alone: an expanded gradient another op also reads (here the caller), and a
// block whose expansion has no input gradient (the first trained block).
// CHECK-LABEL: func.func @not_fused(
// CHECK-NOT: train.bottleneck_grad
// CHECK: train.conv2d_grad_input
// CHECK: return
func.func @not_fused(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>,
                     %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>,
                     %we: tensor<6x3x1x1xf32>, %me: tensor<12xi8>)
    -> (tensor<1x3x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<1x6x4x4xf32>) {
  %g2 = train.conv2d_grad_input %dy, %wp
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>) -> tensor<1x6x4x4xf32>
  %g2m = train.mask_grad %g2, %md : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbd = train.bias_grad %g2m : tensor<1x6x4x4xf32> -> tensor<6xf32>
  %gd = train.conv2d_grad_input %g2m, %wd padding [1, 1] groups 6
      : (tensor<1x6x4x4xf32>, tensor<6x1x3x3xf32>) -> tensor<1x6x4x4xf32>
  %g1 = train.mask_grad %gd, %me : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbe = train.bias_grad %g1 : tensor<1x6x4x4xf32> -> tensor<6xf32>
  %dx = train.conv2d_grad_input %g1, %we
      : (tensor<1x6x4x4xf32>, tensor<6x3x1x1xf32>) -> tensor<1x3x4x4xf32>
  return %dx, %gbd, %gbe, %g1 : tensor<1x3x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<1x6x4x4xf32>
}

// CHECK-LABEL: func.func @no_input_gradient(
// CHECK-NOT: train.bottleneck_grad
// CHECK: return
func.func @no_input_gradient(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>,
                             %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>,
                             %me: tensor<12xi8>) -> (tensor<6xf32>, tensor<6xf32>) {
  %g2 = train.conv2d_grad_input %dy, %wp
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>) -> tensor<1x6x4x4xf32>
  %g2m = train.mask_grad %g2, %md : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbd = train.bias_grad %g2m : tensor<1x6x4x4xf32> -> tensor<6xf32>
  %gd = train.conv2d_grad_input %g2m, %wd padding [1, 1] groups 6
      : (tensor<1x6x4x4xf32>, tensor<6x1x3x3xf32>) -> tensor<1x6x4x4xf32>
  %g1 = train.mask_grad %gd, %me : tensor<1x6x4x4xf32>, tensor<12xi8>
  %gbe = train.bias_grad %g1 : tensor<1x6x4x4xf32> -> tensor<6xf32>
  return %gbd, %gbe : tensor<6xf32>, tensor<6xf32>
}
