// RUN: tcc-opt --convert-train-to-linalg %s | FileCheck %s

// sgd: p - lr · (g + wd · p).
// CHECK-LABEL: func.func @sgd(
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: %[[LR:.*]] = arith.constant 1.000000e-01 : f32
// CHECK: %[[WD:.*]] = arith.constant 0.00999999977 : f32
// CHECK: %[[D:.*]] = arith.mulf %[[WD]], %{{.*}} : f32
// CHECK: %[[G:.*]] = arith.addf %{{.*}}, %[[D]] : f32
// CHECK: %[[STEP:.*]] = arith.mulf %[[LR]], %[[G]] : f32
// CHECK: arith.subf %{{.*}}, %[[STEP]] : f32
func.func @sgd(%p: tensor<4x8xf32>, %g: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %q = train.sgd %p, %g lr 0.1 weight_decay 0.01 : tensor<4x8xf32>
  return %q : tensor<4x8xf32>
}

// sgd_momentum: one generic with two results, m' = momentum · m + g, p' = p - lr · m'.
// CHECK-LABEL: func.func @sgd_momentum(
// CHECK: %[[R:.*]]:2 = linalg.generic {{.*}} ins(%arg0, %arg1, %arg2 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) outs(%{{.*}}, %{{.*}} : tensor<8xf32>, tensor<8xf32>)
// CHECK: %[[M:.*]] = arith.addf
// CHECK: arith.mulf %{{.*}}, %[[M]] : f32
// CHECK: linalg.yield %{{.*}}, %[[M]] : f32, f32
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @sgd_momentum(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %p2, %m2 = train.sgd_momentum %p, %g, %m lr 0.1 momentum 0.9 : tensor<8xf32>
  return %p2, %m2 : tensor<8xf32>, tensor<8xf32>
}
