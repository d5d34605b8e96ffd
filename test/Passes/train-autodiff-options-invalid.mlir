// RUN: tcc-opt %s --train-autodiff="optimizer=momentum" --split-input-file --verify-diagnostics
// RUN: not tcc-opt %s --train-autodiff="optimizer=adam" --split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIMIZER
// RUN: not tcc-opt %s --train-autodiff="momentum=-1 optimizer=momentum" --split-input-file 2>&1 | FileCheck %s --check-prefix=MOMENTUM
// RUN: not tcc-opt %s --train-autodiff="weight-decay=-0.5" --split-input-file 2>&1 | FileCheck %s --check-prefix=DECAY

// OPTIMIZER: error: unknown optimizer 'adam' (expected one of: sgd, momentum)
// MOMENTUM: error: momentum must be a non-negative number, got -1.0
// DECAY: error: weight decay must be a non-negative number, got -0.5

// train.qsgd has no momentum buffer: momentum is refused for int8 parameters.
!x = !quant.uniform<i8:f32, 5.000000e-01:-1>
!w = !quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>
!y = !quant.uniform<i8:f32, 2.500000e-01:-128>
// expected-error @+1 {{momentum is not supported for int8 parameters ('conv.weight' is tensor<3x2x1x1x!quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>>); use optimizer=sgd}}
func.func @forward(
    %x: tensor<1x2x4x4x!x> {train.name = "input"},
    %w: tensor<3x2x1x1x!w> {train.name = "conv.weight", train.role = #train.role<trainable>},
    %b: tensor<3xi32> {train.name = "conv.bias", train.role = #train.role<trainable>})
    -> tensor<1x3xf32> {
  %y = train.qconv2d %x, %w, %b rounding float_scale
      : (tensor<1x2x4x4x!x>, tensor<3x2x1x1x!w>, tensor<3xi32>) -> tensor<1x3x4x4x!y>
  %p = train.qglobal_avg_pool %y rounding float_scale : tensor<1x3x4x4x!y> -> tensor<1x3x1x1x!y>
  %r = train.reshape %p : tensor<1x3x1x1x!y> -> tensor<1x3x!y>
  %l = quant.dcast %r : tensor<1x3x!y> to tensor<1x3xf32>
  return %l : tensor<1x3xf32>
}

// -----

// An integer parameter needs quantization scales: a plain i8 weight (here cast to
// a quantized type by quant.scast) cannot be trained.
!x = !quant.uniform<i8:f32, 5.000000e-01:-1>
!w = !quant.uniform<i8:f32:0, {2.500000e-01,5.000000e-01,1.250000e-01}>
!y = !quant.uniform<i8:f32, 2.500000e-01:-128>
// expected-error @+1 {{int8 layer 'conv' has no quantization scales: its parameter 'conv.weight' is a plain tensor<3x2x1x1xi8>}}
func.func @forward(
    %x: tensor<1x2x4x4x!x> {train.name = "input"},
    %w: tensor<3x2x1x1xi8> {train.name = "conv.weight", train.role = #train.role<trainable>})
    -> tensor<1x3xf32> {
  %wq = quant.scast %w : tensor<3x2x1x1xi8> to tensor<3x2x1x1x!w>
  %y = train.qconv2d %x, %wq rounding float_scale
      : (tensor<1x2x4x4x!x>, tensor<3x2x1x1x!w>) -> tensor<1x3x4x4x!y>
  %p = train.qglobal_avg_pool %y rounding float_scale : tensor<1x3x4x4x!y> -> tensor<1x3x1x1x!y>
  %r = train.reshape %p : tensor<1x3x1x1x!y> -> tensor<1x3x!y>
  %l = quant.dcast %r : tensor<1x3x!y> to tensor<1x3xf32>
  return %l : tensor<1x3xf32>
}

// -----

// train.channels must sit on the weight of exactly one conv or linear op.
// expected-error @+1 {{parameter 'fc.bias' has train.channels = 2 but is not the weight of exactly one conv or linear op}}
func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<10x16xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
                   %b: tensor<10xf32> {train.channels = 2 : i64, train.name = "fc.bias", train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %y = train.linear %x, %w, %b : (tensor<4x16xf32>, tensor<10x16xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}
