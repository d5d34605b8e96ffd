//===- TrainOps.cpp - train dialect op verifiers --------------------------===//
#include "tcc/Dialect/Train/TrainOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::train;

#define GET_OP_CLASSES
#include "tcc/Dialect/Train/TrainOps.cpp.inc"

namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Checks that `v` has rank `rank`; names it `what` in the message.
LogicalResult expectRank(Operation *op, Value v, int64_t rank, StringRef what) {
  int64_t got = tensorType(v).getRank();
  if (got != rank)
    return op->emitOpError() << "expected " << what << " of rank " << rank
                             << ", got rank " << got;
  return success();
}

/// Checks that every value has the element type of the first.
LogicalResult expectSameElementType(Operation *op, ArrayRef<Value> values) {
  Type element = tensorType(values.front()).getElementType();
  for (Value v : values.drop_front())
    if (tensorType(v).getElementType() != element)
      return op->emitOpError() << "expected all float operands and results "
                                  "to have element type "
                               << element << ", got "
                               << tensorType(v).getElementType();
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

/// Output size of one spatial dimension of a convolution, or 0 when the
/// dilated kernel is larger than the padded input.
int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation) {
  int64_t room = in + 2 * padding - dilation * (kernel - 1) - 1;
  return room < 0 ? 0 : room / stride + 1;
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
                       "weight input channels")))
    return failure();
  if (failed(expectDim(op, output[0], input[0], "output batch size")))
    return failure();
  if (failed(expectDim(op, output[1], weight[0], "output channels")))
    return failure();
  for (int i = 0; i < 2; ++i) {
    int64_t expected = convOutputSize(input[2 + i], weight[2 + i], stride[i],
                                      padding[i], dilation[i]);
    if (expected < 1)
      return op->emitOpError() << "kernel does not fit the padded input";
    if (failed(expectDim(op, output[2 + i], expected,
                         i == 0 ? "output height" : "output width")))
      return failure();
  }
  return success();
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

} // namespace

LogicalResult LinearOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getInput(), 2, "input")) ||
      failed(expectRank(*this, getWeight(), 2, "weight")) ||
      failed(expectRank(*this, getResult(), 2, "result")))
    return failure();
  SmallVector<Value> values = {getInput(), getWeight(), getResult()};
  if (getBias()) {
    values.push_back(getBias());
    if (failed(expectRank(*this, getBias(), 1, "bias")) ||
        failed(expectDim(*this, tensorType(getBias()).getDimSize(0),
                         tensorType(getWeight()).getDimSize(0),
                         "bias size")))
      return failure();
  }
  if (failed(expectSameElementType(*this, values)))
    return failure();
  return verifyLinear(*this, tensorType(getInput()).getShape(),
                      tensorType(getWeight()).getShape(),
                      tensorType(getResult()).getShape());
}

LogicalResult Conv2dOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getInput(), 4, "input")) ||
      failed(expectRank(*this, getWeight(), 4, "weight")) ||
      failed(expectRank(*this, getResult(), 4, "result")))
    return failure();
  SmallVector<Value> values = {getInput(), getWeight(), getResult()};
  if (getBias()) {
    values.push_back(getBias());
    if (failed(expectRank(*this, getBias(), 1, "bias")) ||
        failed(expectDim(*this, tensorType(getBias()).getDimSize(0),
                         tensorType(getWeight()).getDimSize(0), "bias size")))
      return failure();
  }
  if (failed(expectSameElementType(*this, values)))
    return failure();
  return verifyConvGeometry(*this, tensorType(getInput()).getShape(),
                            tensorType(getWeight()).getShape(),
                            tensorType(getResult()).getShape(), getStride(),
                            getPadding(), getDilation(), getGroups());
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

/// Shared checks of cross_entropy and its gradient.
static LogicalResult verifyLogitsAndLabels(Operation *op, Value logits,
                                           Value labels) {
  if (failed(expectStaticShapes(op)) ||
      failed(expectRank(op, logits, 2, "logits")) ||
      failed(expectRank(op, labels, 1, "labels")))
    return failure();
  return expectDim(op, tensorType(labels).getDimSize(0),
                   tensorType(logits).getDimSize(0), "label count");
}

