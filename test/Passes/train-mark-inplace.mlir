// RUN: tcc-opt --train-mark-inplace %s | FileCheck %s

// A stride-1 depthwise input gradient with "same" padding (dx of dy's shape) is
// marked: its C kernel may write dx over dy. A strided one, one without padding
// (dx larger than dy) and a dense conv's are not.
// CHECK-LABEL: func.func @depthwise(
func.func @depthwise(%dy: tensor<1x4x8x8xf32>, %w: tensor<4x1x3x3xf32>,
                     %dy2: tensor<1x4x4x4xf32>, %dy3: tensor<1x4x6x6xf32>,
                     %wd: tensor<4x4x3x3xf32>)
    -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  // CHECK: %[[A:.*]] = train.conv2d_grad_input %{{.*}}, %{{.*}} padding [1, 1] groups 4 {train.in_place}
  %a = train.conv2d_grad_input %dy, %w padding [1, 1] groups 4
      : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  // CHECK: %[[B:.*]] = train.conv2d_grad_input %{{.*}}, %{{.*}} stride [2, 2] padding [1, 1] groups 4 :
  %b = train.conv2d_grad_input %dy2, %w stride [2, 2] padding [1, 1] groups 4
      : (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  // CHECK: %[[C:.*]] = train.conv2d_grad_input %{{.*}}, %{{.*}} groups 4 :
  %c = train.conv2d_grad_input %dy3, %w groups 4
      : (tensor<1x4x6x6xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  // CHECK: %[[D:.*]] = train.conv2d_grad_input %{{.*}}, %{{.*}} padding [1, 1] :
  %d = train.conv2d_grad_input %dy, %wd padding [1, 1]
      : (tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %a, %b, %c, %d
      : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}
