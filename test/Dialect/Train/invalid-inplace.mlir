// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the train.in_place op attribute.

func.func @not_a_gradient(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.in_place' is only allowed on train.conv2d_grad_input}}
  %y = train.relu %x {train.in_place} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @other_shape(%dy: tensor<1x4x4x4xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{'train.in_place' needs a result of the type of grad_output 'tensor<1x4x4x4xf32>', got 'tensor<1x4x8x8xf32>'}}
  %dx = train.conv2d_grad_input %dy, %w stride [2, 2] padding [1, 1] groups 4 {train.in_place}
      : (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %dx : tensor<1x4x8x8xf32>
}

// -----

func.func @not_unit(%dy: tensor<1x4x8x8xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{'train.in_place' must be a unit attribute, got true}}
  %dx = train.conv2d_grad_input %dy, %w padding [1, 1] groups 4 {train.in_place = true}
      : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %dx : tensor<1x4x8x8xf32>
}
