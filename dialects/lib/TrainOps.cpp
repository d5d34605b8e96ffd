//===- TrainOps.cpp - train dialect op verifiers --------------------------===//
#include "tcc/Dialect/Train/TrainOps.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

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

/// `[s0, s1, ...]`: f64 scales printed so that they parse back bit for bit (the
/// default DenseF64ArrayAttr syntax keeps only 7 significant digits).
static ParseResult parseExactF64Array(OpAsmParser &parser,
                                      DenseF64ArrayAttr &array) {
  SmallVector<double> values;
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Square, [&] {
        return parser.parseFloat(values.emplace_back());
      }))
    return failure();
  array = DenseF64ArrayAttr::get(parser.getContext(), values);
  return success();
}

static void printExactF64Array(OpAsmPrinter &printer, Operation *,
                               DenseF64ArrayAttr array) {
  printer << '[';
  llvm::interleaveComma(array.asArrayRef(), printer, [&](double value) {
    printer.printFloat(llvm::APFloat(value));
  });
  printer << ']';
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

/// Whether `v` is an int16 fixed-point gradient (--train-int16-gradients).
bool isFixedGradient(Value v) {
  return isFixedPointGradient(tensorType(v).getElementType(), 16);
}

/// The element types of gradients: one float type, or int16 fixed point for
/// all of them (each with its own power-of-two scale).
LogicalResult expectGradientTypes(Operation *op, ArrayRef<Value> values) {
  if (!isFixedGradient(values.front()))
    return expectSameElementType(op, values);
  for (Value v : values.drop_front())
    if (!isFixedGradient(v))
      return op->emitOpError()
             << "expected int16 fixed-point gradient types, got "
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

/// Verifies a 2-D pooling window from `input` to `output` (named as given):
/// rank-4 static tensors of one element type, and a window that fits the
/// padded input. The pooling gradients pass their result as `input` and dy as
/// `output`.
LogicalResult verifyPoolWindow(Operation *op, Named input, Named output,
                               ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> stride,
                               ArrayRef<int64_t> padding,
                               bool sameElementType = true) {
  if (failed(verifyOperandsOfRank(op, {input, output}, 4, sameElementType)))
    return failure();
  if (kernel.size() != 2 || stride.size() != 2 || padding.size() != 2)
    return op->emitOpError()
           << "expected kernel, stride and padding of 2 values each";
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || stride[i] < 1)
      return op->emitOpError() << "expected kernel and stride >= 1";
    if (padding[i] < 0)
      return op->emitOpError() << "expected padding >= 0";
    // Every window then holds at least one input element.
    if (padding[i] >= kernel[i])
      return op->emitOpError()
             << "expected padding smaller than the kernel, got padding "
             << padding[i] << " for kernel " << kernel[i];
  }
  ArrayRef<int64_t> in = shapeOf(input.value), out = shapeOf(output.value);
  if (failed(verifyBatchAndChannels(op, out, in[0], in[1])))
    return failure();
  int64_t dilation[] = {1, 1};
  return verifySpatialOutput(op, in, kernel, out, stride, padding, dilation);
}

/// Verifies a 2-D pooling op from its input to its result.
template <typename PoolOp>
LogicalResult verifyPool(PoolOp op) {
  return verifyPoolWindow(op, {op.getInput(), "input"},
                          {op.getResult(), "result"}, op.getKernel(),
                          op.getStride(), op.getPadding());
}

