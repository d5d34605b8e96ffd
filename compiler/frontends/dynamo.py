"""The torch.compile backend: `torch.compile(model, backend="tcc")`.

Dynamo hands over an FX graph of one region of the model, parameters lifted to inputs.
The PyTorch importer turns it into `@forward` (compiler/frontends/pytorch.py:
import_graph, the same converters as `tcc import-torch`). When grad mode is on and some
input requires a gradient, --train-vjp's builder (passes/train_vjp.py) derives
`@forward_primal` (the results plus the activations the backward needs) and
`@forward_vjp` with tcc's own gradient rules — not AOTAutograd's — for exactly the
inputs that require a gradient: a frozen parameter gets no gradient work at all. A
`torch.autograd.Function` runs the two, so `loss.backward()` fills `.grad` (and
DistributedDataParallel's hooks see the gradients as usual). Dynamo guards on grad mode
and on each input's `requires_grad`, so a change recompiles.

CPU tensors run through the cpu target (compiler/api.py: compile_functions, LLVM,
cached), CUDA tensors through the gpu target (compiler/targets/gpu.py). A graph tcc
cannot compile (an unsupported op, dtype or dynamic shape) runs eagerly, with one
warning naming the reason and the user's source line.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import fx

from ..errors import TccError, UnsupportedError

_WARNED: set[str] = set()


class TccFallbackWarning(UserWarning):
    """A graph that tcc did not compile runs eagerly."""


def tcc_backend(gm: fx.GraphModule, example_inputs: Sequence[Any]) -> Callable:
    """torch.compile backend: a callable running `gm` through tcc, or `gm.forward`
    (eager) with a warning when tcc cannot compile it."""
    try:
        return compile_graph(gm, example_inputs)
    except TccError as error:
        _warn_fallback(error)
        return gm.forward


def _warn_fallback(error: TccError) -> None:
    message = f"tcc: {error}; running this graph eagerly"
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, TccFallbackWarning, stacklevel=3)


# --------------------------------------------------------------------------
# Compiling one graph
# --------------------------------------------------------------------------

def compile_graph(gm: fx.GraphModule, example_inputs: Sequence[Any]) -> "CompiledGraph":
    """`gm` imported, differentiated for the inputs that require a gradient (when grad
    mode is on) and compiled for the inputs' device."""
    from ...passes.train_vjp import build_vjp, differentiable_results, find_forward
    from .pytorch import import_graph
    names = [_input_name(node) for node in gm.graph.nodes if node.op == "placeholder"]
    device = _check_inputs(example_inputs, names)
    imported = import_graph(gm, example_inputs, input_names=names)
    module = imported.module
    forward = find_forward(module, "forward")
    count = len(example_inputs)
    constants = [_constant(imported.weights, forward, i)
                 for i in range(count, len(forward.entry_block.arguments))]
    wrt = [i for i, t in enumerate(example_inputs) if t.requires_grad] \
        if torch.is_grad_enabled() else []
    vjp = None
    if wrt and differentiable_results(forward, wrt):
        vjp = build_vjp(module, "forward", wrt)
        functions = [vjp.primal, vjp.vjp]
    else:
        functions = ["forward"]
    executor = _executor(module, functions, device)
    return CompiledGraph(executor, vjp, constants, count, device, module)


def _check_inputs(example_inputs, names: list[str]) -> torch.device:
    """The one device of the inputs; UnsupportedError for what tcc cannot take."""
    devices = set()
    for name, value in zip(names, example_inputs):
        if not isinstance(value, torch.Tensor):
            raise UnsupportedError(f"graph input '{name}' is {type(value).__name__} "
                                   f"{value!r}, not a tensor (dynamic shapes are not "
                                   "supported: compile with dynamic=False)")
        if value.dtype != torch.float32:
            dtype = str(value.dtype).removeprefix("torch.")
            raise UnsupportedError(f"graph input '{name}' is a {dtype} tensor; tcc "
                                   "compiles float32 graphs only")
        devices.add(value.device)
    if len(devices) > 1:
        raise UnsupportedError("graph inputs on several devices ("
                               + ", ".join(sorted(map(str, devices))) + ")")
    device = devices.pop() if devices else torch.device("cpu")
    if device.type not in ("cpu", "cuda"):
        raise UnsupportedError(f"tensors on {device}: tcc compiles for CPU and CUDA")
    return device


