// RUN: tcc-opt %s | FileCheck %s
// RUN: tcc-opt %s -o %t.custom
// RUN: tcc-opt %s --mlir-print-op-generic | tcc-opt -o %t.roundtrip
// RUN: diff %t.custom %t.roundtrip
// RUN: tcc-opt %s | tcc-opt | FileCheck %s

// train.conv2d_qsgd round-trips through its custom assembly: a whole weight with
// geometry, decay and QAS; the first channels of a per-tensor weight.
!w = !quant.uniform<i8:f32:0, {1.0e-2, 2.0e-2, 3.0e-2, 4.0e-2}>
!t = !quant.uniform<i8:f32, 5.0e-2>

// CHECK-LABEL: func.func @whole(
// CHECK-SAME: %[[W:[^:]*]]: tensor<4x1x3x3x
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x4x4x4xf32>
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x4x8x8xf32>
func.func @whole(%w: tensor<4x1x3x3x!w>, %dy: tensor<1x4x4x4xf32>, %x: tensor<1x4x8x8xf32>)
    -> tensor<4x1x3x3x!w> {
  // CHECK: %[[U:.*]] = train.conv2d_qsgd %[[W]], %[[DY]], %[[X]] stride [2, 2] padding [1, 1] groups 4 lr 0.00999999977 weight_decay 9.99999974E-5 qas
  %u = train.conv2d_qsgd %w, %dy, %x stride [2, 2] padding [1, 1] groups 4 lr 0.01
      weight_decay 0.0001 qas
      : (tensor<4x1x3x3x!w>, tensor<1x4x4x4xf32>, tensor<1x4x8x8xf32>) -> tensor<4x1x3x3x!w>
  // CHECK: return %[[U]]
  return %u : tensor<4x1x3x3x!w>
}

// CHECK-LABEL: func.func @first_channels(
func.func @first_channels(%w: tensor<6x8x1x1x!t>, %dy: tensor<1x3x2x2xf32>,
                          %x: tensor<1x5x2x2xf32>) -> tensor<6x8x1x1x!t> {
  // CHECK: train.conv2d_qsgd %{{.*}}, %{{.*}}, %{{.*}} lr 5.000000e-01 : (tensor<6x8x1x1x!quant.uniform<i8:f32, 5.000000e-02>>, tensor<1x3x2x2xf32>, tensor<1x5x2x2xf32>) -> tensor<6x8x1x1x!quant.uniform<i8:f32, 5.000000e-02>>
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.5
      : (tensor<6x8x1x1x!t>, tensor<1x3x2x2xf32>, tensor<1x5x2x2xf32>) -> tensor<6x8x1x1x!t>
  return %u : tensor<6x8x1x1x!t>
}

// An int8 activation as the input: read dequantized, as quant.dcast gives it.
!a = !quant.uniform<i8:f32, 5.0e-2:-3>
// CHECK-LABEL: func.func @int8_input(
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x5x2x2x!quant.uniform<i8:f32, 5.000000e-02:-3>>
func.func @int8_input(%w: tensor<6x8x1x1x!t>, %dy: tensor<1x3x2x2xf32>,
                      %x: tensor<1x5x2x2x!a>) -> tensor<6x8x1x1x!t> {
  // CHECK: train.conv2d_qsgd %{{.*}}, %{{.*}}, %[[X]] lr 5.000000e-01 : (tensor<6x8x1x1x!quant.uniform<i8:f32, 5.000000e-02>>, tensor<1x3x2x2xf32>, tensor<1x5x2x2x!quant.uniform<i8:f32, 5.000000e-02:-3>>)
  %u = train.conv2d_qsgd %w, %dy, %x lr 0.5
      : (tensor<6x8x1x1x!t>, tensor<1x3x2x2xf32>, tensor<1x5x2x2x!a>) -> tensor<6x8x1x1x!t>
  return %u : tensor<6x8x1x1x!t>
}

// The backward of an inverted bottleneck one expanded channel at a time, with the
// update of its expansion's first 5 input channels, and without an update.
// CHECK-LABEL: func.func @bottleneck_grad(
// CHECK-SAME: %[[DY:[^:]*]]: tensor<1x3x2x2xf32>
func.func @bottleneck_grad(%dy: tensor<1x3x2x2xf32>, %wp: tensor<3x6x1x1xf32>,
                           %wd: tensor<6x1x3x3xf32>, %md: tensor<3xi8>,
                           %we: tensor<6x8x1x1xf32>, %me: tensor<12xi8>,
                           %w: tensor<6x8x1x1x!t>, %x: tensor<1x5x4x4x!a>)
    -> (tensor<1x8x4x4xf32>, tensor<6x8x1x1x!t>, tensor<1x8x4x4xf32>) {
  // CHECK: %[[DX:.*]], %{{.*}}, %{{.*}}, %[[U:.*]] = train.bottleneck_grad %[[DY]] project %{{.*}} depthwise %{{.*}}, %{{.*}} stride [2, 2] padding [1, 1] expand %{{.*}}, %{{.*}} update %{{.*}}, %{{.*}} lr 5.000000e-01 qas : (tensor<1x3x2x2xf32>, tensor<3x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<3xi8>, tensor<6x8x1x1xf32>, tensor<12xi8>, tensor<6x8x1x1x!quant.uniform<i8:f32, 5.000000e-02>>, tensor<1x5x4x4x!quant.uniform<i8:f32, 5.000000e-02:-3>>) -> (tensor<1x8x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x8x1x1x!quant.uniform<i8:f32, 5.000000e-02>>)
  %dx, %db, %de, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md
      stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.5 qas
      : (tensor<1x3x2x2xf32>, tensor<3x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<3xi8>,
         tensor<6x8x1x1xf32>, tensor<12xi8>, tensor<6x8x1x1x!t>, tensor<1x5x4x4x!a>)
      -> (tensor<1x8x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x8x1x1x!t>)
  // CHECK: train.bottleneck_grad %[[DY]] project %{{.*}} depthwise %{{.*}}, %{{.*}} stride [2, 2] padding [1, 1] expand %{{.*}}, %{{.*}} : (tensor<1x3x2x2xf32>, tensor<3x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<3xi8>, tensor<6x8x1x1xf32>, tensor<12xi8>) -> (tensor<1x8x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
  %dx2, %db2, %de2 = train.bottleneck_grad %dy project %wp depthwise %wd, %md
      stride [2, 2] padding [1, 1] expand %we, %me
      : (tensor<1x3x2x2xf32>, tensor<3x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<3xi8>,
         tensor<6x8x1x1xf32>, tensor<12xi8>) -> (tensor<1x8x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
  return %dx, %u, %dx2 : tensor<1x8x4x4xf32>, tensor<6x8x1x1x!t>, tensor<1x8x4x4xf32>
}
