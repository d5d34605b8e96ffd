"""`tcc.compile`: a model in, a trainable compiled model out, from Python.

    import tcc
    model = tcc.compile(torch_module, example_inputs=(x,), scheme="scheme.json")
    loss = model.train_step(x, y)          # forward, loss, backward, update: one call
    logits = model.infer(x)
    model.parameters["fc1.weight"]         # the live parameter array (read or assign)

The model is a `torch.nn.Module` (with `example_inputs`, through the PyTorch importer),
a path to an .mlir file (its parameters from the `train.weights` file it names, else
PyTorch's default initialisation with `seed`), or an `ir.Module`. `@train_step` is
derived at compile time (autodiff with the scheme, then pruning) unless the module has
one. Targets:

- "cpu": the training step compiled to native code through LLVM (compiler/targets/
  cpu.py), linked into a shared library by compiler/targets/cpu_library.py and cached
  by compiler/cache.py — a second compile of the same model and options loads the
  library without deriving or lowering anything;
- "reference": the numpy reference interpreter (slow; the semantics every target is
  tested against).

A `CompiledModel` keeps the parameters and the optimizer's momentum buffers between
steps: each step's results marked `train.updates` are written back into them, in
place, so arrays (or `torch.from_numpy` views) taken from `parameters` stay live.
Inputs may be numpy arrays or torch CPU tensors; a tensor is passed by its memory
(`.numpy()`), and `infer` answers a tensor for a tensor.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .errors import InputError, UnsupportedError

TARGETS = ("cpu", "reference")
LOSSES = ("cross-entropy", "mse")
OPTIMIZERS = ("sgd", "momentum")


# ---------------------------------------------------------------------------------------
# Signatures: what a compiled function takes and returns, without the IR
# ---------------------------------------------------------------------------------------

@dataclass
class TensorSpec:
    """One argument or result of a compiled function.

    `kind` is "parameter", "momentum", "data", "labels" (arguments) or "result";
    `dtype` the numpy storage dtype (float32, int32, int8 for int8 quantized types);
    `element` the MLIR element type as text.
    """

    name: str
    shape: list[int]
    dtype: str
    element: str
    kind: str
    role: str | None = None            # parameters: "trainable" or "frozen"
    momentum_of: int | None = None     # momentum buffers: the parameter's index
    updates: int | None = None         # results: the argument they replace

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class FunctionSignature:
    name: str
    args: list[TensorSpec]
    results: list[TensorSpec]

    def indices(self, kind: str) -> list[int]:
        return [i for i, a in enumerate(self.args) if a.kind == kind]

    @classmethod
    def of_function(cls, module, name: str, *, is_step: bool = False) -> "FunctionSignature":
        """@name's arguments and results; `is_step`: its last argument is the labels."""
        from .._mlir import ir
        from ..dialects import train
        from ..runtime.interpreter import numpy_dtype
        from .source import find_function

        def spec(value_type, kind, name, **extra):
            tensor = ir.RankedTensorType(value_type)
            return TensorSpec(name=name, shape=list(tensor.shape),
                              dtype=np.dtype(numpy_dtype(tensor.element_type)).name,
                              element=str(tensor.element_type), kind=kind, **extra)

        function = find_function(module, name)
        block_args = list(function.entry_block.arguments)
        args = []
        for index, arg in enumerate(block_args):
            if not isinstance(arg.type, ir.RankedTensorType):
                raise UnsupportedError(f"@{name}: argument #{index} is not a ranked tensor "
                                       f"({arg.type})")
            role = train.arg_role(function, index)
            buffer = train.momentum_of(function, index)
            if role is not None:
                kind = "parameter"
            elif buffer is not None:
                kind = "momentum"
            elif is_step and index == len(block_args) - 1:
                kind = "labels"
            else:
                kind = "data"
            args.append(spec(arg.type, kind, train.arg_name(function, index), role=role,
                             momentum_of=buffer))
        results = []
        for index, result_type in enumerate(ir.FunctionType(function.function_type.value).results):
            if not isinstance(result_type, ir.RankedTensorType):
                raise UnsupportedError(f"@{name}: result #{index} is not a ranked tensor "
                                       f"({result_type})")
            results.append(spec(result_type, "result", train.result_name(function, index),
                                updates=train.updated_arg(function, index)))
        return cls(name, args, results)

    @classmethod
    def from_json(cls, d: dict) -> "FunctionSignature":
        return cls(d["name"], [TensorSpec(**a) for a in d["args"]],
                   [TensorSpec(**r) for r in d["results"]])


