//===- TrainOps.cpp - train dialect op verifiers --------------------------===//
#include "tcc/Dialect/Train/TrainOps.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::train;

/// `float_scale` | `multiplier_shift`: the rounding of the quantized ops as a
/// bare keyword.
static ParseResult parseRounding(OpAsmParser &parser, RoundingAttr &rounding) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<Rounding> value = symbolizeRounding(keyword);
  if (!value)
    return parser.emitError(loc)
           << "expected rounding 'float_scale' or 'multiplier_shift', got '"
           << keyword << "'";
  rounding = RoundingAttr::get(parser.getContext(), *value);
  return success();
}

static void printRounding(OpAsmPrinter &printer, Operation *,
                          RoundingAttr rounding) {
  printer << stringifyRounding(rounding.getValue());
}

#define GET_OP_CLASSES
#include "tcc/Dialect/Train/TrainOps.cpp.inc"

namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

ArrayRef<int64_t> shapeOf(Value v) { return tensorType(v).getShape(); }

/// A value and its name in diagnostics.
struct Named {
  Value value;
  StringRef name;
};

/// Checks that `v` has rank `rank`; names it `what` in the message.
LogicalResult expectRank(Operation *op, Value v, int64_t rank, StringRef what) {
  int64_t got = tensorType(v).getRank();
  if (got != rank)
    return op->emitOpError() << "expected " << what << " of rank " << rank
                             << ", got rank " << got;
  return success();
}

/// Checks that `v` has rank >= `rank`.
LogicalResult expectMinRank(Operation *op, Value v, int64_t rank,
                            StringRef what) {
  int64_t got = tensorType(v).getRank();
  if (got < rank)
    return op->emitOpError() << "expected " << what << " of rank >= " << rank
                             << ", got rank " << got;
  return success();
}

/// Checks that every value has the element type of the first.
LogicalResult expectSameElementType(Operation *op, ArrayRef<Value> values) {
  Type element = tensorType(values.front()).getElementType();
  StringRef kind = isa<FloatType>(element)               ? "float "
                   : isa<quant::QuantizedType>(element) ? "quantized "
                                                         : "";
  for (Value v : values.drop_front())
    if (tensorType(v).getElementType() != element)
      return op->emitOpError() << "expected all " << kind
                               << "operands and results to have element type "
                               << element << ", got "
                               << tensorType(v).getElementType();
  return success();
}

/// Checks that every operand and result of `op` has its element type.
LogicalResult expectOneElementType(Operation *op) {
  SmallVector<Value> values(op->getOperands());
  llvm::append_range(values, op->getResults());
  return expectSameElementType(op, values);
}

/// Checks that `v` has type `expected`, which is `whose` type.
LogicalResult expectType(Operation *op, Value v, Type expected, StringRef what,
                         StringRef whose) {
  if (v.getType() != expected)
    return op->emitOpError() << "expected " << what << " type " << expected
                             << " (" << whose << " type), got " << v.getType();
  return success();
}

LogicalResult expectStaticShapes(Operation *op) {
  for (Type t : llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes()))
    if (!cast<RankedTensorType>(t).hasStaticShape())
      return op->emitOpError() << "expected static shapes, got " << t;
  return success();
}

LogicalResult expectDim(Operation *op, int64_t got, int64_t expected,
                        const Twine &what) {
  if (got != expected)
    return op->emitOpError() << what << " (" << got << ") does not match "
                             << expected;
  return success();
}

/// The preamble of most verifiers: static shapes, the given rank for each
/// named value and, with `sameElementType`, one element type for all of them.
LogicalResult verifyOperandsOfRank(Operation *op, ArrayRef<Named> values,
                                   int64_t rank, bool sameElementType = true) {
  if (failed(expectStaticShapes(op)))
    return failure();
  for (const Named &named : values)
    if (failed(expectRank(op, named.value, rank, named.name)))
      return failure();
  if (!sameElementType)
    return success();
  SmallVector<Value> plain;
  for (const Named &named : values)
    plain.push_back(named.value);
  return expectSameElementType(op, plain);
}