def _input_name(node: fx.Node) -> str:
    """A parameter's module path ("fc1.weight") or a user input's name ("x") from the
    source Dynamo records (L['self']._modules['fc1']._parameters['weight'])."""
    grapharg = node.meta.get("grapharg")
    source = getattr(grapharg, "source", None)
    text = getattr(source, "name", "")
    text = text() if callable(text) else text
    parts = re.findall(r"\['([^']*)'\]", text if isinstance(text, str) else "")
    if parts[:1] == ["self"] and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) if parts else node.name


def _constant(weights: dict, forward, index: int) -> np.ndarray:
    """A tensor the graph holds as an attribute (an argument after the inputs)."""
    from ...dialects import train
    return np.ascontiguousarray(weights[train.arg_name(forward, index)], dtype=np.float32)


def _executor(module, names: list[str], device: torch.device):
    if device.type == "cuda":
        from ..targets import gpu        # only for CUDA tensors
        return gpu.compile_functions(module, names, device=device)
    from ..api import compile_functions
    return compile_functions(module, names)


# --------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------

@dataclass
class CompiledGraph:
    """The compiled functions of one graph and how to call them from autograd."""

    executor: Any
    vjp: Any                        # train_vjp.Vjp, or None (inference only)
    constants: list[np.ndarray]     # arguments after the graph's inputs
    inputs: int
    device: torch.device
    module: Any                     # the train-dialect module (for inspection)
    device_constants: list | None = None    # `constants` on the GPU, made on first use

    def __call__(self, *inputs):
        if self.vjp is None:
            return tuple(self.call("forward", inputs))
        return tuple(_TccFunction.apply(self, *inputs))

    def call(self, name: str, values) -> list[torch.Tensor]:
        """Runs @name on tensors (numpy arrays on CPU); returns tensors."""
        if self.device.type == "cuda":
            if self.device_constants is None:
                self.device_constants = [torch.from_numpy(c).to(self.device)
                                         for c in self.constants]
            args = [v.detach().contiguous() for v in values]
            return list(self.executor.call(name, args + self.device_constants))
        args = [v.detach().contiguous().numpy() for v in values]
        return [torch.from_numpy(r) for r in self.executor.call(name, args + self.constants)]

    def primal(self, inputs) -> list:
        """The graph's outputs followed by the saved activations."""
        return self.call(self.vjp.primal, inputs)

    def backward(self, saved: list, grad_outputs) -> list:
        """The gradient of each input (None where it needs none), from the saved values
        (in the vjp's order) and the outputs' gradients."""
        douts = [grad_outputs[k] for k in self.vjp.grad_outputs]
        grads = self.call(self.vjp.vjp, saved + douts)
        by_input: list = [None] * self.inputs
        for index, grad in zip(self.vjp.grads, grads):
            by_input[index] = grad
        return by_input


class _TccFunction(torch.autograd.Function):
    """Forward: @forward_primal. Backward: @forward_vjp on the saved activations."""

    @staticmethod
    def forward(ctx, graph: CompiledGraph, *inputs):
        vjp = graph.vjp
        results = graph.primal(inputs)
        outputs = results[:vjp.results]
        ctx.graph = graph
        # Inputs and outputs the backward reads are saved through autograd, which checks
        # that they are not modified in place before it runs; intermediates are private.
        ctx.save_for_backward(*[inputs[i] for kind, i in vjp.saved if kind == "arg"],
                              *[results[i] for kind, i in vjp.saved
                                if kind == "result" and i < vjp.results])
        ctx.intermediates = {i: results[i] for kind, i in vjp.saved
                             if kind == "result" and i >= vjp.results}
        differentiable = set(vjp.grad_outputs)
        ctx.mark_non_differentiable(*[o for k, o in enumerate(outputs)
                                      if k not in differentiable])
        return tuple(outputs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        vjp = ctx.graph.vjp
        tensors = iter(ctx.saved_tensors)
        saved_args = {i: next(tensors) for kind, i in vjp.saved if kind == "arg"}
        saved_outputs = {i: next(tensors) for kind, i in vjp.saved
                         if kind == "result" and i < vjp.results}
        saved = [saved_args[i] if kind == "arg" else
                 saved_outputs[i] if i < vjp.results else ctx.intermediates[i]
                 for kind, i in vjp.saved]
        return (None, *ctx.graph.backward(saved, grad_outputs))
