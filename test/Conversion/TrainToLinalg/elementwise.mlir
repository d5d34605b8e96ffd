// RUN: tcc-opt --convert-train-to-linalg %s | FileCheck %s

// Each element-wise op is one linalg.generic with identity maps; the bodies evaluate
// the reference formulas in the same order.

// CHECK-LABEL: func.func @add_mul(
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[S]], %arg1 : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: arith.mulf
func.func @add_mul(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = train.add %a, %b : tensor<4x8xf32>
  %p = train.mul %s, %b : tensor<4x8xf32>
  return %p : tensor<4x8xf32>
}

// relu and clamp compare and select (NaN passes through, as in numpy).
// CHECK-LABEL: func.func @relu_clamp(
// CHECK: arith.cmpf olt, %{{.*}}, %[[ZERO:.*]] : f32
// CHECK: arith.select %{{.*}}, %[[ZERO]], %{{.*}} : f32
// CHECK: %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: arith.cmpf olt, %{{.*}}, %[[LO]] : f32
// CHECK: %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: arith.cmpf ogt, %{{.*}}, %[[HI]] : f32
func.func @relu_clamp(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %r = train.relu %x : tensor<4x8xf32>
  %c = train.clamp %r min 0.0 max 6.0 : tensor<4x8xf32>
  return %c : tensor<4x8xf32>
}

// sigmoid without overflow: e = exp(-|x|), x >= 0 ? 1 / (1 + e) : e / (1 + e).
// CHECK-LABEL: func.func @sigmoid(
// CHECK: math.absf
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: arith.cmpf oge
// CHECK: arith.select
func.func @sigmoid(%x: tensor<16xf32>) -> tensor<16xf32> {
  %y = train.sigmoid %x : tensor<16xf32>
  return %y : tensor<16xf32>
}

// Exact gelu evaluates erf in f64 (as the reference), the tanh form in f32.
// CHECK-LABEL: func.func @gelu(
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: math.erf %{{.*}} : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: math.tanh %{{.*}} : f32
func.func @gelu(%x: tensor<16xf32>) -> tensor<16xf32> {
  %y = train.gelu %x : tensor<16xf32>
  %z = train.gelu %y tanh : tensor<16xf32>
  return %z : tensor<16xf32>
}

// CHECK-LABEL: func.func @hardswish(
// CHECK: arith.constant 3.000000e+00 : f32
// CHECK: arith.addf
// CHECK: arith.mulf
// CHECK: arith.divf
func.func @hardswish(%x: tensor<16xf32>) -> tensor<16xf32> {
  %y = train.hardswish %x : tensor<16xf32>
  return %y : tensor<16xf32>
}

// The activations' gradients select dy by the forward value.
// CHECK-LABEL: func.func @grads(
// CHECK: arith.cmpf ogt
// CHECK: arith.select
// CHECK: %[[INSIDE:.*]] = arith.andi %{{.*}}, %{{.*}} : i1
// CHECK: arith.select %[[INSIDE]]
// CHECK: arith.subf
// CHECK: arith.cmpf ole
// CHECK: math.erf %{{.*}} : f64
// CHECK: math.exp %{{.*}} : f64
func.func @grads(%dy: tensor<16xf32>, %x: tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %r = train.relu_grad %dy, %x : tensor<16xf32>
  %c = train.clamp_grad %dy, %x min 0.0 max 6.0 : tensor<16xf32>
  %s = train.sigmoid_grad %dy, %x : tensor<16xf32>
  %h = train.hardswish_grad %dy, %x : tensor<16xf32>
  %g = train.gelu_grad %dy, %x : tensor<16xf32>
  return %r, %c, %s, %h, %g : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
}