/// Checks the operands of a layer (linear: rank 2, conv2d: rank 4): static
/// shapes, ranks, and an optional rank-1 bias with one value per output
/// channel (dim 0 of the weight).
LogicalResult verifyLayerOperands(Operation *op, Value input, Value weight,
                                  Value bias, Value result, int64_t rank) {
  if (failed(verifyOperandsOfRank(op,
                                  {{input, "input"},
                                   {weight, "weight"},
                                   {result, "result"}},
                                  rank, /*sameElementType=*/false)))
    return failure();
  if (!bias)
    return success();
  if (failed(expectRank(op, bias, 1, "bias")))
    return failure();
  return expectDim(op, shapeOf(bias)[0], shapeOf(weight)[0], "bias size");
}

/// The element types of a float layer: the same for all operands and result.
LogicalResult verifyFloatLayer(Operation *op, Value input, Value weight,
                               Value bias, Value result, int64_t rank) {
  if (failed(verifyLayerOperands(op, input, weight, bias, result, rank)))
    return failure();
  SmallVector<Value> values = {input, weight, result};
  if (bias)
    values.push_back(bias);
  return expectSameElementType(op, values);
}

/// Output size of one spatial dimension of a convolution or pooling window,
/// or 0 when the dilated kernel is larger than the padded input.
int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation) {
  int64_t room = in + 2 * padding - dilation * (kernel - 1) - 1;
  return room < 0 ? 0 : room / stride + 1;
}

/// Checks the batch and channel dimensions of an NCHW output.
LogicalResult verifyBatchAndChannels(Operation *op, ArrayRef<int64_t> output,
                                     int64_t batch, int64_t channels) {
  if (failed(expectDim(op, output[0], batch, "output batch size")))
    return failure();
  return expectDim(op, output[1], channels, "output channels");
}

/// Checks the height and width of an NCHW output of a sliding window
/// (`kernel`: its 2 spatial sizes) over an NCHW input.
LogicalResult verifySpatialOutput(Operation *op, ArrayRef<int64_t> input,
                                  ArrayRef<int64_t> kernel,
                                  ArrayRef<int64_t> output,
                                  ArrayRef<int64_t> stride,
                                  ArrayRef<int64_t> padding,
                                  ArrayRef<int64_t> dilation) {
  for (int i = 0; i < 2; ++i) {
    int64_t expected = convOutputSize(input[2 + i], kernel[i], stride[i],
                                      padding[i], dilation[i]);
    if (expected < 1)
      return op->emitOpError() << "kernel does not fit the padded input";
    if (failed(expectDim(op, output[2 + i], expected,
                         i == 0 ? "output height" : "output width")))
      return failure();
  }
  return success();
}

/// Verifies a convolution relating an NCHW activation, an OIHW weight and an
/// NCHW output under the given geometry.
LogicalResult verifyConvGeometry(Operation *op, ArrayRef<int64_t> input,
                                 ArrayRef<int64_t> weight,
                                 ArrayRef<int64_t> output,
                                 ArrayRef<int64_t> stride,
                                 ArrayRef<int64_t> padding,
                                 ArrayRef<int64_t> dilation, int64_t groups) {
  if (stride.size() != 2 || padding.size() != 2 || dilation.size() != 2)
    return op->emitOpError()
           << "expected stride, padding and dilation of 2 values each";
  for (int i = 0; i < 2; ++i) {
    if (stride[i] < 1 || dilation[i] < 1)
      return op->emitOpError() << "expected stride and dilation >= 1";
    if (padding[i] < 0)
      return op->emitOpError() << "expected padding >= 0";
  }
  if (groups < 1)
    return op->emitOpError() << "expected groups >= 1, got " << groups;
  if (input[1] % groups != 0)
    return op->emitOpError() << "input channels (" << input[1]
                             << ") are not divisible by groups (" << groups
                             << ")";
  if (weight[0] % groups != 0)
    return op->emitOpError() << "output channels (" << weight[0]
                             << ") are not divisible by groups (" << groups
                             << ")";
  if (failed(expectDim(op, weight[1], input[1] / groups,
                       "weight input channels")) ||
      failed(verifyBatchAndChannels(op, output, input[0], weight[0])))
    return failure();
  return verifySpatialOutput(op, input, weight.drop_front(2), output, stride,
                             padding, dilation);
}

