// RUN: tcc-opt --train-fuse-update --split-input-file %s | FileCheck %s

// A weight gradient read only by the int8 update of its weight becomes part of the
// update: train.conv2d_qsgd takes dy and x, with the conv's geometry and the
// update's hyperparameters; no f32 weight gradient is left.
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
// CHECK-LABEL: func.func @whole_weight(
// CHECK-SAME: %[[W:[^:]*]]: tensor<2x3x3x3x
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x2x4x4xf32>
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x3x8x8xf32>
func.func @whole_weight(%w: tensor<2x3x3x3x!w>, %dy: tensor<1x2x4x4xf32>,
                        %x: tensor<1x3x8x8xf32>) -> tensor<2x3x3x3x!w> {
  // CHECK-NOT: train.conv2d_grad_weight
  // CHECK: %[[U:.*]] = train.conv2d_qsgd %[[W]], %[[DY]], %[[X]] stride [2, 2] padding [1, 1] lr 5.000000e-02 weight_decay 1.000000e-03 qas : (tensor<2x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02}>>, tensor<1x2x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<2x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02}>>
  // CHECK-NOT: train.qsgd
  // CHECK: return %[[U]]
  %g = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1]
      : (tensor<1x2x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<2x3x3x3xf32>
  %u = train.qsgd %w, %g lr 0.05 weight_decay 0.001 qas
      : (tensor<2x3x3x3x!w>, tensor<2x3x3x3xf32>) -> tensor<2x3x3x3x!w>
  return %u : tensor<2x3x3x3x!w>
}

// -----

// A partial-channel gradient zero-padded at offset 0 (no weight decay) fuses too:
// the fused op updates the first channels.
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2, 3.0e-2}>
// CHECK-LABEL: func.func @partial_channels(
// CHECK-SAME: %[[W:[^:]*]]: tensor<3x4x1x1x
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x3x2x2xf32>
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x2x2x2xf32>
func.func @partial_channels(%w: tensor<3x4x1x1x!w>, %dy: tensor<1x3x2x2xf32>,
                            %x: tensor<1x2x2x2xf32>) -> tensor<3x4x1x1x!w> {
  // CHECK-NOT: train.pad_to
  // CHECK: %[[U:.*]] = train.conv2d_qsgd %[[W]], %[[DY]], %[[X]] lr 1.000000e-01 :
  // CHECK-NEXT: return %[[U]]
  %g = train.conv2d_grad_weight %dy, %x
      : (tensor<1x3x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<3x2x1x1xf32>
  %p = train.pad_to %g offsets [0, 0, 0, 0] : tensor<3x2x1x1xf32> -> tensor<3x4x1x1xf32>
  %u = train.qsgd %w, %p lr 0.1
      : (tensor<3x4x1x1x!w>, tensor<3x4x1x1xf32>) -> tensor<3x4x1x1x!w>
  return %u : tensor<3x4x1x1x!w>
}

// -----

// Left alone: a padded gradient whose update decays the weight (the untrained
// channels would decay too), and a gradient another op also reads.
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2, 3.0e-2}>
// CHECK-LABEL: func.func @not_fused(
func.func @not_fused(%w: tensor<3x4x1x1x!w>, %v: tensor<3x2x1x1x!w>,
                     %dy: tensor<1x3x2x2xf32>, %x: tensor<1x2x2x2xf32>)
    -> (tensor<3x4x1x1x!w>, tensor<3x2x1x1x!w>, tensor<3x2x1x1xf32>) {
  // CHECK-NOT: train.conv2d_qsgd
  // CHECK: train.pad_to
  // CHECK: train.qsgd
  // CHECK: train.qsgd
  // CHECK-NOT: train.conv2d_qsgd
  %g = train.conv2d_grad_weight %dy, %x
      : (tensor<1x3x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<3x2x1x1xf32>
  %p = train.pad_to %g offsets [0, 0, 0, 0] : tensor<3x2x1x1xf32> -> tensor<3x4x1x1xf32>
  %u = train.qsgd %w, %p lr 0.1 weight_decay 0.01
      : (tensor<3x4x1x1x!w>, tensor<3x4x1x1xf32>) -> tensor<3x4x1x1x!w>
  %h = train.conv2d_grad_weight %dy, %x
      : (tensor<1x3x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<3x2x1x1xf32>
  %t = train.qsgd %v, %h lr 0.1
      : (tensor<3x2x1x1x!w>, tensor<3x2x1x1xf32>) -> tensor<3x2x1x1x!w>
  return %u, %t, %h : tensor<3x4x1x1x!w>, tensor<3x2x1x1x!w>, tensor<3x2x1x1xf32>
}

// -----

// x the dequantized int8 activation: the fused op reads the activation itself (no
// f32 copy); a cast another op still reads stays for it.
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
!a = !quant.uniform<i8:f32, 5.0e-2:-3>
// CHECK-LABEL: func.func @int8_activation(
// CHECK-SAME: %[[X8:[^:]*]]: tensor<1x3x8x8x!quant.uniform<i8:f32, 5.000000e-02:-3>>
// CHECK-NOT: quant.dcast
// CHECK: %[[U:.*]] = train.conv2d_qsgd %{{.*}}, %{{.*}}, %[[X8]] stride [2, 2] padding [1, 1] lr 5.000000e-02 :
// CHECK: %[[V:.*]] = train.conv2d_qsgd %{{.*}}, %{{.*}}, %[[X8]] stride [2, 2] padding [1, 1] lr 5.000000e-02 :
// CHECK: return %[[U]], %[[V]]
func.func @int8_activation(%w: tensor<2x3x3x3x!w>, %v: tensor<2x3x3x3x!w>,
                           %dy: tensor<1x2x4x4xf32>, %x8: tensor<1x3x8x8x!a>)
    -> (tensor<2x3x3x3x!w>, tensor<2x3x3x3x!w>) {
  %x = quant.dcast %x8 : tensor<1x3x8x8x!a> to tensor<1x3x8x8xf32>
  %g = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1]
      : (tensor<1x2x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<2x3x3x3xf32>
  %u = train.qsgd %w, %g lr 0.05
      : (tensor<2x3x3x3x!w>, tensor<2x3x3x3xf32>) -> tensor<2x3x3x3x!w>
  %h = train.conv2d_grad_weight %dy, %x stride [2, 2] padding [1, 1]
      : (tensor<1x2x4x4xf32>, tensor<1x3x8x8xf32>) -> tensor<2x3x3x3xf32>
  %t = train.qsgd %v, %h lr 0.05
      : (tensor<2x3x3x3x!w>, tensor<2x3x3x3xf32>) -> tensor<2x3x3x3x!w>
  return %u, %t : tensor<2x3x3x3x!w>, tensor<2x3x3x3x!w>
}
