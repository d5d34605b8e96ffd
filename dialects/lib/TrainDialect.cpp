//===- TrainDialect.cpp - train dialect registration ----------------------===//
#include "tcc/Dialect/Train/TrainDialect.h"
#include "tcc/Dialect/Train/TrainOps.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::train;

#include "tcc/Dialect/Train/TrainDialect.cpp.inc"
#include "tcc/Dialect/Train/TrainEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "tcc/Dialect/Train/TrainAttrs.cpp.inc"

void TrainDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "tcc/Dialect/Train/TrainAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "tcc/Dialect/Train/TrainOps.cpp.inc"
      >();
}

bool mlir::train::isFixedPointGradient(Type type, unsigned width) {
  auto element = dyn_cast<quant::UniformQuantizedType>(type);
  if (!element || !element.isSigned() ||
      element.getStorageTypeIntegralWidth() != width ||
      element.getZeroPoint() != 0 ||
      element.getStorageTypeMin() != -(int64_t(1) << (width - 1)) ||
      element.getStorageTypeMax() != (int64_t(1) << (width - 1)) - 1)
    return false;
  int exponent = 0;
  return std::frexp(element.getScale(), &exponent) == 0.5;
}

/// The value of an i64 argument attribute, or nullopt after an error.
static std::optional<int64_t> i64ArgAttr(Operation *op, unsigned argIndex,
                                         NamedAttribute attribute) {
  auto value = dyn_cast<IntegerAttr>(attribute.getValue());
  if (!value || !value.getType().isSignlessInteger(64)) {
    op->emitError() << "'" << attribute.getName().getValue()
                    << "' of argument #" << argIndex
                    << " must be an i64 integer, got " << attribute.getValue();
    return std::nullopt;
  }
  return value.getInt();
}

//===----------------------------------------------------------------------===//
// Memory plan attributes
//===----------------------------------------------------------------------===//

/// Bytes of a statically shaped tensor (a quantized element counts its storage
/// type), or nullopt for anything else.
static std::optional<int64_t> storageBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return std::nullopt;
  Type element = tensor.getElementType();
  int64_t bits;
  if (auto quantized = dyn_cast<quant::QuantizedType>(element))
    bits = quantized.getStorageTypeIntegralWidth();
  else if (element.isIntOrFloat())
    bits = element.getIntOrFloatBitWidth();
  else
    return std::nullopt;
  return tensor.getNumElements() * ((bits + 7) / 8);
}

/// An i64 integer attribute's value, or nullopt.
static std::optional<int64_t> i64Value(Attribute attribute) {
  auto value = dyn_cast_or_null<IntegerAttr>(attribute);
  if (!value || !value.getType().isSignlessInteger(64))
    return std::nullopt;
  return value.getInt();
}

namespace {
/// The arena of the module enclosing an op, as far as its attributes say (a
/// malformed module attribute is the module's own error).
struct Arena {
  std::optional<int64_t> size, alignment;

  static Arena of(Operation *op) {
    auto module = dyn_cast<ModuleOp>(op);
    if (!module)
      module = op->getParentOfType<ModuleOp>();
    if (!module)
      return {};
    Arena arena{i64Value(module->getAttr(TrainDialect::getArenaSizeAttrName())),
                i64Value(module->getAttr(
                    TrainDialect::getArenaAlignmentAttrName()))};
    if (arena.alignment && *arena.alignment < 1)
      arena.alignment.reset();
    return arena;
  }

  /// Checks that `offset` (>= 0) is aligned and, with `bytes` when known,
  /// inside the arena; `what` names the value in the message.
  LogicalResult check(Operation *op, int64_t offset,
                      std::optional<int64_t> bytes, const Twine &what) const {
    if (alignment && offset % *alignment != 0)
      return op->emitError() << "offset " << offset << " of " << what
                             << " is not a multiple of the arena alignment ("
                             << *alignment << ")";
    if (!size)
      return success();
    if (bytes && *bytes > 0 && offset + *bytes > *size)
      return op->emitError() << what << " (" << *bytes << " bytes at offset "
                             << offset << ") does not fit in the arena of "
                             << *size << " bytes";
    if (offset >= *size && *size > 0 && (!bytes || *bytes > 0))
      return op->emitError() << "offset " << offset << " of " << what
                             << " is outside the arena of " << *size
                             << " bytes";
    return success();
  }
};
} // namespace