/// `verifyConvGeometry` with the geometry attributes of `op`.
template <typename ConvOp>
LogicalResult verifyConv(ConvOp op, Value input, Value weight, Value output) {
  return verifyConvGeometry(op, shapeOf(input), shapeOf(weight),
                            shapeOf(output), op.getStride(), op.getPadding(),
                            op.getDilation(), op.getGroups());
}

LogicalResult verifyLinear(Operation *op, ArrayRef<int64_t> input,
                           ArrayRef<int64_t> weight, ArrayRef<int64_t> output) {
  if (failed(expectDim(op, weight[1], input[1],
                       "weight in_features")))
    return failure();
  if (failed(expectDim(op, output[0], input[0], "result batch size")))
    return failure();
  return expectDim(op, output[1], weight[0], "result features");
}

/// Verifies a 2-D pooling op: rank-4 static input and result of one element
/// type, and a window that fits the padded input.
template <typename PoolOp>
LogicalResult verifyPool(PoolOp op) {
  if (failed(verifyOperandsOfRank(
          op, {{op.getInput(), "input"}, {op.getResult(), "result"}}, 4)))
    return failure();
  ArrayRef<int64_t> kernel = op.getKernel(), stride = op.getStride(),
                    padding = op.getPadding();
  if (kernel.size() != 2 || stride.size() != 2 || padding.size() != 2)
    return op.emitOpError()
           << "expected kernel, stride and padding of 2 values each";
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || stride[i] < 1)
      return op.emitOpError() << "expected kernel and stride >= 1";
    if (padding[i] < 0)
      return op.emitOpError() << "expected padding >= 0";
    // Every window then holds at least one input element.
    if (padding[i] >= kernel[i])
      return op.emitOpError()
             << "expected padding smaller than the kernel, got padding "
             << padding[i] << " for kernel " << kernel[i];
  }
  ArrayRef<int64_t> input = shapeOf(op.getInput());
  ArrayRef<int64_t> output = shapeOf(op.getResult());
  if (failed(verifyBatchAndChannels(op, output, input[0], input[1])))
    return failure();
  int64_t dilation[] = {1, 1};
  return verifySpatialOutput(op, input, kernel, output, stride, padding,
                             dilation);
}

/// Verifies a global average pooling: NxCxHxW -> NxCx1x1, one element type.
LogicalResult verifyGlobalPool(Operation *op, Value input, Value result) {
  if (failed(verifyOperandsOfRank(op, {{input, "input"}, {result, "result"}},
                                  4)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(input), out = shapeOf(result);
  if (failed(verifyBatchAndChannels(op, out, in[0], in[1])) ||
      failed(expectDim(op, out[2], 1, "output height")))
    return failure();
  return expectDim(op, out[3], 1, "output width");
}

LogicalResult expectAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank)
    return op->emitOpError() << "expected axis in [0, " << rank << "), got "
                             << axis;
  return success();
}

LogicalResult expectNonNegativeEpsilon(Operation *op, APFloat epsilon) {
  if (!(epsilon.convertToFloat() >= 0.0f))
    return op->emitOpError() << "expected epsilon >= 0, got "
                             << epsilon.convertToFloat();
  return success();
}