/// Verifies the input gradient of a pooling op: the window goes from the
/// result (dx, the forward input's shape) to `grad_output` (dy).
template <typename PoolGradOp>
LogicalResult verifyPoolGrad(PoolGradOp op) {
  if (failed(expectGradientTypes(op, {op.getGradOutput(), op.getResult()})))
    return failure();
  return verifyPoolWindow(op, {op.getResult(), "result"},
                          {op.getGradOutput(), "grad_output"}, op.getKernel(),
                          op.getStride(), op.getPadding(),
                          /*sameElementType=*/false);
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

/// Index of the first dimension of `small` that does not broadcast to
/// `large` (aligned right; each dimension 1 or equal), or -1 when all do.
/// Requires rank(small) <= rank(large).
int64_t firstUnbroadcastableDim(ArrayRef<int64_t> small,
                                ArrayRef<int64_t> large) {
  size_t offset = large.size() - small.size();
  for (size_t i = 0; i < small.size(); ++i)
    if (small[i] != 1 && small[i] != large[offset + i])
      return i;
  return -1;
}

std::string formatList(ArrayRef<int64_t> values) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "[";
  llvm::interleaveComma(values, os);
  os << "]";
  return text;
}

/// Checks that the window `[offsets, offsets + inner)` lies within `outer`
/// dimension by dimension (`inner` and `outer` of the same rank). `what`
/// names the window, `whose` the tensor of shape `outer`.
LogicalResult verifyWindow(Operation *op, ArrayRef<int64_t> offsets,
                           ArrayRef<int64_t> inner, ArrayRef<int64_t> outer,
                           StringRef what, StringRef whose) {
  if (offsets.size() != outer.size())
    return op->emitOpError() << "expected " << outer.size()
                             << " offsets (the rank), got " << offsets.size();
  for (size_t d = 0; d < outer.size(); ++d) {
    if (offsets[d] < 0)
      return op->emitOpError() << "expected offsets >= 0, got " << offsets[d]
                               << " in dimension " << d;
    if (offsets[d] + inner[d] > outer[d])
      return op->emitOpError()
             << what << " [" << offsets[d] << ", " << offsets[d] + inner[d]
             << ") of dimension " << d << " exceeds the " << whose
             << " size " << outer[d];
  }
  return success();
}

LogicalResult verifyClampBounds(Operation *op, APFloat minAttr,
                                APFloat maxAttr) {
  float min = minAttr.convertToFloat(), max = maxAttr.convertToFloat();
  if (!(min <= max))
    return op->emitOpError() << "expected min <= max, got min " << min
                             << " and max " << max;
  return success();
}

/// Checks that `weight` holds the trailing dimensions of `input` (the
/// normalized shape of a layer normalization).
LogicalResult verifyNormalizedShape(Operation *op, Value input, Value weight) {
  ArrayRef<int64_t> in = shapeOf(input), w = shapeOf(weight);
  if (w.empty() || w.size() > in.size())
    return op->emitOpError() << "expected weight of rank 1 to " << in.size()
                             << " (the input's rank), got rank " << w.size();
  size_t offset = in.size() - w.size();
  for (size_t i = 0; i < w.size(); ++i)
    if (failed(expectDim(op, w[i], in[offset + i],
                         "weight dimension " + Twine(i))))
      return failure();
  return success();
}

/// Optimizer hyperparameters: lr > 0 and finite, weight_decay >= 0.
LogicalResult verifyLearningRate(Operation *op, APFloat lrAttr,
                                 APFloat weightDecayAttr) {
  float lr = lrAttr.convertToFloat();
  if (!(lr > 0.0f))
    return op->emitOpError() << "expected a positive learning rate, got "
                             << lr;
  if (std::isinf(lr))
    return op->emitOpError() << "expected a finite learning rate, got " << lr;
  float weightDecay = weightDecayAttr.convertToFloat();
  if (!(weightDecay >= 0.0f))
    return op->emitOpError() << "expected weight_decay >= 0, got "
                             << weightDecay;
  if (std::isinf(weightDecay))
    return op->emitOpError() << "expected a finite weight_decay, got "
                             << weightDecay;
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
  int64_t bad = firstUnbroadcastableDim(in, out);
  if (bad >= 0)
    return emitOpError() << "cannot broadcast input dimension " << bad
                         << " of size " << in[bad] << " to size "
                         << out[out.size() - in.size() + bad];
  return success();
}

