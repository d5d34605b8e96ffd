// RUN: tcc-opt --tosa-to-train %s | FileCheck %s

// CHECK-LABEL: func.func @sigmoid(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x3xf32>)
// CHECK: %[[Y:.*]] = train.sigmoid %[[X]] : tensor<2x3xf32>
// CHECK: return %[[Y]]
func.func @sigmoid(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = tosa.sigmoid %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