/// Checks a per-channel weight: quantized along axis 0 with one scale per
/// output channel and zero points of 0 (symmetric, as TFLite requires).
LogicalResult verifyQuantWeight(Operation *op, Value weight) {
  auto type =
      cast<quant::UniformQuantizedPerAxisType>(tensorType(weight).getElementType());
  if (type.getQuantizedDimension() != 0)
    return op->emitOpError() << "expected the weight quantized along axis 0, "
                                "got axis "
                             << type.getQuantizedDimension();
  if (failed(expectDim(op, type.getScales().size(), shapeOf(weight)[0],
                       "weight scale count")))
    return failure();
  if (llvm::any_of(type.getZeroPoints(), [](int64_t z) { return z != 0; }))
    return op->emitOpError() << "expected weight zero points of 0";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Forward ops
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  if (failed(verifyFloatLayer(*this, getInput(), getWeight(), getBias(),
                              getResult(), 2)))
    return failure();
  return verifyLinear(*this, shapeOf(getInput()), shapeOf(getWeight()),
                      shapeOf(getResult()));
}

LogicalResult Conv2dOp::verify() {
  if (failed(verifyFloatLayer(*this, getInput(), getWeight(), getBias(),
                              getResult(), 4)))
    return failure();
  return verifyConv(*this, getInput(), getWeight(), getResult());
}

LogicalResult ReshapeOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectSameElementType(*this, {getInput(), getResult()})))
    return failure();
  int64_t in = tensorType(getInput()).getNumElements();
  int64_t out = tensorType(getResult()).getNumElements();
  if (in != out)
    return emitOpError() << "cannot reshape " << in << " elements into " << out;
  return success();
}

LogicalResult MatmulOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectMinRank(*this, getLhs(), 2, "lhs")))
    return failure();
  int64_t rank = tensorType(getLhs()).getRank();
  if (failed(expectRank(*this, getRhs(), rank, "rhs")) ||
      failed(expectRank(*this, getResult(), rank, "result")) ||
      failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> lhs = shapeOf(getLhs()), rhs = shapeOf(getRhs()),
                    result = shapeOf(getResult());
  for (int64_t i = 0; i < rank - 2; ++i)
    if (failed(expectDim(*this, rhs[i], lhs[i],
                         "rhs batch dimension " + Twine(i))) ||
        failed(expectDim(*this, result[i], lhs[i],
                         "result batch dimension " + Twine(i))))
      return failure();
  if (failed(expectDim(*this, rhs[rank - 2], lhs[rank - 1],
                       "rhs contraction size")) ||
      failed(expectDim(*this, result[rank - 2], lhs[rank - 2], "result rows")))
    return failure();
  return expectDim(*this, result[rank - 1], rhs[rank - 1], "result columns");
}

LogicalResult BroadcastOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  if (in.size() > out.size())
    return emitOpError() << "cannot broadcast rank " << in.size()
                         << " to rank " << out.size();
  size_t offset = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != out[offset + i])
      return emitOpError() << "cannot broadcast input dimension " << i
                           << " of size " << in[i] << " to size "
                           << out[offset + i];
  return success();
}

LogicalResult ClampOp::verify() {
  float min = getMin().convertToFloat(), max = getMax().convertToFloat();
  if (!(min <= max))
    return emitOpError() << "expected min <= max, got min " << min
                         << " and max " << max;
  return success();
}

LogicalResult AvgPool2dOp::verify() { return verifyPool(*this); }

LogicalResult MaxPool2dOp::verify() { return verifyPool(*this); }

LogicalResult GlobalAvgPoolOp::verify() {
  return verifyGlobalPool(*this, getInput(), getResult());
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "expected at least one operand";
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> result = shapeOf(getResult());
  int64_t rank = result.size(), axis = getAxis();
  if (failed(expectAxis(*this, axis, rank)))
    return failure();
  int64_t total = 0;
  for (auto [index, input] : llvm::enumerate(getInputs())) {
    if (failed(expectRank(*this, input, rank, "operand #" + std::to_string(index))))
      return failure();
    ArrayRef<int64_t> shape = shapeOf(input);
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis &&
          failed(expectDim(*this, shape[d], result[d],
                           "operand #" + Twine(index) + " dimension " +
                               Twine(d))))
        return failure();
    total += shape[axis];
  }
  return expectDim(*this, result[axis], total,
                   "result dimension " + Twine(axis) +
                       " (the concatenation axis)");
}

