// RUN: tcc-opt --train-int16-gradients --split-input-file %s | FileCheck %s

// The backward pass of an int8 step in int16 fixed point: the loss gradient reads the
// int8 logits (Q0.15, scale 2^-15), the input gradient reads the int8 weight, each
// calibrated op gets the smallest exponent with 2 x its train.grad_range below 32767
// (4.0 -> 2^-11), a mask keeps its operand's exponent, the bias
// gradient is an int32 sum of the same scale, and the fused update reads the int8
// activation. The dequantizations the gradients read are gone. The loss gradient's
// dynamic scale 2^k (its `shift` result) reaches every update.
!x = !quant.uniform<i8:f32, 5.000000e-02:-3>
!y = !quant.uniform<i8:f32, 1.000000e-01:-128>
!w = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02}>
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x2x4x4x
// CHECK-SAME: %[[W:[^:]*]]: tensor<2x2x1x1x
// CHECK-SAME: %[[B:[^:]*]]: tensor<2xi32>
// CHECK-SAME: %[[M:[^:]*]]: tensor<4xi8>
// CHECK-SAME: %[[L:[^:]*]]: tensor<1xi32>
func.func @step(%x: tensor<1x2x4x4x!x>, %w: tensor<2x2x1x1x!w>, %b: tensor<2xi32>,
                %m: tensor<4xi8>, %label: tensor<1xi32>)
    -> (tensor<2x2x1x1x!w>, tensor<2xi32>) {
  %y = train.qconv2d %x, %w, %b rounding multiplier_shift
      : (tensor<1x2x4x4x!x>, tensor<2x2x1x1x!w>, tensor<2xi32>) -> tensor<1x2x4x4x!y>
  %r = train.reshape %y : tensor<1x2x4x4x!y> -> tensor<1x32x!y>
  %l = quant.dcast %r : tensor<1x32x!y> to tensor<1x32xf32>
  // CHECK: %[[R:.*]] = train.reshape
  // CHECK-NOT: quant.dcast %[[R]]
  // CHECK: %[[G:.*]], %[[K:.*]] = train.cross_entropy_grad %[[R]], %[[L]] : tensor<1x32x!quant.uniform<i8:f32, 1.000000e-01:-128>>, tensor<1xi32> -> tensor<1x32x!quant.uniform<i16:f32, 3.0517578125E-5>>, tensor<i32>
  %g = train.cross_entropy_grad %l, %label : tensor<1x32xf32>, tensor<1xi32> -> tensor<1x32xf32>
  // CHECK: %[[G4:.*]] = train.reshape %[[G]] : tensor<1x32x!quant.uniform<i16:f32, 3.0517578125E-5>> -> tensor<1x2x4x4x!quant.uniform<i16:f32, 3.0517578125E-5>>
  %g4 = train.reshape %g : tensor<1x32xf32> -> tensor<1x2x4x4xf32>
  // CHECK: %[[DX:.*]] = train.conv2d_grad_input %[[G4]], %[[W]] : (tensor<1x2x4x4x!quant.uniform<i16:f32, 3.0517578125E-5>>, tensor<2x2x1x1x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02}>>) -> tensor<1x2x4x4x!quant.uniform<i16:f32, 4.8828125E-4>>
  // CHECK-NOT: train.grad_range
  %wf = quant.dcast %w : tensor<2x2x1x1x!w> to tensor<2x2x1x1xf32>
  %dx = train.conv2d_grad_input %g4, %wf {train.grad_range = 4.0 : f64}
      : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  // CHECK: %[[MDX:.*]] = train.mask_grad %[[DX]], %[[M]] : tensor<1x2x4x4x!quant.uniform<i16:f32, 4.8828125E-4>>, tensor<4xi8>
  %mdx = train.mask_grad %dx, %m : tensor<1x2x4x4xf32>, tensor<4xi8>
  // CHECK: %[[GB:.*]] = train.bias_grad %[[G4]] : tensor<1x2x4x4x!quant.uniform<i16:f32, 3.0517578125E-5>> -> tensor<2x!quant.uniform<i32:f32, 3.0517578125E-5>>
  %gb = train.bias_grad %g4 : tensor<1x2x4x4xf32> -> tensor<2xf32>
  // CHECK: train.qsgd %[[B]], %[[GB]] shift %[[K]] lr
  %b2 = train.qsgd %b, %gb lr 0.05 scales [5.0e-4, 1.0e-3] qas
      : (tensor<2xi32>, tensor<2xf32>) -> tensor<2xi32>
  // CHECK: train.conv2d_qsgd %[[W]], %[[G4]], %[[X]] shift %[[K]] lr
  %xf = quant.dcast %x : tensor<1x2x4x4x!x> to tensor<1x2x4x4xf32>
  %w2 = train.conv2d_qsgd %w, %g4, %xf lr 0.05 qas
      : (tensor<2x2x1x1x!w>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<2x2x1x1x!w>
  return %w2, %b2 : tensor<2x2x1x1x!w>, tensor<2xi32>
}

// -----

// An add's operands and result share the largest of their exponents (0.01 -> 2^-20,
// 1.0 -> 2^-13 since 2 x 1.0 > 32767 x 2^-14, 0.5 -> 2^-14): a saturating int16 add.
!w = !quant.uniform<i8:f32:0, {1.000000e-02}>
!y = !quant.uniform<i8:f32, 1.000000e-01:0>
// CHECK-LABEL: func.func @add(
func.func @add(%w: tensor<1x1x1x1x!w>, %bias: tensor<1xi32>, %logits: tensor<1x4x!y>,
               %label: tensor<1xi32>) -> tensor<1xi32> {
  %l = quant.dcast %logits : tensor<1x4x!y> to tensor<1x4xf32>
  %g = train.cross_entropy_grad %l, %label : tensor<1x4xf32>, tensor<1xi32> -> tensor<1x4xf32>
  %g4 = train.reshape %g : tensor<1x4xf32> -> tensor<1x1x2x2xf32>
  %wf = quant.dcast %w : tensor<1x1x1x1x!w> to tensor<1x1x1x1xf32>
  // CHECK: train.conv2d_grad_input {{.*}} -> tensor<1x1x2x2x!quant.uniform<i16:f32, 1.220703125E-4>>
  %a = train.conv2d_grad_input %g4, %wf {train.grad_range = 0.01 : f64}
      : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x2x2xf32>
  // CHECK: train.conv2d_grad_input {{.*}} -> tensor<1x1x2x2x!quant.uniform<i16:f32, 1.220703125E-4>>
  %b = train.conv2d_grad_input %a, %wf {train.grad_range = 1.0 : f64}
      : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x2x2xf32>
  // CHECK: train.add {{.*}} : tensor<1x1x2x2x!quant.uniform<i16:f32, 1.220703125E-4>>
  %s = train.add %a, %b {train.grad_range = 0.5 : f64} : tensor<1x1x2x2xf32>
  %gb = train.bias_grad %s : tensor<1x1x2x2xf32> -> tensor<1xf32>
  %b2 = train.qsgd %bias, %gb lr 0.05 scales [1.0e-3] : (tensor<1xi32>, tensor<1xf32>) -> tensor<1xi32>
  return %b2 : tensor<1xi32>
}
