"""Frontends: PyTorch modules, TOSA MLIR and TTE int8 models into the train dialect."""
