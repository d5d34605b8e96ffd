//===- TrainDialect.td - the train dialect ------------------*- tablegen -*-===//
//
// The `train` dialect describes whole training programs: forward layers, losses,
// the gradient ops that compile-time autodiff emits, and optimizer updates.
//
//===----------------------------------------------------------------------===//

#ifndef TCC_TRAIN_DIALECT
#define TCC_TRAIN_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Train_Dialect : Dialect {
  let name = "train";
  let summary = "Training programs: forward, loss, backward and update.";
  let description = [{
    Ops work on ranked tensors with value semantics. Activations are NCHW,
    convolution weights OIHW and linear weights [out, in] (PyTorch's layouts).
    Each model parameter is a function argument carrying a `train.role`
    attribute that says whether the training step updates it, and optionally
    a `train.name`. A training step returns each updated parameter as a result
    marked `train.updates = <argument index>`. A partially trained weight
    carries `train.channels = k : i64` (only its first k channels are updated);
    a momentum buffer argument carries `train.momentum_of = <parameter argument
    index> : i64` and is updated like a parameter. A module may name the file
    holding its parameter values: `module attributes {train.weights =
    "model.npz"}` (relative to the .mlir file, keyed by `train.name`).

    A memory plan (written by `--plan-memory`, read by every code generator)
    places tensors in one static arena: `train.arena_size = N : i64` and
    `train.arena_alignment = A : i64` on the module, `train.offset = N : i64`
    on each function argument stored in the arena, and `train.offsets =
    array<i64: ...>` on each op (one byte offset per result, -1 for a result
    with no storage of its own). A result updated in place shares its
    operand's offset.

    Besides float ops, the dialect has int8 ops on upstream `quant` types
    (per-tensor activations, per-channel weights along axis 0, i32 biases);
    each says how it rescales its accumulator with a `rounding` attribute.
  }];
  let cppNamespace = "::mlir::train";
  let useDefaultAttributePrinterParser = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::quant::QuantDialect"];
  let extraClassDeclaration = [{
    /// Argument attribute: the training role of a parameter.
    static constexpr ::llvm::StringLiteral getRoleAttrName() {
      return ::llvm::StringLiteral("train.role");
    }
    /// Argument or result attribute: a user-facing name (e.g. `fc1.weight`).
    static constexpr ::llvm::StringLiteral getNameAttrName() {
      return ::llvm::StringLiteral("train.name");
    }
    /// Result attribute: index of the parameter argument this result updates.
    static constexpr ::llvm::StringLiteral getUpdatesAttrName() {
      return ::llvm::StringLiteral("train.updates");
    }
    /// Argument attribute: a partially trained weight updates only its first
    /// `k` channels (an i64, 1 <= k <= the size of dimension 0 or 1).
    static constexpr ::llvm::StringLiteral getChannelsAttrName() {
      return ::llvm::StringLiteral("train.channels");
    }
    /// Argument attribute of a momentum buffer: the index (i64) of the
    /// trainable parameter argument it belongs to.
    static constexpr ::llvm::StringLiteral getMomentumOfAttrName() {
      return ::llvm::StringLiteral("train.momentum_of");
    }
    /// Module attribute: the weights file (NPZ, keyed by `train.name`) of the
    /// module's parameters, relative to the .mlir file.
    static constexpr ::llvm::StringLiteral getWeightsAttrName() {
      return ::llvm::StringLiteral("train.weights");
    }
    /// Module attribute: bytes of the static arena of the memory plan (i64).
    static constexpr ::llvm::StringLiteral getArenaSizeAttrName() {
      return ::llvm::StringLiteral("train.arena_size");
    }
    /// Module attribute: alignment (i64, a power of two) of every planned
    /// offset.
    static constexpr ::llvm::StringLiteral getArenaAlignmentAttrName() {
      return ::llvm::StringLiteral("train.arena_alignment");
    }
    /// Argument attribute: byte offset (i64 >= 0) of the argument in the arena.
    static constexpr ::llvm::StringLiteral getOffsetAttrName() {
      return ::llvm::StringLiteral("train.offset");
    }
    /// Op attribute: byte offset (i64 >= 0) of the arena scratch an op needs
    /// while it runs (the row ring of a train.qbottleneck, the dequantized
    /// input channels of a train.conv2d_qsgd of an int8 input).
    static constexpr ::llvm::StringLiteral getScratchOffsetAttrName() {
      return ::llvm::StringLiteral("train.scratch_offset");
    }
    /// Op attribute (unit): the op's result may take over the storage of its
    /// operand 0 of the same shape, its C kernel writing it in place (a
    /// stride-1 depthwise train.conv2d_grad_input; --train-mark-inplace).
    static constexpr ::llvm::StringLiteral getInPlaceAttrName() {
      return ::llvm::StringLiteral("train.in_place");
    }
    /// Op attribute (unit) on a train.qbottleneck whose one use is the 1x1
    /// expansion of another: its rows are computed as that op reads them, so
    /// its result has no storage (--train-fuse-bottleneck).
    static constexpr ::llvm::StringLiteral getStreamedAttrName() {
      return ::llvm::StringLiteral("train.streamed");
    }
    /// Op attribute: the largest |value| of its gradient result in calibration
    /// (f64 >= 0), read by --train-int16-gradients.
    static constexpr ::llvm::StringLiteral getGradRangeAttrName() {
      return ::llvm::StringLiteral("train.grad_range");
    }
    /// Op attribute: byte offset of each result in the arena (array<i64>,
    /// -1 for a result with no storage of its own).
    static constexpr ::llvm::StringLiteral getOffsetsAttrName() {
      return ::llvm::StringLiteral("train.offsets");
    }
  }];
}

def Train_Role : I32EnumAttr<"Role", "training role of a model parameter", [
    I32EnumAttrCase<"frozen", 0>,
    I32EnumAttrCase<"trainable", 1>
  ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::train";
}

def Train_RoleAttr : EnumAttr<Train_Dialect, Train_Role, "role"> {
  let assemblyFormat = "`<` $value `>`";
}

def Train_Rounding : I32EnumAttr<"Rounding",
    "how a quantized op rescales its int32 accumulator", [
    I32EnumAttrCase<"float_scale", 0>,
    I32EnumAttrCase<"multiplier_shift", 1>
  ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::train";
}

// Printed as a bare keyword in op syntax (`rounding float_scale`) and as
// `#train<rounding float_scale>` on its own.
def Train_RoundingAttr : EnumAttr<Train_Dialect, Train_Rounding, "rounding">;

class Train_Op<string mnemonic, list<Trait> traits = []>
    : Op<Train_Dialect, mnemonic, traits>;

#endif // TCC_TRAIN_DIALECT