LogicalResult ClampOp::verify() {
  return verifyClampBounds(*this, getMin(), getMax());
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
  if (failed(verifyNormalizedShape(*this, getInput(), getWeight())))
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

/// Checks one conv weight of a fused bottleneck: OIHW [out, in, kh, kw] with
/// `in` input channels (1 for the depthwise), a per-channel quantized type and
/// a bias of one value per output channel.
static LogicalResult verifyBottleneckStage(Operation *op, Value weight,
                                           Value bias, int64_t in,
                                           bool pointwise, StringRef stage) {
  if (failed(expectRank(op, weight, 4, (stage + " weight").str())) ||
      failed(expectRank(op, bias, 1, (stage + " bias").str())) ||
      failed(verifyQuantWeight(op, weight)))
    return failure();
  ArrayRef<int64_t> w = shapeOf(weight);
  if (failed(expectDim(op, w[1], in, stage + " weight input channels")) ||
      failed(expectDim(op, shapeOf(bias)[0], w[0], stage + " bias size")))
    return failure();
  if (pointwise && (w[2] != 1 || w[3] != 1))
    return op->emitOpError() << "expected a 1x1 " << stage << " weight, got "
                             << w[2] << "x" << w[3];
  return success();
}

LogicalResult QBottleneckOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getInput(), 4, "input")) ||
      failed(expectRank(*this, getResult(), 4, "result")))
    return failure();
  bool weight = bool(getExpandWeight()), bias = bool(getExpandBias()),
       type = bool(getExpandTypeAttr());
  if (weight != bias || weight != type)
    return emitOpError() << "expected the expand weight, bias and type together";
  int64_t channels = shapeOf(getInput())[1];
  // The depthwise input: the expanded tensor, else the input.
  SmallVector<int64_t> expanded(shapeOf(getInput()));
  ArrayRef<int64_t> expandStride = getExpandStride(),
                    expandPadding = getExpandPadding();
  if (expandStride.size() != 2 || expandPadding.size() != 2)
    return emitOpError()
           << "expected expand_stride and expand_padding of 2 values each";
  if (weight) {
    if (failed(verifyBottleneckStage(*this, getExpandWeight(), getExpandBias(),
                                     channels, false, "expand")))
      return failure();
    ArrayRef<int64_t> w = shapeOf(getExpandWeight());
    channels = w[0];
    expanded[1] = channels;
    for (int i = 0; i < 2; ++i) {
      if (expandStride[i] < 1 || expandPadding[i] < 0)
        return emitOpError()
               << "expected expand_stride >= 1 and expand_padding >= 0";
      int64_t span = expanded[2 + i] + 2 * expandPadding[i] - w[2 + i];
      if (span < 0)
        return emitOpError() << "the " << w[2] << "x" << w[3]
                             << " expand kernel does not fit the padded input";
      expanded[2 + i] = span / expandStride[i] + 1;
    }
  } else if (expandStride != ArrayRef<int64_t>{1, 1} ||
             expandPadding != ArrayRef<int64_t>{0, 0}) {
    return emitOpError() << "expected no expand_stride or expand_padding "
                            "without an expansion";
  }
  if (failed(verifyBottleneckStage(*this, getDepthwiseWeight(),
                                   getDepthwiseBias(), 1, false, "depthwise")) ||
      failed(expectDim(*this, shapeOf(getDepthwiseWeight())[0], channels,
                       "depthwise channels")))
    return failure();
  if (failed(verifyBottleneckStage(*this, getProjectWeight(), getProjectBias(),
                                   channels, true, "project")))
    return failure();
  ArrayRef<int64_t> stride = getStride(), padding = getPadding();
  if (stride.size() != 2 || padding.size() != 2)
    return emitOpError() << "expected stride and padding of 2 values each";
  for (int i = 0; i < 2; ++i) {
    if (stride[i] < 1)
      return emitOpError() << "expected stride >= 1";
    if (padding[i] < 0)
      return emitOpError() << "expected padding >= 0";
  }
  ArrayRef<int64_t> out = shapeOf(getResult());
  if (failed(verifyBatchAndChannels(*this, out, expanded[0],
                                    shapeOf(getProjectWeight())[0])))
    return failure();
  int64_t dilation[] = {1, 1};
  return verifySpatialOutput(*this, expanded,
                             shapeOf(getDepthwiseWeight()).drop_front(2), out,
                             stride, padding, dilation);
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
  if (!isa<quant::QuantizedType>(tensorType(getLogits()).getElementType())) {
    if (getShift())
      return emitOpError() << "expected no 'shift' result with float logits";
    return expectType(*this, getResult(), getLogits().getType(), "result",
                      "the logits'");
  }
  // int8 logits: the gradient p - onehot in [-1, 1] as int16 fixed point Q0.15.
  auto element =
      dyn_cast<quant::UniformQuantizedType>(tensorType(getResult()).getElementType());
  if (!isFixedGradient(getResult()) || element.getScale() != std::ldexp(1.0, -15))
    return emitOpError() << "expected an int16 fixed-point result of scale 2^-15 "
                            "for quantized logits, got "
                         << tensorType(getResult()).getElementType();
  if (shapeOf(getResult()) != shapeOf(getLogits()))
    return emitOpError() << "expected the logits' shape "
                         << formatList(shapeOf(getLogits())) << ", got "
                         << formatList(shapeOf(getResult()));
  return success();
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
      failed(expectMinRank(*this, getGradOutput(), 2, "grad_output")))
    return failure();
  if (isFixedGradient(getGradOutput())) {
    // An exact int32 sum of int16 values: the same scale 2^e.
    auto dy = cast<quant::UniformQuantizedType>(
        tensorType(getGradOutput()).getElementType());
    auto sum = dyn_cast<quant::UniformQuantizedType>(
        tensorType(getResult()).getElementType());
    if (!isFixedPointGradient(sum, 32) || sum.getScale() != dy.getScale())
      return emitOpError() << "expected an int32 fixed-point result of scale "
                           << dy.getScale() << " (grad_output's), got "
                           << tensorType(getResult()).getElementType();
  } else if (failed(expectSameElementType(*this,
                                          {getGradOutput(), getResult()}))) {
    return failure();
  }
  return expectDim(*this, shapeOf(getResult())[0], shapeOf(getGradOutput())[1],
                   "result size");
}

