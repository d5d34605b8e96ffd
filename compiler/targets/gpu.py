"""--target=gpu: runs a planned training step with Triton kernels over one device arena.

`compile_functions(module)` plans each function (--train-reorder for a training step,
then --plan-memory) unless it has a plan, allocates ONE arena of `train.arena_size`
bytes and makes every planned value a view of it at its `train.offset(s)`; values the
plan keeps out of the arena (frozen parameters, constants of frozen parameters, a
partial-channel slice, a dequantized parameter, a zero-padded gradient) and values the
plan sizes below their type (a partial-channel parameter and its update: the arena
holds their trained slice only) get their own tensors, allocated once. int8 values run
in the kernels of kernels/triton/quantized.py (the package's KWARGS read their
quantization from the op's types), in the layout ops and in train.clamp_mask. It then
walks each function once into a launch list — kernel wrapper, operand slots,
attributes, result slots — fusing op chains that kernels/triton `FUSED` covers where
the intermediate value has one use, is not returned and fusing moves no read past a
write of its storage. A call copies the arguments into their slots, runs the list
and returns copies of the results (the arena is reused by the next call); Triton
caches the compiled kernels. Without CUDA, tensors stay on the CPU and the kernels need
TRITON_INTERPRET=1 (set before triton is imported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import func
from ..errors import InputError, UnsupportedError, format_location
from ..source import find_function


# Ops whose kernels move or compare int8 storage values without rescaling them
# (train.clamp_mask compares them with the interval of storage values that pass).
INT8_LAYOUT_OPS = frozenset({"train.reshape", "train.transpose", "train.concat", "train.slice",
                             "train.pad_to", "train.max_pool2d", "train.clamp",
                             "train.clamp_mask"})


@dataclass
class Launch:
    """One kernel call: the op names it runs (two for a fused chain), the wrapper, the
    slots of its operands and results, and its attributes."""

    ops: tuple[str, ...]
    fn: Callable
    args: list[int]
    results: list[int]
    kwargs: dict
    location: str | None = None

    def run(self, values: list) -> None:
        outs = [values[r] for r in self.results]
        out = outs[0] if len(outs) == 1 else tuple(outs)
        self.fn(*[values[a] for a in self.args], **self.kwargs, out=out)


@dataclass
class Program:
    """A function ready to run: a tensor per value (arguments first), the launch list,
    the slots of the results."""

    name: str
    values: list
    launches: list[Launch]
    returned: list[int]
    arg_specs: list[tuple]            # (shape, torch dtype) per argument
    storage: list[tuple] = field(repr=False, default_factory=list)


def _torch():
    import torch
    return torch


def _device(device):
    torch = _torch()
    from ...kernels.triton import support
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cpu" and not support.INTERPRET:
        raise UnsupportedError("the GPU target needs a CUDA device, or TRITON_INTERPRET=1 "
                               "(set before triton is imported) to run its kernels on the CPU")
    return device


def ensure_plan(module: ir.Module, name: str) -> None:
    """Plans @name as the driver does (reorder a training step, then --plan-memory)."""
    from ...passes.plan_memory import is_planned
    from ..pipeline import run_pipeline
    function = find_function(module, name)
    if is_planned(module, function):
        return
    from ..liveness import UPDATES
    steps = []
    if any(op.name in UPDATES for op in function.entry_block.operations):
        steps.append(f"train-reorder{{step={name}}}")
    attributes = module.operation.attributes
    alignment = ir.IntegerAttr(attributes["train.arena_alignment"]).value \
        if "train.arena_alignment" in attributes else 16
    steps.append(f"plan-memory{{function={name} alignment={alignment}}}")
    run_pipeline(module, steps)


class GpuExecutor:
    """The compiled functions of a module: `call(name, args, outs=None)` runs one on
    torch tensors (or arrays) and returns torch tensors."""

    def __init__(self, module: ir.Module, names: Sequence[str], device=None):
        torch = _torch()
        from ...kernels import triton as kernels
        self.device = _device(device)
        self.ops, self.fused, self.keywords = kernels.OPS, kernels.FUSED, kernels.KWARGS
        for name in names:
            ensure_plan(module, name)
        size = ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value
        self.arena = torch.empty(max(size, 1), dtype=torch.uint8, device=self.device)
        self.allocations = 1            # the arena; values outside it are counted too
        self.programs = {name: self._compile(find_function(module, name)) for name in names}

    # -- compile time -------------------------------------------------------------------

    def _tensor(self, value_type, offset: int, planned: int):
        """A value's tensor: an arena view at `offset`, else its own tensor; and its
        storage as (start, end) in the arena or ("own", id). A value planned with fewer
        bytes than its type holds (a partial-channel parameter and its update: the plan
        keeps their trained slice only) gets its own tensor too."""
        torch = _torch()
        from ...runtime.interpreter import numpy_dtype
        tensor_type = ir.RankedTensorType(value_type)
        shape = tuple(tensor_type.shape)
        dtype = getattr(torch, np.dtype(numpy_dtype(tensor_type.element_type)).name)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if offset >= 0 and nbytes <= planned and offset + nbytes <= self.arena.numel():
            view = self.arena[offset:offset + nbytes].view(dtype).view(shape)
            return view, (offset, offset + nbytes)
        self.allocations += 1
        tensor = torch.empty(shape, dtype=dtype, device=self.device)
        return tensor, ("own", self.allocations)

    def _compile(self, function: func.FuncOp) -> Program:
        from ...passes.plan_memory import value_offsets
        from ...runtime.interpreter import _KWARGS
        from ..liveness import Program as Lifetimes
        # The int8 kernels read their scales and zero points from the op's types.
        keywords = {**_KWARGS, **self.keywords}
        name = function.sym_name.value
        offsets = iter(value_offsets(function))
        # Bytes the plan gives each value (the memory model --plan-memory uses).
        planned = iter(Lifetimes.of(function)[0].sizes)
        index: dict = {}
        values, storage, arg_specs = [], [], []

        def add(value, offset):
            tensor, place = self._tensor(value.type, offset, next(planned))
            index[value] = len(values)
            values.append(tensor)
            storage.append(place)

        for arg in function.entry_block.arguments:
            if not isinstance(arg.type, ir.RankedTensorType):
                raise UnsupportedError(f"@{name}: argument of type {arg.type} (tensors only)")
            add(arg, next(offsets))
            arg_specs.append((tuple(values[-1].shape), values[-1].dtype))
        launches, returned, uses = [], [], {}
        for op in function.entry_block.operations:
            location = format_location(op.location)
            if isinstance(op, func.ReturnOp):
                returned = [index[v] for v in op.operands]
                continue
            for result in op.results:
                if not isinstance(result.type, ir.RankedTensorType):
                    raise UnsupportedError(f"'{op.name}' gives a {result.type} (tensors only)",
                                           location)
                add(result, next(offsets))
            results = [index[r] for r in op.results]
            if op.name == "arith.constant":
                array = np.array(ir.DenseElementsAttr(op.attributes["value"]))
                values[results[0]].copy_(_torch().from_numpy(array))
                continue
            self._check_supported(op, location)
            kwargs = keywords.get(op.name, lambda _: {})(op)
            args = [index[v] for v in op.operands]
            for a in args:
                uses[a] = uses.get(a, 0) + 1
            launches.append(Launch((op.name,), self.ops[op.name], args, results, kwargs,
                                   location))
        for r in returned:
            uses[r] = uses.get(r, 0) + 1
        launches = self._fuse(launches, uses, set(returned), storage)
        return Program(name, values, launches, returned, arg_specs, storage)

    def _check_supported(self, op, location) -> None:
        from ...kernels.triton import quantized
        from ...runtime.interpreter import quantized_type
        if op.name not in self.ops:
            raise UnsupportedError(f"the GPU target has no kernel for '{op.name}'", location)
        if op.name in quantized.KWARGS or op.name in INT8_LAYOUT_OPS:
            return      # the quantized ops' kernels and the layout ops take int8
        for value in list(op.operands) + list(op.results):
            if isinstance(value.type, ir.RankedTensorType) and \
                    quantized_type(ir.RankedTensorType(value.type).element_type) is not None:
                ops = ", ".join(sorted(quantized.KWARGS))
                raise UnsupportedError(f"the GPU target has no int8 kernel for '{op.name}' (int8 "
                                       f"runs in {ops} and layout ops)", location)

    def _fuse(self, launches: list[Launch], uses: dict, returned: set,
              storage: list) -> list[Launch]:
        """Replaces chains A -> B from FUSED by one launch at B's place, where A's single
        result is read once (by B) and not returned, and moving A to B reads no storage
        that B's result or the launches in between overwrite."""
        producer = {}
        for position, launch in enumerate(launches):
            for r in launch.results:
                producer[r] = position
        fused_into: dict[int, Launch] = {}
        removed: set[int] = set()
        for j, b in enumerate(launches):
            for slot in b.args:
                i = producer.get(slot)
                if i is None or i in removed or j in fused_into or i in fused_into:
                    continue
                a = launches[i]
                chain = (a.ops[0], b.ops[0])
                if len(a.ops) > 1 or chain not in self.fused or len(a.results) != 1 or \
                        uses.get(slot, 0) != 1 or slot in returned or b.args.count(slot) != 1:
                    continue
                args = a.args + [s for s in b.args if s != slot]
                if not self._safe(args, b, launches[i + 1:j], storage):
                    continue
                fused_into[j] = Launch(chain, self.fused[chain], args, b.results,
                                       {**a.kwargs, **b.kwargs}, b.location)
                removed.add(i)
        return [fused_into.get(j, launch) for j, launch in enumerate(launches)
                if j not in removed]

    @staticmethod
    def _safe(args: list[int], b: Launch, between: list[Launch], storage: list) -> bool:
        def overlap(x, y):
            if x[0] == "own" or y[0] == "own":
                return x == y
            return x[0] < y[1] and y[0] < x[1]

        writes = [storage[r] for launch in between for r in launch.results]
        for a in args:
            if any(overlap(storage[a], w) for w in writes):
                return False
            for r in b.results:
                # B's own operand (the updated parameter) may be its result, in place.
                in_place = a in b.args and storage[a] == storage[r]
                if overlap(storage[a], storage[r]) and not in_place:
                    return False
        return True

    # -- run time -----------------------------------------------------------------------

    def launches(self, name: str) -> list[Launch]:
        return self._program(name).launches

    def _program(self, name: str) -> Program:
        try:
            return self.programs[name]
        except KeyError:
            raise InputError(f"no compiled function @{name} (functions: "
                             f"{', '.join(self.programs)})") from None

    def call(self, name: str, args: Sequence, outs: Sequence | None = None) -> list:
        torch = _torch()
        program = self._program(name)
        if len(args) != len(program.arg_specs):
            raise InputError(f"@{name} takes {len(program.arg_specs)} arguments, "
                             f"got {len(args)}")
        for i, (value, (shape, dtype)) in enumerate(zip(args, program.arg_specs)):
            tensor = value if isinstance(value, torch.Tensor) else \
                torch.from_numpy(np.ascontiguousarray(value))
            if tuple(tensor.shape) != shape:
                raise InputError(f"argument #{i} of @{name} expects shape {list(shape)}, "
                                 f"got {list(tensor.shape)}")
            slot = program.values[i]
            if tensor.data_ptr() != slot.data_ptr():
                slot.copy_(tensor)
        for launch in program.launches:
            launch.run(program.values)
        results = []
        for k, slot in enumerate(program.returned):
            out = outs[k] if outs is not None else None
            if out is None:
                results.append(program.values[slot].clone())
            else:
                out.copy_(program.values[slot])
                results.append(out)
        return results


def compile_functions(module: ir.Module, names: Sequence[str] | None = None,
                      device=None) -> GpuExecutor:
    """The module's functions (default: every public function with a body) planned and
    turned into launch lists over one arena on `device` (cuda if available)."""
    if names is None:
        names = [op.sym_name.value for op in module.body.operations
                 if isinstance(op, func.FuncOp) and not op.is_external
                 and "sym_visibility" not in op.attributes]
    return GpuExecutor(module, list(names), device)


def run_function(module: ir.Module, name: str, arrays: list) -> list[np.ndarray]:
    """`tcc run --target=gpu`: @name on numpy arrays (one per argument), results as
    numpy arrays."""
    from ...runtime.interpreter import _coerce
    function = find_function(module, name)
    inputs = _coerce(function, arrays)
    executor = compile_functions(module, [name])
    return [r.cpu().numpy() for r in executor.call(name, inputs)]
