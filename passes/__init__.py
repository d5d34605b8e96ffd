"""tcc's passes, registered by flag. `tcc-opt` and the driver share this one
registry; a pass module is imported only when its pass runs."""

from __future__ import annotations

import dataclasses
import importlib
import typing

from ..compiler.errors import InputError

# flag -> (module, class). One file per pass, named like its flag.
_REGISTRY = {
    "convert-train-to-linalg": ("tcc.passes.convert_train_to_linalg", "ConvertTrainToLinalg"),
    "train-autodiff": ("tcc.passes.train_autodiff", "TrainAutodiff"),
    "train-fold-batch-norm": ("tcc.passes.fold_batch_norm", "FoldBatchNorm"),
    "train-fuse-bottleneck": ("tcc.passes.train_fuse_bottleneck", "TrainFuseBottleneck"),
    "train-fuse-bottleneck-grad": ("tcc.passes.train_fuse_bottleneck_grad",
                                   "TrainFuseBottleneckGrad"),
    "train-fuse-update": ("tcc.passes.train_fuse_update", "TrainFuseUpdate"),
    "train-int16-gradients": ("tcc.passes.train_int16_gradients", "TrainInt16Gradients"),
    "train-mark-inplace": ("tcc.passes.train_mark_inplace", "TrainMarkInplace"),
    "plan-memory": ("tcc.passes.plan_memory", "PlanMemory"),
    "train-prune": ("tcc.passes.train_prune", "TrainPrune"),
    "train-reorder": ("tcc.passes.train_reorder", "TrainReorder"),
    "train-save-masks": ("tcc.passes.train_save_masks", "TrainSaveMasks"),
    "train-vjp": ("tcc.passes.train_vjp", "TrainVjp"),
    "tosa-to-train": ("tcc.passes.tosa_to_train", "TosaToTrain"),
}


def pass_names() -> list[str]:
    return sorted(_REGISTRY)


def pass_class(name: str) -> type:
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)


def is_registered(name: str) -> bool:
    return name in _REGISTRY


def create_pass(name: str, options: dict[str, str]):
    """Instantiates pass `name` from `key=value` option strings."""
    cls = pass_class(name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, text in options.items():
        attr = key.replace("-", "_")
        if attr not in fields:
            known = ", ".join(sorted(f.replace("_", "-") for f in fields)) or "none"
            raise InputError(f"pass '{name}' has no option '{key}' (options: {known})")
        values[attr] = _convert(name, key, text, hints[attr])
    return cls(**values)


def _convert(pass_name: str, key: str, text: str, kind: type):
    try:
        if kind is bool:
            if text not in ("true", "false", "1", "0"):
                raise ValueError
            return text in ("true", "1")
        return kind(text)
    except ValueError:
        raise InputError(f"option '{key}' of pass '{pass_name}' expects "
                         f"{kind.__name__}, got '{text}'") from None