LogicalResult TransposeOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  ArrayRef<int64_t> permutation = getPermutation();
  int64_t rank = in.size();
  if (static_cast<int64_t>(permutation.size()) != rank)
    return emitOpError() << "expected a permutation of " << rank
                         << " values, got " << permutation.size();
  SmallVector<bool> seen(rank, false);
  for (int64_t p : permutation) {
    if (p < 0 || p >= rank || seen[p]) {
      std::string text;
      llvm::raw_string_ostream os(text);
      llvm::interleaveComma(permutation, os);
      return emitOpError() << "permutation [" << text
                           << "] is not a permutation of 0.." << rank - 1;
    }
    seen[p] = true;
  }
  if (failed(expectRank(*this, getResult(), rank, "result")))
    return failure();
  for (int64_t i = 0; i < rank; ++i)
    if (failed(expectDim(*this, out[i], in[permutation[i]],
                         "result dimension " + Twine(i))))
      return failure();
  return success();
}

LogicalResult BatchNormOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectMinRank(*this, getInput(), 2, "input")) ||
      failed(expectOneElementType(*this)))
    return failure();
  int64_t channels = shapeOf(getInput())[1];
  for (Named named : {Named{getGamma(), "gamma"}, Named{getBeta(), "beta"},
                      Named{getMean(), "mean"}, Named{getVar(), "var"}})
    if (failed(expectRank(*this, named.value, 1, named.name)) ||
        failed(expectDim(*this, shapeOf(named.value)[0], channels,
                         named.name + Twine(" size"))))
      return failure();
  if (failed(expectType(*this, getResult(), getInput().getType(), "result",
                        "the input's")))
    return failure();
  return expectNonNegativeEpsilon(*this, getEpsilon());
}

LogicalResult SoftmaxOp::verify() {
  return expectAxis(*this, getAxis(), tensorType(getInput()).getRank());
}

LogicalResult LayerNormOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  if (failed(expectType(*this, getBias(), getWeight().getType(), "bias",
                        "the weight's")) ||
      failed(expectType(*this, getResult(), getInput().getType(), "result",
                        "the input's")))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput()), weight = shapeOf(getWeight());
  if (weight.empty() || weight.size() > in.size())
    return emitOpError() << "expected weight of rank 1 to " << in.size()
                         << " (the input's rank), got rank " << weight.size();
  size_t offset = in.size() - weight.size();
  for (size_t i = 0; i < weight.size(); ++i)
    if (failed(expectDim(*this, weight[i], in[offset + i],
                         "weight dimension " + Twine(i))))
      return failure();
  return expectNonNegativeEpsilon(*this, getEpsilon());
}

LogicalResult MSEOp::verify() {
  if (failed(expectType(*this, getTarget(), getPred().getType(), "target",
                        "the prediction's")))
    return failure();
  return expectOneElementType(*this);
}

/// Shared checks of cross_entropy and its gradient.
static LogicalResult verifyLogitsAndLabels(Operation *op, Value logits,
                                           Value labels) {
  if (failed(verifyOperandsOfRank(op, {{logits, "logits"}}, 2)) ||
      failed(expectRank(op, labels, 1, "labels")))
    return failure();
  return expectDim(op, shapeOf(labels)[0], shapeOf(logits)[0], "label count");
}

LogicalResult CrossEntropyOp::verify() {
  if (failed(verifyLogitsAndLabels(*this, getLogits(), getLabels())))
    return failure();
  return expectSameElementType(*this, {getLogits(), getResult()});
}

