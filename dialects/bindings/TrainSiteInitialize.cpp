//===- TrainSiteInitialize.cpp - register train with tcc's MLIR -----------===//
//
// Built as `_site_initialize_0` in tcc's MLIR package: the package's start-up
// code calls `register_dialects` on the global registry, so every Context made
// through `tcc._mlir` knows the train dialect.
//
//===----------------------------------------------------------------------===//

#include "tcc-c/Train.h"
#include "mlir/Bindings/Python/Nanobind.h"
#include "mlir/Bindings/Python/NanobindAdaptors.h"

NB_MODULE(_site_initialize_0, m) {
  m.doc() = "Registers the train dialect with tcc's MLIR Python package.";
  m.def("register_dialects", [](MlirDialectRegistry registry) {
    mlirDialectHandleInsertDialect(mlirGetDialectHandle__train__(), registry);
  });
}
