// RUN: tcc-opt --tosa-to-train %s --split-input-file | FileCheck %s

// tosa.const becomes arith.constant where a value is needed; zero points, shifts
// and shapes that only parametrize other ops disappear.
// CHECK-LABEL: func.func @const(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<3xi32>)
// CHECK: %[[C:.*]] = arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-NOT: 7.000000e+00
// CHECK: %[[Y:.*]] = train.mul %[[X]], %[[C]] : tensor<2x2xf32>
// CHECK: %[[I:.*]] = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
// CHECK: return %[[Y]], %[[I]] : tensor<2x2xf32>, tensor<3xi32>
func.func @const(%x: tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<3xi32>) {
  %c = "tosa.const"() <{values = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
  %i = "tosa.const"() <{values = dense<[1, 2, 3]> : tensor<3xi32>}> : () -> tensor<3xi32>
  %unused = "tosa.const"() <{values = dense<7.0> : tensor<8xf32>}> : () -> tensor<8xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.mul %x, %c, %shift : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<1xi8>) -> tensor<2x2xf32>
  return %y, %i : tensor<2x2xf32>, tensor<3xi32>
}
