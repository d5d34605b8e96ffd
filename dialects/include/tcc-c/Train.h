//===- TrainCAPI.h - C API of the train dialect -------------------*- C -*-===//
#ifndef TCC_C_TRAIN_H
#define TCC_C_TRAIN_H

#include "mlir-c/IR.h"

#ifdef __cplusplus
extern "C" {
#endif

MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(Train, train);

#ifdef __cplusplus
}
#endif

#endif // TCC_C_TRAIN_H