/// `train.offset` on argument `argIndex` of a function.
static LogicalResult verifyArgOffset(Operation *op, unsigned argIndex,
                                     NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  std::optional<int64_t> offset = i64ArgAttr(op, argIndex, attribute);
  if (!offset)
    return failure();
  auto function = dyn_cast<FunctionOpInterface>(op);
  if (!function)
    return op->emitError() << "'" << name
                           << "' is only allowed on function arguments";
  if (*offset < 0)
    return op->emitError() << "'" << name << "' of argument #" << argIndex
                           << " must be >= 0, got " << *offset;
  auto role = function.getArgAttrOfType<RoleAttr>(
      argIndex, TrainDialect::getRoleAttrName());
  if (role && role.getValue() == Role::frozen)
    return op->emitError() << "frozen parameter argument #" << argIndex
                           << " cannot have a '" << name
                           << "': frozen parameters live outside the arena";
  // A partially trained weight, and its momentum buffer, keep only their
  // trained slice in the arena.
  auto partial = [&](unsigned index) {
    return function.getArgAttr(index, TrainDialect::getChannelsAttrName()) !=
           nullptr;
  };
  std::optional<int64_t> param = std::nullopt;
  if (Attribute of = function.getArgAttr(
          argIndex, TrainDialect::getMomentumOfAttrName()))
    param = i64Value(of);
  bool sliced = partial(argIndex) ||
                (param && *param >= 0 &&
                 *param < static_cast<int64_t>(function.getNumArguments()) &&
                 partial(static_cast<unsigned>(*param)));
  std::optional<int64_t> bytes;
  if (!sliced)
    bytes = storageBytes(function.getArgument(argIndex).getType());
  return Arena::of(op).check(op, *offset, bytes,
                             "argument #" + Twine(argIndex));
}

/// `train.offsets` on an op inside a function: one offset per result.
static LogicalResult verifyResultOffsets(Operation *op,
                                         NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  auto offsets = dyn_cast<DenseI64ArrayAttr>(attribute.getValue());
  if (!offsets || offsets.size() != static_cast<int64_t>(op->getNumResults()))
    return op->emitError() << "'" << name
                           << "' must be an array<i64> with one offset per "
                              "result ("
                           << op->getNumResults() << "), got "
                           << attribute.getValue();
  if (!op->getParentOfType<FunctionOpInterface>())
    return op->emitError() << "'" << name
                           << "' is only allowed on ops inside a function";
  Arena arena = Arena::of(op);
  for (auto [index, offset] : llvm::enumerate(offsets.asArrayRef())) {
    if (offset < -1)
      return op->emitError() << "'" << name << "' entry #" << index << " is "
                             << offset
                             << ": expected a byte offset >= 0, or -1 for a "
                                "result with no storage";
    // The update of a partially trained weight holds only its trained slice,
    // fewer bytes than its type says: a result's storage must start inside
    // the arena.
    if (offset >= 0 &&
        failed(arena.check(op, offset, std::nullopt, "result #" + Twine(index))))
      return failure();
  }
  return success();
}

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

/// Depthwise output pixels of a row a fused bottleneck computes, then projects,
/// at a time (train.BOTTLENECK_SPAN in Python, TCC_Q_BOTTLENECK_SPAN in C).
static constexpr int64_t kBottleneckSpan = 4;

/// Expanded channels a train.bottleneck_grad kernel computes at a time
/// (liveness.BOTTLENECK_GRAD_CHANNELS in Python, TCC_BOTTLENECK_GRAD_CHANNELS in C).
static constexpr int64_t kBottleneckGradChannels = 4;

/// Arena scratch bytes of one fused bottleneck (train.BottleneckGeometry.
/// scratch_bytes in Python): the ring of KH expanded rows, as wide as the
/// expansion's output, and kBottleneckSpan depthwise output pixels of every
/// channel.
static int64_t bottleneckScratch(QBottleneckOp bottleneck) {
  ArrayRef<int64_t> dw = shapeOf(bottleneck.getDepthwiseWeight());
  int64_t bytes =
      dw[0] * std::min(shapeOf(bottleneck.getResult())[3], kBottleneckSpan);
  if (bottleneck.getExpandWeight()) {
    int64_t width = (shapeOf(bottleneck.getInput())[3] +
                     2 * bottleneck.getExpandPadding()[1] -
                     shapeOf(bottleneck.getExpandWeight())[3]) /
                        bottleneck.getExpandStride()[1] +
                    1;
    bytes += dw[0] * dw[2] * width;
  }
  return bytes;
}

/// The train.qbottleneck streaming its rows into `bottleneck`'s input, if any.
static QBottleneckOp streamedSource(QBottleneckOp bottleneck) {
  auto source = bottleneck.getInput().getDefiningOp<QBottleneckOp>();
  if (source && source->hasAttr(TrainDialect::getStreamedAttrName()))
    return source;
  return {};
}

