// RUN: tcc-opt %s --train-autodiff --split-input-file --verify-diagnostics

// The forward function must return logits of shape [batch, classes].
func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<16x16xf32> {train.role = #train.role<trainable>})
    -> tensor<64xf32> {
  %h = train.linear %x, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %y = train.reshape %h : tensor<4x16xf32> -> tensor<64xf32>
  // expected-error @+1 {{@forward must return one [batch, classes] tensor of logits for the cross-entropy loss}}
  return %y : tensor<64xf32>
}

// -----

// ... and exactly one value.
func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<10x16xf32> {train.role = #train.role<trainable>})
    -> (tensor<4x10xf32>, tensor<4x10xf32>) {
  %y = train.linear %x, %w : (tensor<4x16xf32>, tensor<10x16xf32>) -> tensor<4x10xf32>
  // expected-error @+1 {{@forward must return one [batch, classes] tensor of logits for the cross-entropy loss}}
  return %y, %y : tensor<4x10xf32>, tensor<4x10xf32>
}

// -----

// A trainable parameter that does not reach the logits has no gradient.
// expected-error @+1 {{trainable parameter #2 (fc.bias) does not affect the loss}}
func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<10x16xf32> {train.role = #train.role<trainable>},
                   %b: tensor<10xf32> {train.name = "fc.bias", train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %y = train.linear %x, %w : (tensor<4x16xf32>, tensor<10x16xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}

// -----

func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<10x16xf32> {train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  %y = train.linear %x, %w : (tensor<4x16xf32>, tensor<10x16xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}

// expected-error @+1 {{function @train_step already exists}}
func.func @train_step() {
  return
}

// -----

// Optimizer ops have no gradient rule.
func.func @forward(%x: tensor<4x16xf32>,
                   %w: tensor<10x16xf32> {train.role = #train.role<trainable>})
    -> tensor<4x10xf32> {
  // expected-error @+1 {{no gradient rule for 'train.sgd'}}
  %v = train.sgd %w, %w lr 0.1 : tensor<10x16xf32>
  %y = train.linear %x, %v : (tensor<4x16xf32>, tensor<10x16xf32>) -> tensor<4x10xf32>
  return %y : tensor<4x10xf32>
}
