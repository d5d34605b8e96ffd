"""`tcc.compile_train_step`: a PyTorch module's whole training step as one program.

    step = tcc.compile_train_step(model, nn.CrossEntropyLoss(),
                                  {"type": "sgd", "lr": 0.05, "momentum": 0.9},
                                  example_inputs=(x,))
    loss = step(x, y)        # forward, loss, backward and SGD update in one call

The module is imported with the PyTorch importer (batch norms kept as ops, so every
parameter stays the module's own), --train-autodiff derives forward + loss + backward
+ optimizer update through `tcc.compile`, and the module's parameters and buffers are
re-pointed at the compiled model's parameter arrays: each step updates them in place,
so `model(x)` sees the trained values. Parameters with `requires_grad=False` are frozen
in the program (no gradient work). The program trains with eval-mode semantics: batch
norms use their running statistics, dropout is off.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import InputError, UnsupportedError

_OPTIMIZER_KEYS = {"type", "lr", "momentum", "weight_decay", "dampening", "nesterov"}


def loss_name(loss_fn) -> str:
    """tcc's loss ("cross-entropy" or "mse") for a PyTorch loss module or function."""
    if isinstance(loss_fn, str) and loss_fn in ("cross-entropy", "mse"):
        return loss_fn
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        if loss_fn.weight is not None or loss_fn.label_smoothing != 0 \
                or loss_fn.reduction != "mean":
            raise UnsupportedError("nn.CrossEntropyLoss with class weights, label smoothing "
                                   "or a reduction other than 'mean'")
        return "cross-entropy"
    if isinstance(loss_fn, nn.MSELoss):
        if loss_fn.reduction != "mean":
            raise UnsupportedError("nn.MSELoss with a reduction other than 'mean'")
        return "mse"
    if loss_fn is F.cross_entropy:
        return "cross-entropy"
    if loss_fn is F.mse_loss:
        return "mse"
    raise UnsupportedError(f"loss {loss_fn!r}: expected nn.CrossEntropyLoss, "
                           "F.cross_entropy, nn.MSELoss or F.mse_loss")


def optimizer_options(config: Mapping[str, Any]) -> dict:
    """`tcc.compile`'s optimizer keywords for {"type": "sgd", "lr", "momentum",
    "weight_decay"} (torch.optim.SGD's meaning)."""
    unknown = sorted(set(config) - _OPTIMIZER_KEYS)
    if unknown:
        raise InputError(f"unknown optimizer_config key(s) {', '.join(unknown)} (known: "
                         f"{', '.join(sorted(_OPTIMIZER_KEYS))})")
    kind = str(config.get("type", "sgd")).lower()
    if kind != "sgd":
        raise UnsupportedError(f"optimizer '{kind}': tcc has SGD (with momentum)")
    if "lr" not in config:
        raise InputError("optimizer_config needs a learning rate 'lr'")
    if config.get("dampening", 0) != 0 or config.get("nesterov", False):
        raise UnsupportedError("SGD with dampening or Nesterov momentum")
    momentum = float(config.get("momentum", 0.0))
    options = {"lr": float(config["lr"]), "weight_decay": float(config.get("weight_decay", 0.0))}
    if momentum < 0:
        raise InputError(f"momentum must be a non-negative number, got {momentum}")
    if momentum > 0:
        options.update(optimizer="momentum", momentum=momentum)
    else:
        options["optimizer"] = "sgd"
    return options


def compile_train_step(model: nn.Module, loss_fn, optimizer_config: Mapping[str, Any], *,
                       example_inputs, target: str = "cpu", scheme=None,
                       cache: bool = True) -> "TrainStep":
    """One compiled training step of `model` for inputs shaped like `example_inputs`:
    `step(x, y) -> loss` (see the module docstring); `scheme` as in `tcc.compile`."""
    from .api import compile as tcc_compile
    from .frontends.pytorch import import_module
    if not isinstance(model, nn.Module):
        raise InputError(f"compile_train_step needs a torch.nn.Module, got "
                         f"{type(model).__name__}")
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    loss = loss_name(loss_fn)
    options = optimizer_options(optimizer_config)
    if model.training and any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout))
                              for m in model.modules()):
        warnings.warn("tcc.compile_train_step trains with eval-mode batch norm and dropout "
                      "(running statistics, no dropout)", stacklevel=2)
    imported = import_module(model, tuple(example_inputs), fold_batch_norm=False)
    compiled = tcc_compile(imported.module, target, weights=imported.weights, loss=loss,
                           scheme=scheme, cache=cache, **options)
    return TrainStep(model, compiled)


class TrainStep:
    """`step(*inputs, labels) -> loss`: one compiled training step that updates the
    module's parameters in place (they share memory with the compiled arrays)."""

    def __init__(self, model: nn.Module, compiled):
        self.model = model
        self.compiled = compiled
        tensors = dict(model.named_parameters())
        tensors.update(model.named_buffers())
        self._tensors = {}
        for name in compiled.parameters:
            tensor = tensors.get(name)
            if tensor is None:
                raise InputError(f"the compiled model's parameter '{name}' is not a "
                                 "parameter or buffer of the module")
            if tensor.dtype != torch.float32 or tensor.device.type != "cpu":
                raise UnsupportedError(f"parameter '{name}' is a {tensor.dtype} tensor on "
                                       f"{tensor.device}; compile_train_step trains float32 "
                                       "CPU modules")
            self._tensors[name] = tensor
        self._link()

    def _link(self) -> None:
        """Points every module tensor at its compiled array (values from the module)."""
        for name, tensor in self._tensors.items():
            array = self.compiled.parameters[name]
            if tensor.data.data_ptr() != array.ctypes.data:
                np.copyto(array, tensor.detach().numpy())
                tensor.data = torch.from_numpy(array)

    def __call__(self, *inputs_and_labels) -> torch.Tensor:
        # A tensor rebound since the last step (`p.data = ...`, load_state_dict keeps
        # the storage) is copied in and linked again: the two never diverge.
        self._link()
        return torch.tensor(self.compiled.train_step(*inputs_and_labels))

    @property
    def momentum(self) -> dict[str, np.ndarray]:
        """The optimizer's momentum buffers by parameter name."""
        return self.compiled.momentum

    def __repr__(self) -> str:
        return f"TrainStep({type(self.model).__name__}, {self.compiled!r})"