/// `train.scratch_offset` on an op that needs arena scratch while it runs (a
/// train.qbottleneck: its ring of expanded rows and a span of depthwise output
/// pixels, and those of every bottleneck streamed into it with one output row
/// each; a train.bottleneck_grad: one channel of its expanded gradients;
/// liveness.scratch_bytes in Python): inside the arena.
static LogicalResult verifyScratchOffset(Operation *op,
                                         NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  auto bottleneck = dyn_cast<QBottleneckOp>(op);
  auto update = dyn_cast<Conv2dQSGDOp>(op);
  bool dequantizes =
      update && isa<quant::QuantizedType>(
                    cast<RankedTensorType>(update.getInput().getType()).getElementType()) &&
      isa<FloatType>(
          cast<RankedTensorType>(update.getGradOutput().getType()).getElementType());
  auto backward = dyn_cast<BottleneckGradOp>(op);
  if (!bottleneck && !dequantizes && !backward)
    return op->emitError() << "'" << name
                           << "' is only allowed on ops that need scratch "
                              "(train.qbottleneck, train.bottleneck_grad, a "
                              "train.conv2d_qsgd of an int8 input and a float "
                              "grad_output)";
  std::optional<int64_t> offset = i64Value(attribute.getValue());
  if (!offset || *offset < 0)
    return op->emitError() << "'" << name
                           << "' must be an i64 byte offset >= 0, got "
                           << attribute.getValue();
  if (backward) {
    // kBottleneckGradChannels channels of g2 and of g1 (N planes each) and, with
    // an update, the dequantized x channels of one block of sums
    // (liveness.scratch_bytes).
    ArrayRef<int64_t> dy = shapeOf(backward.getGradOutput());
    ArrayRef<int64_t> dx = shapeOf(backward.getGradInput());
    int64_t group = std::min(kBottleneckGradChannels,
                             shapeOf(backward.getExpandWeight())[0]);
    int64_t bytes = 4 * dy[0] * group * (dy[2] * dy[3] + dx[2] * dx[3]);
    if (Value x = backward.getInput())
      bytes += 4 * dx[0] * dx[2] * dx[3] * std::min<int64_t>(4, shapeOf(x)[1]);
    return Arena::of(op).check(op, *offset, bytes, "the scratch");
  }
  if (update) {
    // The dequantized x channels one block of sums reads (liveness.scratch_bytes).
    ArrayRef<int64_t> x = shapeOf(update.getInput()), w = shapeOf(update.getParam());
    bool pointwise = w[2] == 1 && w[3] == 1 && update.getGroups() == 1 &&
                     llvm::all_of(update.getStride(), [](int64_t v) { return v == 1; }) &&
                     llvm::all_of(update.getPadding(), [](int64_t v) { return v == 0; });
    int64_t channels = pointwise ? std::min<int64_t>(4, x[1]) : 1;
    return Arena::of(op).check(op, *offset, 4 * channels * x[0] * x[2] * x[3],
                               "the scratch");
  }
  int64_t bytes = 0;
  for (QBottleneckOp stage = bottleneck; stage; stage = streamedSource(stage)) {
    if (stage.getExpandStride().size() != 2 ||
        stage.getExpandPadding().size() != 2)
      return success(); // the op's verifier reports it
    bytes += bottleneckScratch(stage);
    if (stage != bottleneck) {
      ArrayRef<int64_t> y = shapeOf(stage.getResult());
      bytes += y[1] * y[3]; // the row it hands over
    }
  }
  return Arena::of(op).check(op, *offset, bytes, "the scratch");
}

/// `op` as an OpT when `attribute` is a unit attribute on one (`opName`), else
/// the error naming what is wrong.
template <typename OpT>
static FailureOr<OpT> unitAttributeOn(Operation *op, NamedAttribute attribute,
                                      StringRef opName) {
  StringRef name = attribute.getName().getValue();
  auto typed = dyn_cast<OpT>(op);
  if (!typed)
    return op->emitError() << "'" << name << "' is only allowed on " << opName;
  if (!isa<UnitAttr>(attribute.getValue()))
    return op->emitError() << "'" << name << "' must be a unit attribute, got "
                           << attribute.getValue();
  return typed;
}