@dataclass
class ModelSignature:
    """@forward and @train_step as the compiled code sees them."""

    forward: FunctionSignature
    step: FunctionSignature

    @property
    def functions(self) -> list[FunctionSignature]:
        return [self.forward, self.step]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ModelSignature":
        return cls(FunctionSignature.from_json(data["forward"]),
                   FunctionSignature.from_json(data["step"]))

    @classmethod
    def of_module(cls, module, forward: str = "forward", step: str = "train_step"
                  ) -> "ModelSignature":
        return cls(FunctionSignature.of_function(module, forward),
                   FunctionSignature.of_function(module, step, is_step=True))


# ---------------------------------------------------------------------------------------
# Executors: run one compiled function on arrays
# ---------------------------------------------------------------------------------------

class ReferenceExecutor:
    """Runs functions in the reference interpreter."""

    def __init__(self, module):
        self.module = module

    def call(self, name: str, args: Sequence[np.ndarray],
             outs: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        from ..runtime import interpreter
        results = interpreter.run_function(self.module, name, list(args))
        return _write_outs(results, outs)


def _write_outs(results, outs) -> list[np.ndarray]:
    """Copies results into the given destination arrays (None: keep the result)."""
    if outs is None:
        return list(results)
    written = []
    for result, out in zip(results, outs):
        if out is None or out is result:
            written.append(result)
        else:
            np.copyto(out, result, casting="same_kind")
            written.append(out)
    return written


# ---------------------------------------------------------------------------------------
# Numpy and torch at the boundary
# ---------------------------------------------------------------------------------------

def _is_torch(value) -> bool:
    """A torch.Tensor (torch is not imported for this: if it is not loaded, it is not one)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _as_array(value, spec: TensorSpec, what: str) -> np.ndarray:
    """`value` as a C-contiguous array of the spec's dtype and shape; no copy when it
    already is one (a CPU tensor shares its memory through `.numpy()`)."""
    if _is_torch(value):
        tensor = value.detach()
        if tensor.device.type != "cpu":
            raise InputError(f"{what}: expected a CPU tensor, got one on {tensor.device}")
        value = tensor.numpy() if not tensor.is_conj() else tensor.resolve_conj().numpy()
    array = np.asarray(value)
    dtype = np.dtype(spec.dtype)
    if list(array.shape) != list(spec.shape):
        raise InputError(f"{what} ('{spec.name}') expects shape {list(spec.shape)}, "
                         f"got {list(array.shape)}")
    if array.dtype != dtype:
        if dtype.kind != array.dtype.kind and not (dtype.kind in "iu" and
                                                    array.dtype.kind in "iu"):
            raise InputError(f"{what} ('{spec.name}') expects {dtype.name} values, "
                             f"got {array.dtype.name}")
        array = array.astype(dtype)
    return np.ascontiguousarray(array)


def _wrap_like(result: np.ndarray, like):
    if _is_torch(like):
        import torch
        return torch.from_numpy(result)
    return result


class Parameters(MutableMapping):
    """The model's parameters by `train.name`: each value is the live array the next
    step reads (and updates in place). Assigning copies the new values into it."""

    def __init__(self, model: "CompiledModel"):
        self._model = model

    def _index(self, name: str) -> int:
        try:
            return self._model._param_index[name]
        except KeyError:
            raise KeyError(f"no parameter '{name}' (parameters: "
                           f"{', '.join(self._model._param_index)})") from None

    def __getitem__(self, name: str) -> np.ndarray:
        return self._model._state[self._index(name)]

    def __setitem__(self, name: str, value) -> None:
        index = self._index(name)
        spec = self._model.signature.step.args[index]
        np.copyto(self._model._state[index], _as_array(value, spec, "parameter"))

    def __delitem__(self, name: str) -> None:
        raise TypeError("parameters cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._model._param_index)

    def __len__(self) -> int:
        return len(self._model._param_index)

    def trainable(self) -> list[str]:
        step = self._model.signature.step
        return [n for n, i in self._model._param_index.items()
                if step.args[i].role == "trainable"]

    def __repr__(self) -> str:
        return f"Parameters({', '.join(self)})"


# ---------------------------------------------------------------------------------------
# The compiled model
# ---------------------------------------------------------------------------------------

class CompiledModel:
    """A model with its training step compiled for one target, and its state."""

    def __init__(self, signature: ModelSignature, executor, parameters: Mapping[int, np.ndarray],
                 *, target: str, module: Any = None,
                 module_factory: Callable[[], Any] | None = None,
                 cache_key: str | None = None, cache_hit: bool = False,
                 compile_seconds: float = 0.0, library: Path | None = None):
        self.signature = signature
        self.target = target
        self.cache_key = cache_key
        self.cache_hit = cache_hit
        self.compile_seconds = compile_seconds
        self.library = library
        self._executor = executor
        self._module = module
        self._module_factory = module_factory
        step = signature.step
        self._state: list[np.ndarray | None] = [None] * len(step.args)
        self._param_index: dict[str, int] = {}
        for index in step.indices("parameter"):
            spec = step.args[index]
            if index not in parameters:
                raise InputError(f"no value for parameter '{spec.name}'")
            value = np.array(_as_array(parameters[index], spec, "parameter"), copy=True)
            self._state[index] = value
            self._param_index[spec.name] = index
        self._momentum_index: dict[str, int] = {}
        for index in step.indices("momentum"):
            spec = step.args[index]
            self._state[index] = np.zeros(spec.shape, dtype=spec.dtype)
            self._momentum_index[step.args[spec.momentum_of].name] = index
        self._forward_data = signature.forward.indices("data")
        self._step_data = step.indices("data")
        self._labels = step.indices("labels")[0]
        # Destinations of the step's results: updates go back into the state in place.
        self._loss = np.zeros(step.results[0].shape, dtype=step.results[0].dtype)
        self._step_outs = [self._loss] + [
            self._state[r.updates] if r.updates is not None else None
            for r in step.results[1:]]
        self.parameters = Parameters(self)

    # -- running --------------------------------------------------------------------

    def infer(self, *inputs):
        """The forward function's first result (the logits) for the data input(s)."""
        forward = self.signature.forward
        args = self._arguments(forward, self._forward_data, inputs, "infer")
        results = self._executor.call(forward.name, args)
        return _wrap_like(results[0], inputs[0]) if inputs else results[0]

    def __call__(self, *inputs):
        return self.infer(*inputs)

    def train_step(self, *inputs_and_labels) -> float:
        """One training step on a batch: `train_step(x, y)`; returns the loss (before
        the update). Parameters and momentum buffers are updated in place."""
        step = self.signature.step
        if len(inputs_and_labels) != len(self._step_data) + 1:
            raise InputError(f"train_step takes {len(self._step_data)} input(s) and the "
                             f"labels, got {len(inputs_and_labels)} arguments")
        *inputs, labels = inputs_and_labels
        args = self._arguments(step, self._step_data, inputs, "train_step")
        args[self._labels] = _as_array(labels, step.args[self._labels], "labels")
        self._executor.call(step.name, args, self._step_outs)
        return float(self._loss)

    def _arguments(self, function: FunctionSignature, data: list[int], inputs, what: str):
        if len(inputs) != len(data):
            raise InputError(f"{what} takes {len(data)} input(s), got {len(inputs)}")
        args = list(self._state[:len(function.args)])
        for index, value in zip(data, inputs):
            args[index] = _as_array(value, function.args[index], f"{what} input")
        return args

    # -- state ----------------------------------------------------------------------

    @property
    def momentum(self) -> dict[str, np.ndarray]:
        """Momentum buffers by parameter name (optimizer="momentum")."""
        return {name: self._state[i] for name, i in self._momentum_index.items()}

    def reset_optimizer(self) -> None:
        """Zeroes the momentum buffers."""
        for index in self._momentum_index.values():
            self._state[index].fill(0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters by name (an .npz-ready dict)."""
        return {name: self._state[i].copy() for name, i in self._param_index.items()}

    def load_state_dict(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            self.parameters[name] = value

    def save_library(self, out: str | Path, *, name: str = "tcc_model",
                     opt_level: int = 3) -> dict[str, Path]:
        """Writes OUT/lib<name>.so + OUT/model.h (compiler/targets/cpu_library.py) for C
        programs, the current parameter values as their initial ones."""
        from .targets import cpu_library
        values = {i: self._state[i] for i in self._param_index.values()}
        return cpu_library.write_library(self.module, self.signature, values, Path(out),
                                         name=name, opt_level=opt_level)

    @property
    def module(self):
        """The module with @forward and the derived @train_step (derived on first
        access after a cache hit)."""
        if self._module is None and self._module_factory is not None:
            self._module = self._module_factory()
        return self._module

    def __repr__(self) -> str:
        hit = ", cached" if self.cache_hit else ""
        return (f"CompiledModel(target={self.target!r}, parameters={len(self._param_index)}, "
                f"trainable={len(self.parameters.trainable())}{hit})")


# ---------------------------------------------------------------------------------------
# compile()
# ---------------------------------------------------------------------------------------

@dataclass
class _Source:
    """The model to compile: its text (the cache key), how to parse it into a fresh
    module with @forward, and where its parameter values come from."""

    text: str
    filename: str
    parse: Callable[[], Any]
    weights: Mapping[str, np.ndarray] | None = None   # by train.name
    # The module's `train.weights` file resolves beside this path (the .mlir file; for
    # a model in memory, a name in the working directory).
    model_path: Path | None = None


def _source_of(model, example_inputs, weights) -> _Source:
    if isinstance(model, (str, Path)):
        # No MLIR import here: a cache hit on a model file needs none.
        return _path_source(Path(model), weights)
    from .._mlir import ir
    if isinstance(model, ir.Module):
        text = model.operation.get_asm(enable_debug_info=True)
        return _text_source(text, "<module>", weights, base=Path.cwd())
    if _is_torch_module(model):
        if example_inputs is None:
            raise InputError("compiling a torch.nn.Module needs example_inputs "
                             "(a tuple of tensors shaped like the model's inputs)")
        if not isinstance(example_inputs, (tuple, list)):
            example_inputs = (example_inputs,)
        from .frontends.pytorch import import_module
        imported = import_module(model, tuple(example_inputs))
        text = imported.module.operation.get_asm(enable_debug_info=True)
        values = dict(imported.weights)
        if weights is not None:
            values.update(_weights_dict(weights))
        return _text_source(text, "<torch>", None, base=Path.cwd(), values=values)
    raise InputError(f"cannot compile a {type(model).__name__}: expected a torch.nn.Module, "
                     "a path to an .mlir file or an ir.Module")


def _is_torch_module(model) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _weights_dict(weights) -> dict[str, np.ndarray]:
    if isinstance(weights, (str, Path)):
        from .parameters import read_weights
        return read_weights(weights)
    return {k: (v.detach().cpu().numpy() if _is_torch(v) else np.asarray(v))
            for k, v in dict(weights).items()}


def _path_source(path: Path, weights) -> _Source:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read file: {error}", str(path)) from None

    def parse():
        from .source import load_module, new_context
        return load_module(path, new_context())

    source = _Source(text, str(path), parse, model_path=path)
    if weights is not None:
        source.weights = _weights_dict(weights)
    return source


def _text_source(text: str, filename: str, weights, *, base: Path, values=None) -> _Source:
    def parse():
        from .source import new_context, parse_module
        return parse_module(text, filename, new_context())

    source = _Source(text, filename, parse, values)
    if weights is not None:
        source.weights = {**(values or {}), **_weights_dict(weights)}
    source.model_path = base / filename
    return source


def _load_forward(source: _Source):
    """Parses the source; imports TOSA; returns (module, imported weights or None)."""
    module = source.parse()
    if any(op.name.startswith("tosa.") for op in _ops(module)):
        from .frontends import tosa
        imported = tosa.import_tosa(module)
        return imported.module, {**imported.weights, **(source.weights or {})}
    return module, source.weights


def _ops(module):
    for function in module.body.operations:
        for region in function.regions:
            for block in region.blocks:
                yield from block.operations


def _initial_parameters(module, weights, source: _Source, seed: int, forward: str):
    """Parameter values by @forward argument index."""
    from .frontends.model_file import weights_file
    from .parameters import default_parameters, load_parameters, select_parameters
    from .source import find_function
    function = find_function(module, forward)
    if weights is not None:
        return select_parameters(function, weights, source.filename)
    stored = weights_file(module, source.model_path or source.filename)
    if stored is not None:
        return load_parameters(function, stored)
    return default_parameters(function, seed)


@dataclass
class _Options:
    target: str
    scheme: Any
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    loss: str
    qas: bool
    forward: str
    step: str
    opt_level: int

    def key(self) -> dict:
        """The options that change the compiled code, as JSON-able values (a scheme file
        by its content)."""
        scheme = self.scheme
        if isinstance(scheme, (str, Path)):
            file, _, entry = str(scheme).partition("#")
            try:
                scheme = {"file": Path(file).read_text(), "entry": entry}
            except OSError:
                scheme = {"file": str(scheme)}      # derive_step reports it
        elif scheme is not None and not isinstance(scheme, dict):
            scheme = repr(scheme)
        values = asdict(self)
        values["scheme"] = scheme
        return values


def _derive(module, options: _Options, filename: str) -> None:
    from .analysis import derive_step
    step = _step_options_class()(scheme=options.scheme, optimizer=options.optimizer, lr=options.lr,
                        momentum=options.momentum if options.optimizer == "momentum" else None,
                        weight_decay=options.weight_decay, qas=options.qas,
                        forward=options.forward, step=options.step, loss=options.loss)
    derive_step(module, step, filename)


@functools.lru_cache(maxsize=None)
def _step_options_class():
    from .analysis import StepOptions

    @dataclass
    class StepOptionsWithLoss(StepOptions):
        """StepOptions plus the loss of --train-autodiff."""

        loss: str = "cross-entropy"

        def pipeline(self) -> list[str]:
            elements = super().pipeline()
            if self.loss != "cross-entropy":
                first = elements[0]
                elements[0] = first[:-1] + f" loss={self.loss}}}"
            return elements

    return StepOptionsWithLoss


def compile(model_or_mlir, target: str = "cpu", *, example_inputs=None, scheme=None,  # noqa: A001
            optimizer: str = "sgd", lr: float = 0.05, momentum: float = 0.9,
            weight_decay: float = 0.0, loss: str = "cross-entropy", qas: bool = True,
            weights=None, seed: int = 0, forward: str = "forward", step: str = "train_step",
            cache: bool = True, cache_dir: str | Path | None = None,
            opt_level: int = 3) -> CompiledModel:
    """Compiles a model's training step (and forward) for `target`.

    model_or_mlir: a torch.nn.Module (with `example_inputs`), a path to an .mlir file,
    or an ir.Module. scheme: a sparse update scheme (file, FILE#KEY, or dict; see
    compiler/schemes.py). optimizer: "sgd" or "momentum" (with `momentum`). loss:
    "cross-entropy" (int32 class labels) or "mse" (float targets shaped like the
    output). weights: parameter values by name (dict or .npz path) overriding the
    model's own. cache: reuse a library compiled before for the same IR and options
    (compiler/cache.py; TCC_CACHE_DIR, default ~/.cache/tcc).
    """
    started = time.perf_counter()
    if target not in TARGETS:
        raise InputError(f"unknown target '{target}' (expected one of: {', '.join(TARGETS)})")
    if optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer '{optimizer}' (expected one of: "
                         f"{', '.join(OPTIMIZERS)})")
    if loss not in LOSSES:
        raise InputError(f"unknown loss '{loss}' (expected one of: {', '.join(LOSSES)})")
    options = _Options(target, scheme, optimizer, float(lr), float(momentum),
                       float(weight_decay), loss, bool(qas), forward, step, int(opt_level))
    source = _source_of(model_or_mlir, example_inputs, weights)
    if target == "reference":
        module, values = _load_forward(source)
        parameters = _initial_parameters(module, values, source, seed, forward)
        _derive(module, options, source.filename)
        signature = ModelSignature.of_module(module, forward, step)
        return CompiledModel(signature, ReferenceExecutor(module), parameters,
                             target=target, module=module,
                             compile_seconds=time.perf_counter() - started)
    return _compile_cpu(source, options, seed, cache, cache_dir, started)


def _compile_cpu(source: _Source, options: _Options, seed: int, use_cache: bool,
                 cache_dir, started: float) -> CompiledModel:
    from . import cache as cache_module
    from .targets import cpu_library
    cpu_library.require_cpu_target()
    store = cache_module.Cache(cache_dir) if use_cache else None
    key = cache_module.cache_key(source.text, options.key())
    entry = store.lookup(key) if store is not None else None

    def derived_module():
        module, _ = _load_forward(source)
        _derive(module, options, source.filename)
        return module

    if entry is not None:
        signature = ModelSignature.from_json(entry.manifest["signature"])
        parameters = _stored_parameters(entry.manifest, source, signature)
        if parameters is None:
            module, values = _load_forward(source)
            parameters = _initial_parameters(module, values, source, seed, options.forward)
        executor = cpu_library.LibraryExecutor(entry.library, signature)
        return CompiledModel(signature, executor, parameters, target="cpu",
                             module_factory=derived_module, cache_key=key, cache_hit=True,
                             compile_seconds=time.perf_counter() - started,
                             library=entry.library)
    module, values = _load_forward(source)
    parameters = _initial_parameters(module, values, source, seed, options.forward)
    _derive(module, options, source.filename)
    signature = ModelSignature.of_module(module, options.forward, options.step)
    manifest = {"signature": signature.to_json(), "model": source.filename}
    from .frontends.model_file import WEIGHTS_ATTR
    if WEIGHTS_ATTR in module.operation.attributes and source.weights is None:
        from .._mlir import ir
        manifest["weights_file"] = ir.StringAttr(module.operation.attributes[WEIGHTS_ATTR]).value
    if store is not None:
        with store.building(key) as directory:
            library = cpu_library.build_library(module, signature, directory,
                                                opt_level=options.opt_level)
            entry = store.commit(key, directory, library, manifest)
        library = entry.library
    else:
        directory = cache_module.scratch_directory()
        library = cpu_library.build_library(module, signature, directory,
                                            opt_level=options.opt_level)
    executor = cpu_library.LibraryExecutor(library, signature)
    return CompiledModel(signature, executor, parameters, target="cpu", module=module,
                         cache_key=key, cache_hit=False,
                         compile_seconds=time.perf_counter() - started, library=library)


def _stored_parameters(manifest: dict, source: _Source, signature: ModelSignature):
    """On a cache hit: the parameters straight from the weights file the model names
    (recorded in the manifest), without parsing the model; None when they come from
    elsewhere (given weights, a default initialisation, a model in memory)."""
    name = manifest.get("weights_file")
    if name is None or source.weights is not None or source.model_path is None:
        return None
    from .parameters import read_weights
    path = source.model_path.parent / name
    arrays = read_weights(path)
    values = {}
    for index in signature.forward.indices("parameter"):
        spec = signature.forward.args[index]
        key = next((k for k in (spec.name, f"arg{index}", str(index)) if k in arrays), None)
        if key is None:
            raise InputError(f"no array for parameter '{spec.name}' (argument #{index})",
                             str(path))
        values[index] = arrays[key]
    return values


def compile_functions(module, names: Sequence[str] | None = None, *, cache: bool = True,
                      cache_dir: str | Path | None = None, opt_level: int = 3):
    """Functions of a module (train dialect, float; default: every public function with
    a body) compiled for this CPU, through the cache: a `LibraryExecutor` whose
    `call(name, arrays)` returns the results (`tcc run --target=cpu`)."""
    from . import cache as cache_module
    from .targets import cpu_library
    cpu_library.require_cpu_target()
    if names is None:
        from .._mlir.dialects import func
        names = [op.sym_name.value for op in module.body.operations
                 if isinstance(op, func.FuncOp) and not op.is_external
                 and "sym_visibility" not in op.attributes]
    functions = [FunctionSignature.of_function(module, name) for name in names]
    text = module.operation.get_asm()
    key = cache_module.cache_key(text, {"functions": list(names), "opt_level": opt_level,
                                        "target": "cpu"})
    store = cache_module.Cache(cache_dir) if cache else None
    entry = store.lookup(key) if store is not None else None
    if entry is None:
        manifest = {"functions": [asdict(f) for f in functions]}
        if store is not None:
            with store.building(key) as directory:
                library = cpu_library.build_library(module, functions, directory,
                                                    opt_level=opt_level)
                entry = store.commit(key, directory, library, manifest)
            library = entry.library
        else:
            library = cpu_library.build_library(module, functions,
                                                cache_module.scratch_directory(),
                                                opt_level=opt_level)
    else:
        library = entry.library
    return cpu_library.LibraryExecutor(library, functions)


def signature_json(signature: ModelSignature) -> str:
    return json.dumps(signature.to_json(), indent=1)