LogicalResult Conv2dGradInputOp::verify() {
  bool fixed = isFixedGradient(getGradOutput());
  if (failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getWeight(), "weight"},
                                   {getResult(), "result"}},
                                  4, /*sameElementType=*/!fixed)))
    return failure();
  if (fixed) {
    // int16 fixed-point dy and dx, the int8 weight itself.
    if (failed(expectGradientTypes(*this, {getGradOutput(), getResult()})))
      return failure();
    if (!isa<quant::QuantizedType>(tensorType(getWeight()).getElementType()))
      return emitOpError() << "expected an int8 quantized weight with int16 "
                              "fixed-point gradients, got "
                           << tensorType(getWeight()).getElementType();
    if (isa<quant::UniformQuantizedPerAxisType>(
            tensorType(getWeight()).getElementType()) &&
        failed(verifyQuantWeight(*this, getWeight())))
      return failure();
  }
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
// Gradient ops of the forward ops (sum_to ... mse_grad)
//===----------------------------------------------------------------------===//

LogicalResult SumToOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  if (out.size() > in.size())
    return emitOpError() << "cannot sum rank " << in.size() << " to rank "
                         << out.size();
  int64_t bad = firstUnbroadcastableDim(out, in);
  if (bad >= 0)
    return emitOpError() << "cannot sum input dimension "
                         << in.size() - out.size() + bad << " of size "
                         << in[in.size() - out.size() + bad] << " to size "
                         << out[bad] << " (expected 1 or "
                         << in[in.size() - out.size() + bad] << ")";
  return success();
}

