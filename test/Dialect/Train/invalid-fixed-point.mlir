// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the int16 fixed-point gradient forms (--train-int16-gradients).

!g = !quant.uniform<i16:f32, 3.0517578125E-5>
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @float_weight(%dy: tensor<1x2x4x4x!g>, %w: tensor<2x2x1x1xf32>) -> tensor<1x2x4x4x!g> {
  // expected-error @+1 {{'train.conv2d_grad_input' op expected an int8 quantized weight with int16 fixed-point gradients, got 'f32'}}
  %dx = train.conv2d_grad_input %dy, %w : (tensor<1x2x4x4x!g>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4x!g>
  return %dx : tensor<1x2x4x4x!g>
}

// -----

!g = !quant.uniform<i16:f32, 3.0517578125E-5>
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @float_result(%dy: tensor<1x2x4x4x!g>, %w: tensor<2x2x1x1x!w>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'train.conv2d_grad_input' op expected int16 fixed-point gradient types, got 'f32'}}
  %dx = train.conv2d_grad_input %dy, %w : (tensor<1x2x4x4x!g>, tensor<2x2x1x1x!w>) -> tensor<1x2x4x4xf32>
  return %dx : tensor<1x2x4x4xf32>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @int8_weight_float_gradients(%dy: tensor<1x2x4x4xf32>, %w: tensor<2x2x1x1x!w>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'train.conv2d_grad_input' op expected all float operands and results to have element type 'f32', got '!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02}>'}}
  %dx = train.conv2d_grad_input %dy, %w : (tensor<1x2x4x4xf32>, tensor<2x2x1x1x!w>) -> tensor<1x2x4x4xf32>
  return %dx : tensor<1x2x4x4xf32>
}

// -----

// Not a fixed-point gradient type: the scale is not a power of two.
!q = !quant.uniform<i16:f32, 3.0e-5>
func.func @not_power_of_two(%dy: tensor<1x2x4x4x!q>, %m: tensor<4xi8>) -> tensor<1x2x4x4x!q> {
  // expected-error @+1 {{'train.mask_grad' op operand #0 must be ranked tensor of floating-point or int16 fixed-point gradient type values}}
  %dx = train.mask_grad %dy, %m : tensor<1x2x4x4x!q>, tensor<4xi8>
  return %dx : tensor<1x2x4x4x!q>
}

// -----

!g = !quant.uniform<i16:f32, 3.0517578125E-5>
!s = !quant.uniform<i32:f32, 6.103515625E-5>
func.func @bias_sum_scale(%dy: tensor<1x2x4x4x!g>) -> tensor<2x!s> {
  // expected-error @+1 {{'train.bias_grad' op expected an int32 fixed-point result of scale 3.051758e-05 (grad_output's), got '!quant.uniform<i32:f32, 6.103515625E-5>'}}
  %db = train.bias_grad %dy : tensor<1x2x4x4x!g> -> tensor<2x!s>
  return %db : tensor<2x!s>
}

// -----

!l = !quant.uniform<i8:f32, 1.0e-1>
!g = !quant.uniform<i16:f32, 6.103515625E-5>
func.func @logits_gradient_scale(%x: tensor<1x4x!l>, %y: tensor<1xi32>) -> tensor<1x4x!g> {
  // expected-error @+1 {{'train.cross_entropy_grad' op expected an int16 fixed-point result of scale 2^-15 for quantized logits, got '!quant.uniform<i16:f32, 6.103515625E-5>'}}
  %g = train.cross_entropy_grad %x, %y : tensor<1x4x!l>, tensor<1xi32> -> tensor<1x4x!g>
  return %g : tensor<1x4x!g>
}

// -----

!l = !quant.uniform<i8:f32, 1.0e-1>
!g = !quant.uniform<i16:f32, 3.0517578125E-5>
func.func @logits_gradient_shape(%x: tensor<1x4x!l>, %y: tensor<1xi32>) -> tensor<1x5x!g> {
  // expected-error @+1 {{'train.cross_entropy_grad' op expected the logits' shape [1, 4], got [1, 5]}}
  %g = train.cross_entropy_grad %x, %y : tensor<1x4x!l>, tensor<1xi32> -> tensor<1x5x!g>
  return %g : tensor<1x5x!g>
}

// -----

!g = !quant.uniform<i16:f32, 3.0517578125E-5>
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @float_activation(%w: tensor<2x2x1x1x!w>, %dy: tensor<1x2x4x4x!g>,
                            %x: tensor<1x2x4x4xf32>) -> tensor<2x2x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op expected a per-tensor int8 input with an int16 fixed-point grad_output, got 'f32'}}
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.1
      : (tensor<2x2x1x1x!w>, tensor<1x2x4x4x!g>, tensor<1x2x4x4xf32>) -> tensor<2x2x1x1x!w>
  return %u : tensor<2x2x1x1x!w>
}

// -----

!g = !quant.uniform<i16:f32, 3.0517578125E-5>
func.func @pool_mixed(%dy: tensor<1x2x1x1x!g>) -> tensor<1x2x4x4xf32> {
  // expected-error @+1 {{'train.avg_pool2d_grad' op expected int16 fixed-point gradient types, got 'f32'}}
  %dx = train.avg_pool2d_grad %dy kernel [4, 4] : (tensor<1x2x1x1x!g>) -> tensor<1x2x4x4xf32>
  return %dx : tensor<1x2x4x4xf32>
}

// -----

func.func @negative_range(%dy: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.grad_range' must be a finite f64 >= 0 (the calibrated range of the op's gradient), got -1.000000e+00 : f64}}
  %s = train.add %dy, %dy {train.grad_range = -1.0 : f64} : tensor<4xf32>
  return %s : tensor<4xf32>
}

// -----

func.func @shift_of_float_logits(%x: tensor<1x4xf32>, %y: tensor<1xi32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{'train.cross_entropy_grad' op expected no 'shift' result with float logits}}
  %g, %k = train.cross_entropy_grad %x, %y : tensor<1x4xf32>, tensor<1xi32> -> tensor<1x4xf32>, tensor<i32>
  return %g : tensor<1x4xf32>
}

// -----

func.func @shift_of_float_gradient(%b: tensor<2xi32>, %g: tensor<2xf32>, %k: tensor<i32>) -> tensor<2xi32> {
  // expected-error @+1 {{'train.qsgd' op expected an int32 fixed-point gradient with a 'shift'}}
  %b2 = train.qsgd %b, %g shift %k lr 0.05 scales [1.0e-3, 1.0e-3]
      : (tensor<2xi32>, tensor<2xf32>, tensor<i32>) -> tensor<2xi32>
  return %b2 : tensor<2xi32>
}

// -----

!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>
func.func @shift_of_float_dy(%w: tensor<2x2x1x1x!w>, %dy: tensor<1x2x4x4xf32>,
                             %x: tensor<1x2x4x4xf32>, %k: tensor<i32>) -> tensor<2x2x1x1x!w> {
  // expected-error @+1 {{'train.conv2d_qsgd' op expected an int16 fixed-point grad_output with a 'shift'}}
  %u = train.conv2d_qsgd %w, %dy, %x shift %k lr 0.1
      : (tensor<2x2x1x1x!w>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<i32>) -> tensor<2x2x1x1x!w>
  return %u : tensor<2x2x1x1x!w>
}
