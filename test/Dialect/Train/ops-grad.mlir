// RUN: tcc-opt %s | tcc-opt | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip

// Round trip of the gradient and optimizer ops of issue 4 (sum_to ... qsgd) and
// of the train.channels / train.momentum_of argument attributes: custom form ->
// custom form, and custom -> generic -> custom gives byte-identical output.
// Geometry attributes and weight_decay are printed only when not the default.

// CHECK-LABEL: func.func @sum_to(
// CHECK-SAME: %[[DY:.*]]: tensor<4x8x5x5xf32>)
func.func @sum_to(%dy: tensor<4x8x5x5xf32>)
    -> (tensor<1x8x1x1xf32>, tensor<5x1xf32>, tensor<4x8x5x5xf32>) {
  // CHECK: train.sum_to %[[DY]] : tensor<4x8x5x5xf32> -> tensor<1x8x1x1xf32>
  %0 = train.sum_to %dy : tensor<4x8x5x5xf32> -> tensor<1x8x1x1xf32>
  // Lower rank: aligned with the trailing dimensions.
  // CHECK: train.sum_to %[[DY]] : tensor<4x8x5x5xf32> -> tensor<5x1xf32>
  %1 = train.sum_to %dy : tensor<4x8x5x5xf32> -> tensor<5x1xf32>
  // The identity is allowed.
  // CHECK: train.sum_to %[[DY]] : tensor<4x8x5x5xf32> -> tensor<4x8x5x5xf32>
  %2 = train.sum_to %dy : tensor<4x8x5x5xf32> -> tensor<4x8x5x5xf32>
  return %0, %1, %2 : tensor<1x8x1x1xf32>, tensor<5x1xf32>, tensor<4x8x5x5xf32>
}

// CHECK-LABEL: func.func @slice_and_pad_to(
// CHECK-SAME: %[[X:.*]]: tensor<1x8x8x8xf32>, %[[Q:.*]]: tensor<4x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>)
func.func @slice_and_pad_to(%x: tensor<1x8x8x8xf32>,
                            %q: tensor<4x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>)
    -> (tensor<1x8x8x8xf32>, tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>) {
  // The first 4 channels, and back into channels 4..7 of a zero tensor.
  // CHECK: %[[S:.*]] = train.slice %[[X]] offsets [0, 0, 0, 0] sizes [1, 4, 8, 8] : tensor<1x8x8x8xf32> -> tensor<1x4x8x8xf32>
  %0 = train.slice %x offsets [0, 0, 0, 0] sizes [1, 4, 8, 8]
      : tensor<1x8x8x8xf32> -> tensor<1x4x8x8xf32>
  // CHECK: train.pad_to %[[S]] offsets [0, 4, 0, 0] : tensor<1x4x8x8xf32> -> tensor<1x8x8x8xf32>
  %1 = train.pad_to %0 offsets [0, 4, 0, 0] : tensor<1x4x8x8xf32> -> tensor<1x8x8x8xf32>
  // Slices move values only: per-tensor quantized tensors are allowed.
  // CHECK: train.slice %[[Q]] offsets [0, 5] sizes [4, 3] : tensor<4x8x!quant.uniform<i8:f32, 2.000000e-02:-128>> -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  %2 = train.slice %q offsets [0, 5] sizes [4, 3]
      : tensor<4x8x!quant.uniform<i8:f32, 2.000000e-02:-128>>
      -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
  return %1, %2 : tensor<1x8x8x8xf32>, tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02:-128>>
}