LogicalResult SliceOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput()), sizes = getSizes();
  if (failed(expectRank(*this, getResult(), in.size(), "result")))
    return failure();
  if (sizes.size() != in.size())
    return emitOpError() << "expected " << in.size()
                         << " sizes (the rank), got " << sizes.size();
  if (sizes != shapeOf(getResult()))
    return emitOpError() << "sizes " << formatList(sizes)
                         << " do not match the result shape "
                         << formatList(shapeOf(getResult()));
  return verifyWindow(*this, getOffsets(), sizes, in, "slice", "input");
}

LogicalResult PadToOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(getInput());
  if (failed(expectRank(*this, getResult(), in.size(), "result")))
    return failure();
  return verifyWindow(*this, getOffsets(), in, shapeOf(getResult()),
                      "input placed at", "result");
}

LogicalResult AvgPool2dGradOp::verify() { return verifyPoolGrad(*this); }

LogicalResult MaxPool2dGradOp::verify() {
  if (failed(expectType(*this, getInput(), getResult().getType(), "input",
                        "the result's")))
    return failure();
  return verifyPoolGrad(*this);
}

LogicalResult ClampGradOp::verify() {
  return verifyClampBounds(*this, getMin(), getMax());
}

/// Checks that `mask` has one bit per element of `tensor`: ceil(numel / 8) bytes.
/// The bytes of a one-bit-per-element mask of `elements` values.
static LogicalResult expectMaskOf(Operation *op, Value mask, int64_t elements,
                                  StringRef what) {
  int64_t bytes = tensorType(mask).getDimSize(0);
  if (bytes != (elements + 7) / 8)
    return op->emitOpError() << "expected " << what << " of " << (elements + 7) / 8
                             << " bytes (one bit per element of " << elements
                             << "), got " << bytes;
  return success();
}

static LogicalResult verifyMaskBytes(Operation *op, Value tensor, Value mask) {
  return expectMaskOf(op, mask, tensorType(tensor).getNumElements(), "a mask");
}

LogicalResult ClampMaskOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(verifyClampBounds(*this, getMin(), getMax())))
    return failure();
  return verifyMaskBytes(*this, getInput(), getResult());
}

LogicalResult MaskGradOp::verify() {
  if (failed(expectStaticShapes(*this)))
    return failure();
  return verifyMaskBytes(*this, getGradOutput(), getMask());
}

LogicalResult SoftmaxGradOp::verify() {
  return expectAxis(*this, getAxis(), tensorType(getOutput()).getRank());
}

LogicalResult LayerNormGradInputOp::verify() {
  if (failed(expectStaticShapes(*this)) || failed(expectOneElementType(*this)))
    return failure();
  if (failed(expectType(*this, getGradOutput(), getInput().getType(),
                        "grad_output", "the input's")) ||
      failed(expectType(*this, getResult(), getInput().getType(), "result",
                        "the input's")) ||
      failed(verifyNormalizedShape(*this, getInput(), getWeight())))
    return failure();
  return expectNonNegativeEpsilon(*this, getEpsilon());
}

LogicalResult MSEGradOp::verify() {
  if (failed(expectType(*this, getTarget(), getPred().getType(), "target",
                        "the prediction's")))
    return failure();
  return expectType(*this, getResult(), getPred().getType(), "result",
                    "the prediction's");
}

//===----------------------------------------------------------------------===//
// Optimizer ops
//===----------------------------------------------------------------------===//

LogicalResult SGDOp::verify() {
  return verifyLearningRate(*this, getLr(), getWeightDecay());
}

LogicalResult SGDMomentumOp::verify() {
  if (failed(verifyLearningRate(*this, getLr(), getWeightDecay())))
    return failure();
  float momentum = getMomentum().convertToFloat();
  if (!(momentum >= 0.0f && momentum < 1.0f))
    return emitOpError() << "expected momentum in [0, 1), got " << momentum;
  return success();
}

