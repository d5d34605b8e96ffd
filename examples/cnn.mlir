// A small convolutional net for 8×8 single-channel images, batch 4:
// conv 1→4 (3×3, padding 1) → relu → conv 4→8 (3×3, stride 2, padding 1) → relu
// → flatten to 4x128 → linear 128→10.
func.func @forward(
    %x: tensor<4x1x8x8xf32>,
    %w1: tensor<4x1x3x3xf32> {train.name = "conv1.weight", train.role = #train.role<trainable>},
    %b1: tensor<4xf32> {train.name = "conv1.bias", train.role = #train.role<trainable>},
    %w2: tensor<8x4x3x3xf32> {train.name = "conv2.weight", train.role = #train.role<trainable>},
    %b2: tensor<8xf32> {train.name = "conv2.bias", train.role = #train.role<trainable>},
    %w3: tensor<10x128xf32> {train.name = "fc.weight", train.role = #train.role<trainable>},
    %b3: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %c1 = train.conv2d %x, %w1, %b1 padding [1, 1]
      : (tensor<4x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<4x4x8x8xf32>
  %a1 = train.relu %c1 : tensor<4x4x8x8xf32>
  %c2 = train.conv2d %a1, %w2, %b2 stride [2, 2] padding [1, 1]
      : (tensor<4x4x8x8xf32>, tensor<8x4x3x3xf32>, tensor<8xf32>) -> tensor<4x8x4x4xf32>
  %a2 = train.relu %c2 : tensor<4x8x4x4xf32>
  %f = train.reshape %a2 : tensor<4x8x4x4xf32> -> tensor<4x128xf32>
  %y = train.linear %f, %w3, %b3
      : (tensor<4x128xf32>, tensor<10x128xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}
