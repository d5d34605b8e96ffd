//===- TrainDialect.h - train dialect declaration ---------------*- C++ -*-===//
#ifndef TCC_DIALECT_TRAIN_TRAINDIALECT_H
#define TCC_DIALECT_TRAIN_TRAINDIALECT_H

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "tcc/Dialect/Train/TrainDialect.h.inc"
#include "tcc/Dialect/Train/TrainEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "tcc/Dialect/Train/TrainAttrs.h.inc"

namespace mlir::train {
/// Whether `type` is a fixed-point gradient type of --train-int16-gradients: a
/// signed per-tensor !quant.uniform with `width`-bit storage over its full
/// range, zero point 0 and a power-of-two scale 2^e.
bool isFixedPointGradient(Type type, unsigned width);
} // namespace mlir::train

#endif // TCC_DIALECT_TRAIN_TRAINDIALECT_H
