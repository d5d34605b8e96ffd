// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of train.bottleneck_grad.

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @project_not_1x1(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x3x3xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected a 1x1 project weight, got 3x3}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x3x3xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @expand_not_1x1(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x3x3xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected a 1x1 expand weight, got 3x3}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x3x3xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @wrong_depthwise_output(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op output height (4) does not match 8}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @depthwise_not_per_channel(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x2x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op weight input channels (2) does not match 1}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x2x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @short_depthwise_mask(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<8xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected a depthwise mask of 12 bytes (one bit per element of 96), got 8}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<8xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @short_expand_mask(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<12xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected an expand mask of 48 bytes (one bit per element of 384), got 12}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<12xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @wrong_bias_gradients(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected bias gradients of type tensor<6xf32>, got 'tensor<4xf32>'}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @lr_without_update(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected no updated weight and no 'lr' without 'update'}}
  %dx, %b1, %b2 = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @update_without_lr(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected an updated weight and 'lr' with 'update'}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @wrong_updated_type(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected updated weight type 'tensor<6x3x1x1x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02,5.000000e-02,6.000000e-02}>>' (the parameter's type), got 'tensor<6x2x1x1x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02,5.000000e-02,6.000000e-02}>>'}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x2x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @parameter_of_another_shape(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x2x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected the parameter of the expand weight's shape [6, 3, 1, 1], got}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x2x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x2x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @input_of_another_size(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x4x4x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected an input of shape [1, <= 3, 8, 8], got}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x4x4x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @partial_with_decay(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x2x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected no weight decay on a partial update (the other channels keep their values)}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 weight_decay 0.01
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x2x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
func.func @negative_lr(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
  // expected-error @+1 {{'train.bottleneck_grad' op expected a positive learning rate, got -1.000000e-01}}
  %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr -0.1
      : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
      -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
  return
}

// -----

!w = !quant.uniform<i8:f32:0, {0.01,0.02,0.03,0.04,0.05,0.06}>
!x = !quant.uniform<i8:f32, 0.02:-128>
module attributes {train.arena_size = 1024 : i64, train.arena_alignment = 16 : i64} {
  func.func @scratch_outside_the_arena(%dy: tensor<1x2x4x4xf32>, %wp: tensor<2x6x1x1xf32>, %wd: tensor<6x1x3x3xf32>, %md: tensor<12xi8>, %we: tensor<6x3x1x1xf32>, %me: tensor<48xi8>, %w: tensor<6x3x1x1x!w>, %x: tensor<1x3x8x8x!x>) {
    // expected-error @+1 {{the scratch (2048 bytes at offset 32) does not fit in the arena of 1024 bytes}}
    %dx, %b1, %b2, %u = train.bottleneck_grad %dy project %wp depthwise %wd, %md stride [2, 2] padding [1, 1] expand %we, %me update %w, %x lr 0.1 qas {train.scratch_offset = 32 : i64}
        : (tensor<1x2x4x4xf32>, tensor<2x6x1x1xf32>, tensor<6x1x3x3xf32>, tensor<12xi8>, tensor<6x3x1x1xf32>, tensor<48xi8>, tensor<6x3x1x1x!w>, tensor<1x3x8x8x!x>)
        -> (tensor<1x3x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6x3x1x1x!w>)
    return
  }
}
