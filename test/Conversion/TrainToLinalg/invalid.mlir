// RUN: tcc-opt --convert-train-to-linalg %s --split-input-file --verify-diagnostics

// int8 ops are not converted yet.
func.func @qadd(%a: tensor<4x!quant.uniform<i8:f32, 0.5:-1>>, %b: tensor<4x!quant.uniform<i8:f32, 0.5:-1>>) -> tensor<4x!quant.uniform<i8:f32, 0.5:-1>> {
  // expected-error @+1 {{--convert-train-to-linalg does not support 'train.qadd'}}
  %y = train.qadd %a, %b rounding float_scale : (tensor<4x!quant.uniform<i8:f32, 0.5:-1>>, tensor<4x!quant.uniform<i8:f32, 0.5:-1>>) -> tensor<4x!quant.uniform<i8:f32, 0.5:-1>>
  return %y : tensor<4x!quant.uniform<i8:f32, 0.5:-1>>
}

// -----

// Layout ops accept int8 quantized tensors; their conversion does not (yet).
func.func @quantized_reshape(%x: tensor<2x4x!quant.uniform<i8:f32, 0.5:-1>>) -> tensor<8x!quant.uniform<i8:f32, 0.5:-1>> {
  // expected-error @+1 {{'train.reshape' on tensor<2x4x!quant.uniform<i8:f32, 5.000000e-01:-1>> (only float tensors)}}
  %y = train.reshape %x : tensor<2x4x!quant.uniform<i8:f32, 0.5:-1>> -> tensor<8x!quant.uniform<i8:f32, 0.5:-1>>
  return %y : tensor<8x!quant.uniform<i8:f32, 0.5:-1>>
}
