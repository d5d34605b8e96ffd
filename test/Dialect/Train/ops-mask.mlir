// RUN: tcc-opt %s | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip
// RUN: tcc-opt %s | tcc-opt | FileCheck %s

// train.clamp_mask keeps one bit per element (ceil(numel / 8) bytes) of a float or an
// int8 tensor; train.mask_grad applies it to a gradient.

!y = !quant.uniform<i8:f32, 0.1:-128>
// CHECK-LABEL: func.func @int8_mask(
// CHECK-SAME: %[[Y:[^:]*]]: tensor<1x3x2x2x!quant.uniform<i8:f32, 1.000000e-01:-128>>
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x3x2x2xf32>
func.func @int8_mask(%y: tensor<1x3x2x2x!y>, %dy: tensor<1x3x2x2xf32>) -> tensor<1x3x2x2xf32> {
  // CHECK: %[[M:.*]] = train.clamp_mask %[[Y]] min 0.000000e+00 max 6.000000e+00 : tensor<1x3x2x2x!quant.uniform<i8:f32, 1.000000e-01:-128>> -> tensor<2xi8>
  %m = train.clamp_mask %y min 0.0 max 6.0 : tensor<1x3x2x2x!y> -> tensor<2xi8>
  // CHECK: train.mask_grad %[[DY]], %[[M]] : tensor<1x3x2x2xf32>, tensor<2xi8>
  %dx = train.mask_grad %dy, %m : tensor<1x3x2x2xf32>, tensor<2xi8>
  return %dx : tensor<1x3x2x2xf32>
}

// CHECK-LABEL: func.func @float_mask(
// CHECK-SAME: %[[X:[^:]*]]: tensor<16xf32>
func.func @float_mask(%x: tensor<16xf32>) -> tensor<2xi8> {
  // CHECK: train.clamp_mask %[[X]] min -1.000000e+00 max 1.000000e+00 : tensor<16xf32> -> tensor<2xi8>
  %m = train.clamp_mask %x min -1.0 max 1.0 : tensor<16xf32> -> tensor<2xi8>
  return %m : tensor<2xi8>
}
