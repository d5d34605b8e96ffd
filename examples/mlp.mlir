// A 64→32→10 multilayer perceptron for 8×8 digit images, batch 8.
// `tcc --target=cortex-m7 examples/mlp.mlir -o out/mlp --run` trains it in qemu.
func.func @forward(
    %x: tensor<8x64xf32>,
    %w1: tensor<32x64xf32> {train.name = "fc1.weight", train.role = #train.role<trainable>},
    %b1: tensor<32xf32> {train.name = "fc1.bias", train.role = #train.role<trainable>},
    %w2: tensor<10x32xf32> {train.name = "fc2.weight", train.role = #train.role<trainable>},
    %b2: tensor<10xf32> {train.name = "fc2.bias", train.role = #train.role<trainable>})
    -> tensor<8x10xf32> {
  %h = train.linear %x, %w1, %b1
      : (tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %a = train.relu %h : tensor<8x32xf32>
  %y = train.linear %a, %w2, %b2
      : (tensor<8x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<8x10xf32>
  return %y : tensor<8x10xf32>
}
