//===- TrainCAPI.cpp - C API of the train dialect -------------------------===//
#include "tcc-c/Train.h"

#include "mlir/CAPI/Registration.h"
#include "tcc/Dialect/Train/TrainDialect.h"

MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(Train, train, mlir::train::TrainDialect)
