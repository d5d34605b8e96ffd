//===- TrainOps.td - entry point for the Python op bindings -*- tablegen -*-===//
#ifndef TCC_PYTHON_TRAIN_OPS
#define TCC_PYTHON_TRAIN_OPS
include "tcc/Dialect/Train/TrainOps.td"
#endif