LogicalResult CrossEntropyOp::verify() {
  if (failed(verifyLogitsAndLabels(*this, getLogits(), getLabels())))
    return failure();
  return expectSameElementType(*this, {getLogits(), getResult()});
}

LogicalResult CrossEntropyGradOp::verify() {
  if (failed(verifyLogitsAndLabels(*this, getLogits(), getLabels())))
    return failure();
  if (tensorType(getResult()) != tensorType(getLogits()))
    return emitOpError() << "expected result type " << getLogits().getType()
                         << " (the logits' type), got " << getResult().getType();
  return success();
}

LogicalResult LinearGradInputOp::verify() {
  // dy: [N, M], W: [M, K] -> dx: [N, K]
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getGradOutput(), 2, "grad_output")) ||
      failed(expectRank(*this, getWeight(), 2, "weight")) ||
      failed(expectRank(*this, getResult(), 2, "result")) ||
      failed(expectSameElementType(*this,
                                   {getGradOutput(), getWeight(), getResult()})))
    return failure();
  auto dy = tensorType(getGradOutput()).getShape();
  auto w = tensorType(getWeight()).getShape();
  return verifyLinear(*this, tensorType(getResult()).getShape(), w, dy);
}

LogicalResult LinearGradWeightOp::verify() {
  // dy: [N, M], x: [N, K] -> dW: [M, K]
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getGradOutput(), 2, "grad_output")) ||
      failed(expectRank(*this, getInput(), 2, "input")) ||
      failed(expectRank(*this, getResult(), 2, "result")) ||
      failed(expectSameElementType(*this,
                                   {getGradOutput(), getInput(), getResult()})))
    return failure();
  return verifyLinear(*this, tensorType(getInput()).getShape(),
                      tensorType(getResult()).getShape(),
                      tensorType(getGradOutput()).getShape());
}

LogicalResult BiasGradOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getResult(), 1, "result")) ||
      failed(expectSameElementType(*this, {getGradOutput(), getResult()})))
    return failure();
  auto dy = tensorType(getGradOutput());
  if (dy.getRank() < 2)
    return emitOpError() << "expected grad_output of rank >= 2, got rank "
                         << dy.getRank();
  return expectDim(*this, tensorType(getResult()).getDimSize(0),
                   dy.getDimSize(1), "result size");
}

LogicalResult Conv2dGradInputOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getGradOutput(), 4, "grad_output")) ||
      failed(expectRank(*this, getWeight(), 4, "weight")) ||
      failed(expectRank(*this, getResult(), 4, "result")) ||
      failed(expectSameElementType(*this,
                                   {getGradOutput(), getWeight(), getResult()})))
    return failure();
  return verifyConvGeometry(*this, tensorType(getResult()).getShape(),
                            tensorType(getWeight()).getShape(),
                            tensorType(getGradOutput()).getShape(), getStride(),
                            getPadding(), getDilation(), getGroups());
}

LogicalResult Conv2dGradWeightOp::verify() {
  if (failed(expectStaticShapes(*this)) ||
      failed(expectRank(*this, getGradOutput(), 4, "grad_output")) ||
      failed(expectRank(*this, getInput(), 4, "input")) ||
      failed(expectRank(*this, getResult(), 4, "result")) ||
      failed(expectSameElementType(*this,
                                   {getGradOutput(), getInput(), getResult()})))
    return failure();
  return verifyConvGeometry(*this, tensorType(getInput()).getShape(),
                            tensorType(getResult()).getShape(),
                            tensorType(getGradOutput()).getShape(), getStride(),
                            getPadding(), getDilation(), getGroups());
}

LogicalResult SGDOp::verify() {
  if (!(getLr().convertToFloat() > 0.0f))
    return emitOpError() << "expected a positive learning rate, got "
                         << getLr().convertToFloat();
  if (!(getWeightDecay().convertToFloat() >= 0.0f))
    return emitOpError() << "expected weight_decay >= 0, got "
                         << getWeightDecay().convertToFloat();
  return success();
}
