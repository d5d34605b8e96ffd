//===- TrainDialect.cpp - train dialect registration ----------------------===//
#include "tcc/Dialect/Train/TrainDialect.h"
#include "tcc/Dialect/Train/TrainOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

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

LogicalResult TrainDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
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