LogicalResult Conv2dQSGDOp::verify() {
  if (failed(expectType(*this, getResult(), getParam().getType(), "result",
                        "the parameter's")) ||
      failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getParam(), 4, "param")) ||
      failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getInput(), "input"}},
                                  4, !isFixedGradient(getGradOutput()) &&
                                         !isa<quant::QuantizedType>(
                                             tensorType(getInput()).getElementType()))) ||
      failed(verifyLearningRate(*this, getLr(), getWeightDecay())))
    return failure();
  if (getShift() && !isFixedGradient(getGradOutput()))
    return emitOpError() << "expected an int16 fixed-point grad_output with a 'shift'";
  // int16 fixed-point dy: x is the int8 activation itself; an f32 dy may read it
  // too (dequantized as it is read, as quant.dcast rounds it).
  Type xElement = tensorType(getInput()).getElementType();
  if (isFixedGradient(getGradOutput()) && !isa<quant::UniformQuantizedType>(xElement))
    return emitOpError() << "expected a per-tensor int8 input with an int16 "
                            "fixed-point grad_output, got "
                         << xElement;
  ArrayRef<int64_t> weight = shapeOf(getParam());
  ArrayRef<int64_t> dy = shapeOf(getGradOutput()), x = shapeOf(getInput());
  int64_t groups = getGroups();
  if (groups < 1)
    return emitOpError() << "expected groups >= 1, got " << groups;
  // The gradient covers the first channels of the weight along axes 0 and 1.
  SmallVector<int64_t> gradient = {dy[1], x[1] / groups, weight[2], weight[3]};
  if (failed(verifyConvGeometry(*this, x, gradient, dy, getStride(),
                                getPadding(), getDilation(), groups)))
    return failure();
  for (int i = 0; i < 2; ++i)
    if (gradient[i] > weight[i])
      return emitOpError() << "the gradient " << formatList(gradient)
                           << " is larger than the weight "
                           << formatList(weight);
  if (ArrayRef<int64_t>(gradient) != weight &&
      !getWeightDecay().isZero())
    return emitOpError() << "expected no weight decay on a partial gradient "
                         << formatList(gradient) << " of the weight "
                         << formatList(weight)
                         << " (its other channels keep their values)";
  if (isa<quant::UniformQuantizedPerAxisType>(
          tensorType(getParam()).getElementType()))
    return verifyQuantWeight(*this, getParam());
  return success();
}

