"""The train dialect's generated op classes, found by MLIR under
`tcc._mlir.dialects.train`; the builders and helpers live in `tcc.dialects.train`."""

from ._train_ops_gen import *  # noqa: F401,F403
from ._train_ops_gen import _Dialect  # noqa: F401
