// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of train.clamp_mask and train.mask_grad.

func.func @mask_too_short(%x: tensor<1x3x2x2xf32>) -> tensor<1xi8> {
  // expected-error @+1 {{'train.clamp_mask' op expected a mask of 2 bytes (one bit per element of 12), got 1}}
  %m = train.clamp_mask %x min 0.0 max 6.0 : tensor<1x3x2x2xf32> -> tensor<1xi8>
  return %m : tensor<1xi8>
}

// -----

func.func @bounds_reversed(%x: tensor<8xf32>) -> tensor<1xi8> {
  // expected-error @+1 {{'train.clamp_mask' op expected min <= max, got min 6.000000e+00 and max 0.000000e+00}}
  %m = train.clamp_mask %x min 6.0 max 0.0 : tensor<8xf32> -> tensor<1xi8>
  return %m : tensor<1xi8>
}

// -----

func.func @grad_mask_too_long(%dy: tensor<9xf32>, %m: tensor<3xi8>) -> tensor<9xf32> {
  // expected-error @+1 {{'train.mask_grad' op expected a mask of 2 bytes (one bit per element of 9), got 3}}
  %dx = train.mask_grad %dy, %m : tensor<9xf32>, tensor<3xi8>
  return %dx : tensor<9xf32>
}

// -----

func.func @mask_not_bytes(%x: tensor<8xf32>) -> tensor<1xi16> {
  // expected-error @+1 {{'train.clamp_mask' op result #0 must be 1D tensor of 8-bit signless integer values}}
  %m = "train.clamp_mask"(%x) {min = 0.0 : f32, max = 6.0 : f32} : (tensor<8xf32>) -> tensor<1xi16>
  return %m : tensor<1xi16>
}