/// `train.streamed`: a unit attribute on a train.qbottleneck whose result has
/// one use, the input of a train.qbottleneck with a 1x1, stride-1, unpadded
/// expansion (which reads one input row per expanded row).
static LogicalResult verifyStreamed(Operation *op, NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  FailureOr<QBottleneckOp> on =
      unitAttributeOn<QBottleneckOp>(op, attribute, "train.qbottleneck");
  if (failed(on))
    return failure();
  QBottleneckOp bottleneck = *on;
  Value result = bottleneck.getResult();
  if (!result.hasOneUse())
    return op->emitError() << "'" << name
                           << "' needs a result with exactly one use";
  OpOperand &use = *result.getUses().begin();
  auto reader = dyn_cast<QBottleneckOp>(use.getOwner());
  if (!reader || use.getOperandNumber() != 0)
    return op->emitError() << "'" << name
                           << "' needs its result to be the input of a "
                              "train.qbottleneck";
  Value expand = reader.getExpandWeight();
  auto isOnes = [](ArrayRef<int64_t> values, int64_t one) {
    return llvm::all_of(values, [&](int64_t v) { return v == one; });
  };
  if (!expand || shapeOf(expand)[2] != 1 || shapeOf(expand)[3] != 1 ||
      !isOnes(reader.getExpandStride(), 1) ||
      !isOnes(reader.getExpandPadding(), 0))
    return op->emitError() << "'" << name
                           << "' needs a reader with a 1x1, stride 1, "
                              "unpadded expansion";
  return success();
}

/// `train.arena_size` / `train.arena_alignment` on the module.
static LogicalResult verifyArenaAttr(Operation *op, NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << name
                           << "' is only allowed on a builtin.module";
  std::optional<int64_t> value = i64Value(attribute.getValue());
  if (!value)
    return op->emitError() << "'" << name << "' must be an i64 integer, got "
                           << attribute.getValue();
  if (name == TrainDialect::getArenaSizeAttrName() && *value < 0)
    return op->emitError() << "'" << name << "' must be >= 0, got " << *value;
  if (name == TrainDialect::getArenaAlignmentAttrName() &&
      (*value < 1 || !llvm::isPowerOf2_64(*value)))
    return op->emitError() << "'" << name
                           << "' must be a power of two, got " << *value;
  return success();
}

LogicalResult TrainDialect::verifyRegionArgAttribute(Operation *op,
                                                     unsigned regionIndex,
                                                     unsigned argIndex,
                                                     NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (name == getNameAttrName()) {
    if (!isa<StringAttr>(attribute.getValue()))
      return op->emitError() << "'" << name << "' of argument #" << argIndex
                             << " must be a string";
    return success();
  }
  Type argType = op->getRegion(regionIndex).getArgument(argIndex).getType();
  if (name == getChannelsAttrName()) {
    std::optional<int64_t> channels = i64ArgAttr(op, argIndex, attribute);
    if (!channels)
      return failure();
    auto tensor = dyn_cast<RankedTensorType>(argType);
    if (!tensor || tensor.getRank() < 1 || !tensor.hasStaticShape())
      return op->emitError() << "argument #" << argIndex << " with a '"
                             << name
                             << "' must be a static tensor of rank >= 1, got "
                             << argType;
    if (*channels < 1)
      return op->emitError() << "'" << name << "' of argument #" << argIndex
                             << " must be >= 1, got " << *channels;
    // The channel axis (output: 0, input: 1) is the scheme's choice.
    int64_t most = tensor.getDimSize(0);
    if (tensor.getRank() > 1)
      most = std::max(most, tensor.getDimSize(1));
    if (*channels > most)
      return op->emitError() << "'" << name << "' of argument #" << argIndex
                             << " (" << *channels
                             << ") exceeds the channel count of " << argType;
    return success();
  }
  if (name == getOffsetAttrName())
    return verifyArgOffset(op, argIndex, attribute);
  if (name == getMomentumOfAttrName()) {
    std::optional<int64_t> param = i64ArgAttr(op, argIndex, attribute);
    if (!param)
      return failure();
    auto function = dyn_cast<FunctionOpInterface>(op);
    if (!function)
      return op->emitError() << "'" << name
                             << "' is only allowed on function arguments";
    if (*param < 0 ||
        *param >= static_cast<int64_t>(function.getNumArguments()) ||
        *param == static_cast<int64_t>(argIndex))
      return op->emitError() << "'" << name << "' of argument #" << argIndex
                             << " names argument #" << *param
                             << ", which is not another argument";
    auto role = function.getArgAttrOfType<RoleAttr>(*param, getRoleAttrName());
    if (!role || role.getValue() != Role::trainable)
      return op->emitError() << "'" << name << "' of argument #" << argIndex
                             << " names argument #" << *param
                             << ", which is not a trainable parameter";
    if (function.getArgument(*param).getType() != argType)
      return op->emitError() << "momentum buffer argument #" << argIndex
                             << " has type " << argType
                             << " but its parameter (argument #" << *param
                             << ") has type "
                             << function.getArgument(*param).getType();
    return success();
  }
  if (name != getRoleAttrName())
    return op->emitError() << "unknown train dialect argument attribute '"
                           << name << "'";
  if (!isa<RoleAttr>(attribute.getValue()))
    return op->emitError() << "'" << name << "' of argument #" << argIndex
                           << " must be a #train.role<...> attribute, got "
                           << attribute.getValue();
  if (!isa<RankedTensorType>(argType))
    return op->emitError() << "parameter argument #" << argIndex
                           << " with a '" << name
                           << "' must be a ranked tensor";
  return success();
}

