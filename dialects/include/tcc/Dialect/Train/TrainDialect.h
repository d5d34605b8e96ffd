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

#endif // TCC_DIALECT_TRAIN_TRAINDIALECT_H
