//===- TrainOps.h - train dialect operations --------------------*- C++ -*-===//
#ifndef TCC_DIALECT_TRAIN_TRAINOPS_H
#define TCC_DIALECT_TRAIN_TRAINOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "tcc/Dialect/Train/TrainDialect.h"

#define GET_OP_CLASSES
#include "tcc/Dialect/Train/TrainOps.h.inc"

#endif // TCC_DIALECT_TRAIN_TRAINOPS_H
