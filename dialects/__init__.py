"""MLIR dialects of tcc: the `train` dialect (ODS in include/, Python side here)."""