// CHECK-LABEL: func.func @pool_grads(
// CHECK-SAME: %[[DY5:.*]]: tensor<1x8x5x5xf32>, %[[DY4:.*]]: tensor<1x8x4x4xf32>, %[[X:.*]]: tensor<1x8x8x8xf32>)
func.func @pool_grads(%dy5: tensor<1x8x5x5xf32>, %dy4: tensor<1x8x4x4xf32>,
                      %x: tensor<1x8x8x8xf32>)
    -> (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>,
        tensor<1x8x8x8xf32>) {
  // CHECK: train.avg_pool2d_grad %[[DY5]] kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad : (tensor<1x8x5x5xf32>) -> tensor<1x8x8x8xf32>
  %0 = train.avg_pool2d_grad %dy5 kernel [2, 2] stride [2, 2] padding [1, 1] count_include_pad
      : (tensor<1x8x5x5xf32>) -> tensor<1x8x8x8xf32>
  // Default stride [1, 1] and padding [0, 0] are not printed.
  // CHECK: train.avg_pool2d_grad %[[DY5]] kernel [4, 4] : (tensor<1x8x5x5xf32>) -> tensor<1x8x8x8xf32>
  %1 = train.avg_pool2d_grad %dy5 kernel [4, 4] stride [1, 1] padding [0, 0]
      : (tensor<1x8x5x5xf32>) -> tensor<1x8x8x8xf32>
  // CHECK: train.max_pool2d_grad %[[DY4]], %[[X]] kernel [3, 3] stride [2, 2] padding [1, 1] : (tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %2 = train.max_pool2d_grad %dy4, %x kernel [3, 3] stride [2, 2] padding [1, 1]
      : (tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  // CHECK: train.max_pool2d_grad %[[DY4]], %[[X]] kernel [2, 2] stride [2, 2] : (tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %3 = train.max_pool2d_grad %dy4, %x kernel [2, 2] stride [2, 2]
      : (tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  return %0, %1, %2, %3 : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>,
      tensor<1x8x8x8xf32>
}

// CHECK-LABEL: func.func @elementwise_grads(
// CHECK-SAME: %[[DY:.*]]: tensor<4x8xf32>, %[[X:.*]]: tensor<4x8xf32>, %[[Y:.*]]: tensor<4x8xf32>)
func.func @elementwise_grads(%dy: tensor<4x8xf32>, %x: tensor<4x8xf32>, %y: tensor<4x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
        tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  // relu6.
  // CHECK: train.clamp_grad %[[DY]], %[[X]] min 0.000000e+00 max 6.000000e+00 : tensor<4x8xf32>
  %0 = train.clamp_grad %dy, %x min 0.0 max 6.0 : tensor<4x8xf32>
  // Equal bounds are allowed.
  // CHECK: train.clamp_grad %[[DY]], %[[X]] min -1.500000e+00 max -1.500000e+00 : tensor<4x8xf32>
  %1 = train.clamp_grad %dy, %x min -1.5 max -1.5 : tensor<4x8xf32>
  // CHECK: train.sigmoid_grad %[[DY]], %[[Y]] : tensor<4x8xf32>
  %2 = train.sigmoid_grad %dy, %y : tensor<4x8xf32>
  // CHECK: train.hardswish_grad %[[DY]], %[[X]] : tensor<4x8xf32>
  %3 = train.hardswish_grad %dy, %x : tensor<4x8xf32>
  // CHECK: train.gelu_grad %[[DY]], %[[X]] : tensor<4x8xf32>
  %4 = train.gelu_grad %dy, %x : tensor<4x8xf32>
  // CHECK: train.gelu_grad %[[DY]], %[[X]] tanh : tensor<4x8xf32>
  %5 = train.gelu_grad %dy, %x tanh : tensor<4x8xf32>
  // CHECK: train.softmax_grad %[[DY]], %[[Y]] axis 1 : tensor<4x8xf32>
  %6 = train.softmax_grad %dy, %y axis 1 : tensor<4x8xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>,
      tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// CHECK-LABEL: func.func @layer_norm_grad_input(
// CHECK-SAME: %[[DY:.*]]: tensor<2x3x4xf32>, %[[X:.*]]: tensor<2x3x4xf32>, %[[W1:.*]]: tensor<4xf32>, %[[W2:.*]]: tensor<3x4xf32>)
func.func @layer_norm_grad_input(%dy: tensor<2x3x4xf32>, %x: tensor<2x3x4xf32>,
                                 %w1: tensor<4xf32>, %w2: tensor<3x4xf32>)
    -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  // CHECK: train.layer_norm_grad_input %[[DY]], %[[X]], %[[W1]] epsilon 9.99999974E-6 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %0 = train.layer_norm_grad_input %dy, %x, %w1 epsilon 1.0e-05
      : (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  // Normalized over the trailing two dimensions.
  // CHECK: train.layer_norm_grad_input %[[DY]], %[[X]], %[[W2]] epsilon 0.000000e+00 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
  %1 = train.layer_norm_grad_input %dy, %x, %w2 epsilon 0.0
      : (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
  return %0, %1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @mse_grad(
// CHECK-SAME: %[[P:.*]]: tensor<4x3xf32>, %[[T:.*]]: tensor<4x3xf32>)
func.func @mse_grad(%p: tensor<4x3xf32>, %t: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // CHECK: train.mse_grad %[[P]], %[[T]] : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %0 = train.mse_grad %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// A momentum training step: the buffer argument names its parameter with
// train.momentum_of and is returned updated like the parameter; the weight
// trains its first 2 channels only.
// CHECK-LABEL: func.func @sgd_momentum(
// CHECK-SAME: %[[P:.*]]: tensor<8x4xf32> {train.channels = 2 : i64, train.name = "fc.weight", train.role = #train.role<trainable>}, %[[G:.*]]: tensor<8x4xf32>,
// CHECK-SAME: %[[M:.*]]: tensor<8x4xf32> {train.momentum_of = 0 : i64, train.name = "fc.weight.momentum"})
// CHECK-SAME: -> (tensor<8x4xf32> {train.updates = 0 : i64}, tensor<8x4xf32> {train.updates = 2 : i64}, tensor<8x4xf32>, tensor<8x4xf32>)
func.func @sgd_momentum(
    %p: tensor<8x4xf32> {train.role = #train.role<trainable>, train.name = "fc.weight",
                         train.channels = 2 : i64},
    %g: tensor<8x4xf32>,
    %m: tensor<8x4xf32> {train.momentum_of = 0 : i64, train.name = "fc.weight.momentum"})
    -> (tensor<8x4xf32> {train.updates = 0 : i64}, tensor<8x4xf32> {train.updates = 2 : i64},
        tensor<8x4xf32>, tensor<8x4xf32>) {
  // CHECK: %[[P2:.*]], %[[M2:.*]] = train.sgd_momentum %[[P]], %[[G]], %[[M]] lr 1.000000e-01 momentum 0.899999976 : tensor<8x4xf32>
  %p2, %m2 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 0.9 : tensor<8x4xf32>
  // Momentum 0 and a weight decay.
  // CHECK: %[[P3:.*]], %[[M3:.*]] = train.sgd_momentum %[[P]], %[[G]], %[[M]] lr 1.000000e-01 momentum 0.000000e+00 weight_decay 5.000000e-04 : tensor<8x4xf32>
  %p3, %m3 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 0.0 weight_decay 5.0e-04
      : tensor<8x4xf32>
  // CHECK: return %[[P2]], %[[M2]], %[[P3]], %[[M3]] : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
  return %p2, %m2, %p3, %m3 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// CHECK-LABEL: func.func @qsgd(
// CHECK-SAME: %[[W:.*]]: tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, %[[GW:.*]]: tensor<4x3x3x3xf32>,
// CHECK-SAME: %[[B:.*]]: tensor<4xi32>, %[[GB:.*]]: tensor<4xf32>,
// CHECK-SAME: %[[A:.*]]: tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02>>, %[[GA:.*]]: tensor<4x3xf32>)
func.func @qsgd(
    %w: tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
    %gw: tensor<4x3x3x3xf32>, %b: tensor<4xi32>, %gb: tensor<4xf32>,
    %a: tensor<4x3x!quant.uniform<i8:f32, 2.0e-2>>, %ga: tensor<4x3xf32>)
    -> (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
        tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
        tensor<4xi32>, tensor<4xi32>, tensor<4x3x!quant.uniform<i8:f32, 2.0e-2>>) {
  // Per-axis int8 weight with quantization-aware scaling.
  // CHECK: train.qsgd %[[W]], %[[GW]] lr 0.00999999977 qas : (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3x3x3xf32>) -> tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  %0 = train.qsgd %w, %gw lr 0.01 qas
      : (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
         tensor<4x3x3x3xf32>)
      -> tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>
  // Without QAS (the paper's int8 SGD baseline), with a weight decay.
  // CHECK: train.qsgd %[[W]], %[[GW]] lr 0.00999999977 weight_decay 5.000000e-01 : (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>, tensor<4x3x3x3xf32>) -> tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>>
  %1 = train.qsgd %w, %gw lr 0.01 weight_decay 0.5
      : (tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
         tensor<4x3x3x3xf32>)
      -> tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>
  // int32 bias: one bias scale s_x · s_w[c] per element.
  // CHECK: train.qsgd %[[B]], %[[GB]] lr 0.00999999977 scales [2.000000e-04, 4.000000e-04, 6.000000e-04, 8.000000e-04] qas : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  %2 = train.qsgd %b, %gb lr 0.01 scales [2.0e-4, 4.0e-4, 6.0e-4, 8.0e-4] qas
      : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  // CHECK: train.qsgd %[[B]], %[[GB]] lr 0.00999999977 scales [2.000000e-04, 4.000000e-04, 6.000000e-04, 8.000000e-04] : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  %3 = train.qsgd %b, %gb lr 0.01 scales [2.0e-4, 4.0e-4, 6.0e-4, 8.0e-4]
      : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  // Per-tensor int8 weight.
  // CHECK: train.qsgd %[[A]], %[[GA]] lr 0.00999999977 qas : (tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02>>, tensor<4x3xf32>) -> tensor<4x3x!quant.uniform<i8:f32, 2.000000e-02>>
  %4 = train.qsgd %a, %ga lr 0.01 qas
      : (tensor<4x3x!quant.uniform<i8:f32, 2.0e-2>>, tensor<4x3xf32>)
      -> tensor<4x3x!quant.uniform<i8:f32, 2.0e-2>>
  return %0, %1, %2, %3, %4
      : tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
        tensor<4x3x3x3x!quant.uniform<i8:f32:0, {1.0e-2,2.0e-2,3.0e-2,4.0e-2}>>,
        tensor<4xi32>, tensor<4xi32>, tensor<4x3x!quant.uniform<i8:f32, 2.0e-2>>
}
