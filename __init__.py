"""tcc: a training compiler on MLIR.

Derives whole training steps (forward, loss, backward, optimizer update) at
compile time in the `train` dialect and generates code for Cortex-M, CPUs and
GPUs.
"""

__version__ = "0.1.0"
