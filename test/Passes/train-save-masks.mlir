// RUN: tcc-opt --train-save-masks --split-input-file %s | FileCheck %s

// The saturation mask of an int8 activation is computed right after the activation
// (one bit per element); the backward pass masks with it instead of comparing an f32
// copy, and the dcast goes. Two masks of one value with the same bounds are one.
!a = !quant.uniform<i8:f32, 0.02:-128>
!y = !quant.uniform<i8:f32, 0.05:-128>
// CHECK-LABEL: func.func @int8_activation(
// CHECK-SAME: %[[A:[^:]*]]: tensor<1x2x3x3x
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x2x3x3xf32>
func.func @int8_activation(%a: tensor<1x2x3x3x!a>, %dy: tensor<1x2x3x3xf32>)
    -> (tensor<1x2x3x3x!y>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  // CHECK: %[[Y:.*]] = train.qadd %[[A]], %[[A]]
  // CHECK-NEXT: %[[M:.*]] = train.clamp_mask %[[Y]] min 0.000000e+00 max 1.275000e+01 : tensor<1x2x3x3x!quant.uniform<i8:f32, 5.000000e-02:-128>> -> tensor<3xi8>
  %y = train.qadd %a, %a rounding float_scale
      : (tensor<1x2x3x3x!a>, tensor<1x2x3x3x!a>) -> tensor<1x2x3x3x!y>
  // CHECK: %[[Z:.*]] = train.qadd %[[Y]], %[[Y]]
  %z = train.qadd %y, %y rounding float_scale
      : (tensor<1x2x3x3x!y>, tensor<1x2x3x3x!y>) -> tensor<1x2x3x3x!y>
  // CHECK-NOT: quant.dcast
  // CHECK: %[[G1:.*]] = train.mask_grad %[[DY]], %[[M]] : tensor<1x2x3x3xf32>, tensor<3xi8>
  // CHECK: %[[G2:.*]] = train.mask_grad %[[G1]], %[[M]] : tensor<1x2x3x3xf32>, tensor<3xi8>
  // CHECK-NOT: train.clamp_grad
  // CHECK: return %[[Z]], %[[G1]], %[[G2]]
  %r = quant.dcast %y : tensor<1x2x3x3x!y> to tensor<1x2x3x3xf32>
  %g1 = train.clamp_grad %dy, %r min 0.0 max 12.75 : tensor<1x2x3x3xf32>
  %g2 = train.clamp_grad %g1, %r min 0.0 max 12.75 : tensor<1x2x3x3xf32>
  return %z, %g1, %g2 : tensor<1x2x3x3x!y>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}

// -----

// A dcast the backward pass also reads for another op stays; a float activation that
// is an argument gets its mask at the start of the function.
!y = !quant.uniform<i8:f32, 0.05:-128>
// CHECK-LABEL: func.func @kept_reader(
// CHECK-SAME: %[[Y:[^:]*]]: tensor<4x!quant
// CHECK-SAME: %[[X:[^:]*]]: tensor<4xf32>
// CHECK-SAME: %[[DY:[^:]*]]: tensor<4xf32>
func.func @kept_reader(%y: tensor<4x!y>, %x: tensor<4xf32>, %dy: tensor<4xf32>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK: %[[MX:.*]] = train.clamp_mask %[[X]] min -1.000000e+00 max 1.000000e+00 : tensor<4xf32> -> tensor<1xi8>
  // CHECK: %[[MY:.*]] = train.clamp_mask %[[Y]] min 0.000000e+00 max 6.000000e+00
  // CHECK: %[[R:.*]] = quant.dcast %[[Y]]
  // CHECK: %[[GY:.*]] = train.mask_grad %[[DY]], %[[MY]]
  // CHECK: %[[P:.*]] = train.mul %[[GY]], %[[R]]
  // CHECK: %[[GX:.*]] = train.mask_grad %[[DY]], %[[MX]]
  // CHECK: return %[[GY]], %[[P]], %[[GX]]
  %r = quant.dcast %y : tensor<4x!y> to tensor<4xf32>
  %gy = train.clamp_grad %dy, %r min 0.0 max 6.0 : tensor<4xf32>
  %p = train.mul %gy, %r : tensor<4xf32>
  %gx = train.clamp_grad %dy, %x min -1.0 max 1.0 : tensor<4xf32>
  return %gy, %p, %gx : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
