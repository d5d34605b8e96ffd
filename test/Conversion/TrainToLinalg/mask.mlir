// RUN: tcc-opt --convert-train-to-linalg %s | FileCheck %s

// mask_grad reads the byte of element d0 through this map.
// CHECK: #[[BYTE:.*]] = affine_map<(d0) -> (d0 floordiv 8)>

// clamp_mask: a linalg.generic computes each element's bit [lo < x < hi] as i8 on the
// flattened input; the bits (zero-padded to whole bytes: 15 elements, 2 bytes) become
// [bytes, 8] and a reduction ors bit j shifted left by j into each byte.
// CHECK-LABEL: func.func @mask_float(
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1]] : tensor<3x5xf32> into tensor<15xf32>
// CHECK: %[[BITS:.*]] = linalg.generic {{.*}} ins(%[[FLAT]] : tensor<15xf32>)
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf olt
// CHECK: arith.extui %{{.*}} : i1 to i8
// CHECK: %[[PADDED:.*]] = tensor.insert_slice %[[BITS]] into %{{.*}}[0] [15] [1] : tensor<15xi8> into tensor<16xi8>
// CHECK: %[[ROWS:.*]] = tensor.expand_shape %[[PADDED]] {{\[}}[0, 1]] output_shape [2, 8]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[ROWS]] : tensor<2x8xi8>) outs(%{{.*}} : tensor<2xi8>)
// CHECK: %[[J:.*]] = linalg.index 1 : index
// CHECK: %[[SHIFT:.*]] = arith.index_cast %[[J]] : index to i8
// CHECK: %[[BIT:.*]] = arith.shli %{{.*}}, %[[SHIFT]] : i8
// CHECK: arith.ori %[[BIT]], %{{.*}} : i8
func.func @mask_float(%x: tensor<3x5xf32>) -> tensor<2xi8> {
  %m = train.clamp_mask %x min 0.0 max 6.0 : tensor<3x5xf32> -> tensor<2xi8>
  return %m : tensor<2xi8>
}

// An int8 input is compared as storage values: (q + 128) · 0.1 lies in (0, 6) in f32
// exactly for q in [-127, -69] (q = -68 gives 6.0). A quant.scast gives the kernel the
// storage integers; 128 elements need no padding.
// CHECK-LABEL: func.func @mask_int8(
// CHECK: %[[S:.*]] = quant.scast %arg0 : tensor<1x8x4x4x!quant.uniform<i8:f32, {{.*}}:-128>> to tensor<1x8x4x4xi8>
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[S]]
// CHECK: linalg.generic {{.*}} ins(%[[FLAT]] : tensor<128xi8>)
// CHECK: %[[QA:.*]] = arith.constant -127 : i8
// CHECK: arith.cmpi sge, %{{.*}}, %[[QA]] : i8
// CHECK: %[[QB:.*]] = arith.constant -69 : i8
// CHECK: arith.cmpi sle, %{{.*}}, %[[QB]] : i8
// CHECK-NOT: tensor.insert_slice
// CHECK: tensor.expand_shape %{{.*}} output_shape [16, 8]
// CHECK: arith.ori
func.func @mask_int8(%y: tensor<1x8x4x4x!quant.uniform<i8:f32, 0.1:-128>>) -> tensor<16xi8> {
  %m = train.clamp_mask %y min 0.0 max 6.0
      : tensor<1x8x4x4x!quant.uniform<i8:f32, 0.1:-128>> -> tensor<16xi8>
  return %m : tensor<16xi8>
}

// mask_grad: one linalg.generic over the flattened dy reads byte d0 floordiv 8 of the
// mask and selects dy where bit d0 mod 8 is set.
// CHECK-LABEL: func.func @mask_grad(
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1]] : tensor<3x5xf32> into tensor<15xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[BYTE]], #{{.*}}], iterator_types = ["parallel"]} ins(%[[FLAT]], %arg1 : tensor<15xf32>, tensor<2xi8>)
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: %[[POS:.*]] = arith.remui %[[I]], %{{.*}} : index
// CHECK: %[[SHIFT:.*]] = arith.index_cast %[[POS]] : index to i8
// CHECK: arith.shrui %{{.*}}, %[[SHIFT]] : i8
// CHECK: %[[HIT:.*]] = arith.cmpi ne
// CHECK: arith.select %[[HIT]], %{{.*}}, %{{.*}} : f32
// CHECK: tensor.expand_shape %{{.*}} output_shape [3, 5] : tensor<15xf32> into tensor<3x5xf32>
func.func @mask_grad(%dy: tensor<3x5xf32>, %m: tensor<2xi8>) -> tensor<3x5xf32> {
  %dx = train.mask_grad %dy, %m : tensor<3x5xf32>, tensor<2xi8>
  return %dx : tensor<3x5xf32>
}