//===----------------------------------------------------------------------===//
// Quantized ops
//===----------------------------------------------------------------------===//

LogicalResult QConv2dOp::verify() {
  if (failed(verifyLayerOperands(*this, getInput(), getWeight(), getBias(),
                                 getResult(), 4)) ||
      failed(verifyQuantWeight(*this, getWeight())))
    return failure();
  return verifyConv(*this, getInput(), getWeight(), getResult());
}

LogicalResult QLinearOp::verify() {
  if (failed(verifyLayerOperands(*this, getInput(), getWeight(), getBias(),
                                 getResult(), 2)) ||
      failed(verifyQuantWeight(*this, getWeight())))
    return failure();
  return verifyLinear(*this, shapeOf(getInput()), shapeOf(getWeight()),
                      shapeOf(getResult()));
}

LogicalResult QAddOp::verify() {
  if (failed(expectStaticShapes(*this)))
    return failure();
  for (Named named : {Named{getRhs(), "rhs"}, Named{getResult(), "result"}})
    if (shapeOf(named.value) != shapeOf(getLhs()))
      return emitOpError() << "expected " << named.name
                           << " of the lhs's shape, got " << named.value.getType()
                           << " and " << getLhs().getType();
  return success();
}

LogicalResult QAvgPool2dOp::verify() { return verifyPool(*this); }

LogicalResult QGlobalAvgPoolOp::verify() {
  return verifyGlobalPool(*this, getInput(), getResult());
}

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyGradOp::verify() {
  if (failed(verifyLogitsAndLabels(*this, getLogits(), getLabels())))
    return failure();
  return expectType(*this, getResult(), getLogits().getType(), "result",
                    "the logits'");
}

LogicalResult LinearGradInputOp::verify() {
  // dy: [N, M], W: [M, K] -> dx: [N, K]
  if (failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getWeight(), "weight"},
                                   {getResult(), "result"}},
                                  2)))
    return failure();
  return verifyLinear(*this, shapeOf(getResult()), shapeOf(getWeight()),
                      shapeOf(getGradOutput()));
}

LogicalResult LinearGradWeightOp::verify() {
  // dy: [N, M], x: [N, K] -> dW: [M, K]
  if (failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getInput(), "input"},
                                   {getResult(), "result"}},
                                  2)))
    return failure();
  return verifyLinear(*this, shapeOf(getInput()), shapeOf(getResult()),
                      shapeOf(getGradOutput()));
}

LogicalResult BiasGradOp::verify() {
  if (failed(verifyOperandsOfRank(*this, {{getResult(), "result"}}, 1)) ||
      failed(expectSameElementType(*this, {getGradOutput(), getResult()})) ||
      failed(expectMinRank(*this, getGradOutput(), 2, "grad_output")))
    return failure();
  return expectDim(*this, shapeOf(getResult())[0], shapeOf(getGradOutput())[1],
                   "result size");
}

LogicalResult Conv2dGradInputOp::verify() {
  if (failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getWeight(), "weight"},
                                   {getResult(), "result"}},
                                  4)))
    return failure();
  return verifyConv(*this, getResult(), getWeight(), getGradOutput());
}

LogicalResult Conv2dGradWeightOp::verify() {
  if (failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getInput(), "input"},
                                   {getResult(), "result"}},
                                  4)))
    return failure();
  return verifyConv(*this, getInput(), getResult(), getGradOutput());
}

//===----------------------------------------------------------------------===//
// Optimizer ops
//===----------------------------------------------------------------------===//

LogicalResult SGDOp::verify() {
  if (!(getLr().convertToFloat() > 0.0f))
    return emitOpError() << "expected a positive learning rate, got "
                         << getLr().convertToFloat();
  if (!(getWeightDecay().convertToFloat() >= 0.0f))
    return emitOpError() << "expected weight_decay >= 0, got "
                         << getWeightDecay().convertToFloat();
  return success();
}