LogicalResult BottleneckGradOp::verify() {
  if (failed(verifyOperandsOfRank(*this,
                                  {{getGradOutput(), "grad_output"},
                                   {getProjectWeight(), "project weight"},
                                   {getDepthwiseWeight(), "depthwise weight"},
                                   {getExpandWeight(), "expand weight"},
                                   {getGradInput(), "grad_input"}},
                                  4)))
    return failure();
  ArrayRef<int64_t> dy = shapeOf(getGradOutput()), project = shapeOf(getProjectWeight());
  ArrayRef<int64_t> depthwise = shapeOf(getDepthwiseWeight());
  ArrayRef<int64_t> expand = shapeOf(getExpandWeight()), dx = shapeOf(getGradInput());
  int64_t e = expand[0];
  for (auto [name, w] : {std::pair<StringRef, ArrayRef<int64_t>>{"project", project},
                         {"expand", expand}})
    if (w[2] != 1 || w[3] != 1)
      return emitOpError() << "expected a 1x1 " << name << " weight, got " << w[2]
                           << "x" << w[3];
  // The expanded tensor e1 = [N, E, H, W] (dx's batch and size), the depthwise
  // output e2 = [N, E, HO, WO] (dy's).
  SmallVector<int64_t> e1 = {dx[0], e, dx[2], dx[3]}, e2 = {dy[0], e, dy[2], dy[3]};
  if (failed(verifyConvGeometry(*this, dx, expand, e1, {1, 1}, {0, 0}, {1, 1}, 1)) ||
      failed(verifyConvGeometry(*this, e1, depthwise, e2, getStride(), getPadding(),
                                {1, 1}, e)) ||
      failed(verifyConvGeometry(*this, e2, project, dy, {1, 1}, {0, 0}, {1, 1}, 1)))
    return failure();
  int64_t n = dx[0];
  if (failed(expectMaskOf(*this, getDepthwiseMask(), n * e * dy[2] * dy[3],
                          "a depthwise mask")) ||
      failed(expectMaskOf(*this, getExpandMask(), n * e * dx[2] * dx[3],
                          "an expand mask")))
    return failure();
  for (Value bias : {getDepthwiseBiasGrad(), getExpandBiasGrad()})
    if (tensorType(bias).getShape() != ArrayRef<int64_t>{e})
      return emitOpError() << "expected bias gradients of type tensor<" << e
                           << "xf32>, got " << bias.getType();
  Value param = getParam();
  if (!param) {
    if (getUpdated() || getLr())
      return emitOpError() << "expected no updated weight and no 'lr' without "
                              "'update'";
    return success();
  }
  if (!getUpdated() || !getLr())
    return emitOpError() << "expected an updated weight and 'lr' with 'update'";
  if (failed(expectType(*this, getUpdated(), param.getType(), "updated weight",
                        "the parameter's")) ||
      failed(verifyLearningRate(*this, *getLr(), getWeightDecay())))
    return failure();
  if (failed(expectRank(*this, getInput(), 4, "input")))
    return failure();
  if (shapeOf(param) != expand)
    return emitOpError() << "expected the parameter of the expand weight's shape "
                         << formatList(expand) << ", got " << param.getType();
  // The update covers the first channels of x: a partial-channel scheme.
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (x[0] != n || x[1] > expand[1] || x[2] != dx[2] || x[3] != dx[3])
    return emitOpError() << "expected an input of shape [" << n << ", <= " << expand[1]
                         << ", " << dx[2] << ", " << dx[3] << "], got "
                         << getInput().getType();
  if (x[1] != expand[1] && !getWeightDecay().isZero())
    return emitOpError() << "expected no weight decay on a partial update (the "
                            "other channels keep their values)";
  if (isa<quant::UniformQuantizedPerAxisType>(tensorType(param).getElementType()))
    return verifyQuantWeight(*this, param);
  return success();
}

LogicalResult QSGDOp::verify() {
  if (failed(expectType(*this, getResult(), getParam().getType(), "result",
                        "the parameter's")) ||
      failed(expectStaticShapes(*this)))
    return failure();
  if (shapeOf(getGrad()) != shapeOf(getParam()))
    return emitOpError() << "expected a gradient of the parameter's shape "
                         << formatList(shapeOf(getParam())) << ", got "
                         << getGrad().getType();
  if (failed(verifyLearningRate(*this, getLr(), getWeightDecay())))
    return failure();
  if (getShift() &&
      !isFixedPointGradient(tensorType(getGrad()).getElementType(), 32))
    return emitOpError() << "expected an int32 fixed-point gradient with a 'shift'";
  Type element = tensorType(getParam()).getElementType();
  std::optional<ArrayRef<double>> scales = getScales();
  if (!element.isInteger(32)) {
    // An int8 weight: its scales come from its quantized type.
    if (scales)
      return emitOpError() << "expected no 'scales' for a quantized weight "
                              "(its type holds them); 'scales' are for int32 "
                              "biases";
    if (isa<quant::UniformQuantizedPerAxisType>(element))
      return verifyQuantWeight(*this, getParam());
    return success();
  }
  // An int32 bias: one bias scale s_x · s_w[c] per element.
  if (!scales)
    return emitOpError() << "expected 'scales' (the bias scale of each "
                            "element) for an int32 bias";
  if (failed(expectDim(*this, scales->size(),
                       tensorType(getParam()).getNumElements(),
                       "scale count")))
    return failure();
  for (auto [index, scale] : llvm::enumerate(*scales))
    if (!(scale > 0.0) || std::isinf(scale))
      return emitOpError() << "expected positive finite scales, got scales["
                           << index << "] = " << scale;
  return success();
}
