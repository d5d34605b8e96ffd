// RUN: tcc-opt %s -split-input-file -verify-diagnostics

// Diagnostics of the memory plan attributes written by --plan-memory:
// train.arena_size / train.arena_alignment on the module, train.offset on
// function arguments and train.offsets on ops.

// A well-formed plan: an argument, a result in place of its operand, a result
// with no storage (-1) and a 0-d loss, all aligned and inside the arena.
module attributes {train.arena_size = 144 : i64, train.arena_alignment = 16 : i64} {
  func.func @ok(%x: tensor<4x4xf32> {train.offset = 0 : i64},
                %w: tensor<4x4xf32> {train.role = #train.role<frozen>}) -> tensor<f32> {
    %c = arith.constant {train.offsets = array<i64: -1>} dense<1.0> : tensor<4x4xf32>
    %y = train.relu %x {train.offsets = array<i64: 0>} : tensor<4x4xf32>
    %z = train.add %y, %c {train.offsets = array<i64: 64>} : tensor<4x4xf32>
    %l = train.mse %z, %w {train.offsets = array<i64: 128>} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<f32>
    return %l : tensor<f32>
  }
}

// -----

// A partial-channel weight (2 of 8 rows trained) and its momentum buffer keep only
// their trained slice (2x4 f32 = 32 bytes each) in the arena: both fit.
module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  func.func @partial_momentum(
      %w: tensor<8x4xf32> {train.role = #train.role<trainable>, train.channels = 2 : i64,
                           train.offset = 0 : i64},
      %m: tensor<8x4xf32> {train.momentum_of = 0 : i64, train.offset = 32 : i64}) {
    return
  }
}

// -----

// expected-error @+1 {{'train.arena_size' must be >= 0, got -16}}
module attributes {train.arena_size = -16 : i64} {
}

// -----

// expected-error @+1 {{'train.arena_size' must be an i64 integer, got 1.600000e+01 : f32}}
module attributes {train.arena_size = 16.0 : f32} {
}

// -----

// expected-error @+1 {{'train.arena_alignment' must be a power of two, got 12}}
module attributes {train.arena_alignment = 12 : i64} {
}

// -----

module {
  // expected-error @+1 {{'train.arena_size' is only allowed on a builtin.module}}
  func.func @size_on_function() attributes {train.arena_size = 16 : i64} {
    return
  }
}

// -----

func.func @offsets_count(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.offsets' must be an array<i64> with one offset per result (1), got array<i64: 0, 16>}}
  %y = train.relu %x {train.offsets = array<i64: 0, 16>} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @offsets_type(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.offsets' must be an array<i64> with one offset per result (1), got 0 : i64}}
  %y = train.relu %x {train.offsets = 0 : i64} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @offsets_negative(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'train.offsets' entry #0 is -2: expected a byte offset >= 0, or -1 for a result with no storage}}
  %y = train.relu %x {train.offsets = array<i64: -2>} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// expected-error @+1 {{'train.offsets' is only allowed on ops inside a function}}
module attributes {train.offsets = array<i64>} {
}

// -----

module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  func.func @misaligned(%x: tensor<4xf32>) -> tensor<4xf32> {
    // expected-error @+1 {{offset 8 of result #0 is not a multiple of the arena alignment (16)}}
    %y = train.relu %x {train.offsets = array<i64: 8>} : tensor<4xf32>
    return %y : tensor<4xf32>
  }
}

// -----

module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  func.func @outside(%x: tensor<8xf32>) -> tensor<8xf32> {
    // expected-error @+1 {{offset 64 of result #0 is outside the arena of 64 bytes}}
    %y = train.relu %x {train.offsets = array<i64: 64>} : tensor<8xf32>
    return %y : tensor<8xf32>
  }
}

// -----

module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  // expected-error @+1 {{'train.offset' of argument #0 must be >= 0, got -16}}
  func.func @arg_negative(%x: tensor<4xf32> {train.offset = -16 : i64}) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}

// -----

// expected-error @+1 {{'train.offset' of argument #0 must be an i64 integer, got 0 : i32}}
func.func @arg_type(%x: tensor<4xf32> {train.offset = 0 : i32}) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{frozen parameter argument #1 cannot have a 'train.offset': frozen parameters live outside the arena}}
func.func @frozen_in_arena(%x: tensor<2x4xf32> {train.offset = 0 : i64},
                           %w: tensor<3x4xf32> {train.offset = 32 : i64, train.role = #train.role<frozen>}) -> tensor<2x3xf32> {
  %y = train.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  // expected-error @+1 {{argument #0 (64 bytes at offset 32) does not fit in the arena of 64 bytes}}
  func.func @arg_outside(%x: tensor<16xf32> {train.offset = 32 : i64}) -> tensor<16xf32> {
    return %x : tensor<16xf32>
  }
}

// -----

module attributes {train.arena_size = 64 : i64, train.arena_alignment = 16 : i64} {
  // expected-error @+1 {{offset 4 of argument #0 is not a multiple of the arena alignment (16)}}
  func.func @arg_misaligned(%x: tensor<4xf32> {train.offset = 4 : i64}) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}