LogicalResult TrainDialect::verifyRegionResultAttribute(
    Operation *op, unsigned regionIndex, unsigned resultIndex,
    NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (name == getNameAttrName()) {
    if (!isa<StringAttr>(attribute.getValue()))
      return op->emitError() << "'" << name << "' of result #" << resultIndex
                             << " must be a string";
    return success();
  }
  if (name != getUpdatesAttrName())
    return op->emitError() << "unknown train dialect result attribute '"
                           << name << "'";
  auto index = dyn_cast<IntegerAttr>(attribute.getValue());
  auto function = dyn_cast<FunctionOpInterface>(op);
  if (!index || !function)
    return op->emitError() << "'" << name << "' of result #" << resultIndex
                           << " must be an integer argument index";
  int64_t arg = index.getInt();
  if (arg < 0 || arg >= static_cast<int64_t>(function.getNumArguments()))
    return op->emitError() << "'" << name << "' of result #" << resultIndex
                           << " names argument #" << arg
                           << ", which does not exist";
  // A trainable parameter or a momentum buffer.
  auto role = function.getArgAttrOfType<RoleAttr>(arg, getRoleAttrName());
  bool buffer = function.getArgAttr(arg, getMomentumOfAttrName()) != nullptr;
  if (!buffer && (!role || role.getValue() != Role::trainable))
    return op->emitError() << "'" << name << "' of result #" << resultIndex
                           << " names argument #" << arg
                           << ", which is not a trainable parameter"
                           << " or a momentum buffer";
  if (function.getArgument(arg).getType() !=
      function.getResultTypes()[resultIndex])
    return op->emitError() << "result #" << resultIndex
                           << " updates argument #" << arg
                           << " but their types differ";
  return success();
}

/// `train.in_place`: a unit attribute on a depthwise conv2d_grad_input whose
/// input gradient has the shape of its dy (the storage it takes over).
static LogicalResult verifyInPlace(Operation *op, NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  FailureOr<Conv2dGradInputOp> on =
      unitAttributeOn<Conv2dGradInputOp>(op, attribute, "train.conv2d_grad_input");
  if (failed(on))
    return failure();
  Conv2dGradInputOp grad = *on;
  if (grad.getGradOutput().getType() != grad.getResult().getType())
    return op->emitError() << "'" << name
                           << "' needs a result of the type of grad_output "
                           << grad.getGradOutput().getType() << ", got "
                           << grad.getResult().getType();
  return success();
}

LogicalResult TrainDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (name == getOffsetsAttrName())
    return verifyResultOffsets(op, attribute);
  if (name == getArenaSizeAttrName() || name == getArenaAlignmentAttrName())
    return verifyArenaAttr(op, attribute);
  if (name == getScratchOffsetAttrName())
    return verifyScratchOffset(op, attribute);
  if (name == getInPlaceAttrName())
    return verifyInPlace(op, attribute);
  if (name == getStreamedAttrName())
    return verifyStreamed(op, attribute);
  if (name == getGradRangeAttrName()) {
    auto range = dyn_cast<FloatAttr>(attribute.getValue());
    if (!range || !range.getType().isF64() || !(range.getValueAsDouble() >= 0.0) ||
        std::isinf(range.getValueAsDouble()))
      return op->emitError() << "'" << name
                             << "' must be a finite f64 >= 0 (the calibrated "
                                "range of the op's gradient), got "
                             << attribute.getValue();
    return success();
  }
  if (name != getWeightsAttrName())
    return op->emitError() << "unknown train dialect attribute '" << name
                           << "'";
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << name
                           << "' is only allowed on a builtin.module";
  auto path = dyn_cast<StringAttr>(attribute.getValue());
  if (!path || path.getValue().empty())
    return op->emitError() << "'" << name
                           << "' must be a non-empty string (the weights "
                              "file, relative to the .mlir file), got "
                           << attribute.getValue();
  return success();
}
