"""tcc: a training compiler on MLIR.

Derives whole training steps (forward, loss, backward, optimizer update) at
compile time in the `train` dialect and generates code for Cortex-M, CPUs and
GPUs.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # `tcc.compile` without importing MLIR, numpy or torch at `import tcc`.
    if name == "compile":
        from .compiler.api import compile
        return compile
    if name == "compile_train_step":
        from .compiler.train_step import compile_train_step
        return compile_train_step
    raise AttributeError(f"module 'tcc' has no attribute '{name}'")
