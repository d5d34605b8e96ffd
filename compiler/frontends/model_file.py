"""An imported model: a train-dialect module plus its parameter values, written as
MODEL.mlir and a weights file MODEL.npz beside it.

Weights live outside the MLIR text: MB-sized int8 tensors stay binary (hex-encoded
dense resources would double them and make every parse re-decode them), NumPy loads
them lazily, and the .mlir stays small enough to read and diff. The module records the
file in `train.weights` (relative to the .mlir); arrays are keyed by `train.name`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._mlir import ir
from ..errors import InputError

WEIGHTS_ATTR = "train.weights"


@dataclass
class ImportedModel:
    """A module with `@forward` and the arrays of its parameters by `train.name`."""

    module: ir.Module
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def write(self, path: str | Path, *, protect: tuple[Path, ...] = ()) -> tuple[Path, Path]:
        """Writes PATH (.mlir) and PATH.npz; refuses to overwrite any file in `protect`."""
        path = Path(path)
        weights = path.with_suffix(".npz")
        for target in (path, weights):
            if any(target.resolve() == Path(p).resolve() for p in protect):
                raise InputError("refusing to overwrite the input model", str(target))
        self.module.operation.attributes[WEIGHTS_ATTR] = ir.StringAttr.get(
            weights.name, context=self.module.context)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(weights, **self.weights)
        # Locations are kept so later errors still point into the user's model source.
        text = self.module.operation.get_asm(enable_debug_info=True)
        path.write_text(text if text.endswith("\n") else text + "\n")
        return path, weights


def weights_file(module: ir.Module, model_path: str | Path) -> Path | None:
    """The weights file a module names in `train.weights`, resolved beside the model."""
    attrs = module.operation.attributes
    if WEIGHTS_ATTR not in attrs:
        return None
    return Path(model_path).parent / ir.StringAttr(attrs[WEIGHTS_ATTR]).value
