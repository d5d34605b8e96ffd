// RUN: tcc-opt %s | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip

// The int16 fixed-point forms of the backward ops round-trip: gradients of type
// !quant.uniform<i16:f32, 2^e>, their int32 sums, int8 logits, weights and activations.
!g = !quant.uniform<i16:f32, 3.0517578125E-5>
!h = !quant.uniform<i16:f32, 4.8828125E-4>
!s = !quant.uniform<i32:f32, 3.0517578125E-5>
!l = !quant.uniform<i8:f32, 1.0e-1:-128>
!x = !quant.uniform<i8:f32, 5.0e-2:-3>
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2}>

// CHECK-LABEL: func.func @backward(
func.func @backward(%logits: tensor<1x32x!l>, %label: tensor<1xi32>, %w: tensor<2x2x1x1x!w>,
                    %b: tensor<2xi32>, %x: tensor<1x2x4x4x!x>, %m: tensor<4xi8>)
    -> (tensor<2x2x1x1x!w>, tensor<2xi32>, tensor<1x2x4x4x!h>, tensor<1x2x4x4x!h>) {
  // CHECK: %[[G:.*]], %[[K:.*]] = train.cross_entropy_grad %{{.*}}, %{{.*}} : tensor<1x32x!quant.uniform<i8:f32, 1.000000e-01:-128>>, tensor<1xi32> -> tensor<1x32x!quant.uniform<i16:f32, 3.0517578125E-5>>, tensor<i32>
  %g, %k = train.cross_entropy_grad %logits, %label : tensor<1x32x!l>, tensor<1xi32> -> tensor<1x32x!g>, tensor<i32>
  // CHECK: %[[G4:.*]] = train.reshape %[[G]]
  %g4 = train.reshape %g : tensor<1x32x!g> -> tensor<1x2x4x4x!g>
  // CHECK: %[[DX:.*]] = train.conv2d_grad_input %[[G4]], %{{.*}} : (tensor<1x2x4x4x!quant.uniform<i16:f32, 3.0517578125E-5>>, tensor<2x2x1x1x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02}>>) -> tensor<1x2x4x4x!quant.uniform<i16:f32, 4.8828125E-4>>
  %dx = train.conv2d_grad_input %g4, %w : (tensor<1x2x4x4x!g>, tensor<2x2x1x1x!w>) -> tensor<1x2x4x4x!h>
  // CHECK: %[[MDX:.*]] = train.mask_grad %[[DX]], %{{.*}} : tensor<1x2x4x4x!quant.uniform<i16:f32, 4.8828125E-4>>, tensor<4xi8>
  %mdx = train.mask_grad %dx, %m : tensor<1x2x4x4x!h>, tensor<4xi8>
  // CHECK: train.add %[[MDX]], %[[DX]] : tensor<1x2x4x4x!quant.uniform<i16:f32, 4.8828125E-4>>
  %sum = train.add %mdx, %dx : tensor<1x2x4x4x!h>
  // CHECK: %[[DB:.*]] = train.bias_grad %[[G4]] : tensor<1x2x4x4x!quant.uniform<i16:f32, 3.0517578125E-5>> -> tensor<2x!quant.uniform<i32:f32, 3.0517578125E-5>>
  %db = train.bias_grad %g4 : tensor<1x2x4x4x!g> -> tensor<2x!s>
  // CHECK: train.qsgd %{{.*}}, %[[DB]] shift %[[K]] lr 5.000000e-02 scales [5.000000e-04, 1.000000e-03] qas : (tensor<2xi32>, tensor<2x!quant.uniform<i32:f32, 3.0517578125E-5>>, tensor<i32>) -> tensor<2xi32>
  %b2 = train.qsgd %b, %db shift %k lr 0.05 scales [5.0e-4, 1.0e-3] qas
      : (tensor<2xi32>, tensor<2x!s>, tensor<i32>) -> tensor<2xi32>
  // CHECK: train.conv2d_qsgd %{{.*}}, %[[G4]], %{{.*}} shift %[[K]] lr 5.000000e-02 qas
  %w2 = train.conv2d_qsgd %w, %g4, %x shift %k lr 0.05 qas
      : (tensor<2x2x1x1x!w>, tensor<1x2x4x4x!g>, tensor<1x2x4x4x!x>, tensor<i32>) -> tensor<2x2x1x1x!w>
  return %w2, %b2, %mdx, %sum : tensor<2x2x1x1x!w>, tensor<2xi32>, tensor<1x2x4x4x!h>, tensor<1x2x4x4x!h>
}

// CHECK-LABEL: func.func @pool(
func.func @pool(%dy: tensor<1x2x1x1x!g>) -> tensor<1x2x4x4x!h> {
  // CHECK: train.avg_pool2d_grad %{{.*}} kernel [4, 4] : (tensor<1x2x1x1x!quant.uniform<i16:f32, 3.0517578125E-5>>) -> tensor<1x2x4x4x!quant.uniform<i16:f32, 4.8828125E-4>>
  %dx = train.avg_pool2d_grad %dy kernel [4, 4] : (tensor<1x2x1x1x!g>) -> tensor<1x2x4x4x!h>
  return %dx : tensor<1x2x4x4x!h>
}
