"""The CPU target: train-dialect modules lowered through upstream MLIR to LLVM, run by the
MLIR ExecutionEngine (a JIT) or emitted as object files.

    lower_to_llvm(module)            in place: train → linalg → bufferized loops → LLVM
    jit(module, opt_level=3)         -> CompiledModule; .call(name, arrays) -> [arrays]
    emit_object(module, triple)      -> bytes of an ELF object (host or thumbv7em)

The pipeline (PIPELINE below): --convert-train-to-linalg; element-wise producers fused
into their consumers (linalg-fuse-elementwise-ops); one-shot bufferization across
function boundaries (arguments read-only: a call never writes the caller's arrays;
results as caller-provided out-parameters); the contractions and convolutions tiled and
vectorized by a transform-dialect schedule; the rest lowered to loops; then
convert-to-llvm. Public functions get `llvm.emit_c_interface`.
"""

from __future__ import annotations

import ctypes
import re
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._mlir import ir, passmanager
from ..._mlir.dialects import func
from ..errors import PassError, UnsupportedError
from ...passes.convert_train_to_linalg import TILE_SIZES as TILE_ATTR

# Upstream pass pipelines, in order.
CLEANUP = ["canonicalize", "cse"]

# Element-wise producers fused into their consumers (after the schedule, so that the
# packed matmuls stay matmuls).
FUSE = [
    "linalg-fuse-elementwise-ops",
    "canonicalize",
    "cse",
]

# After the transform schedule: accumulator tiles held in registers across the loop
# over the contraction dimension.
HOIST = [
    "canonicalize",
    "cse",
    "loop-invariant-subset-hoisting",
    "canonicalize",
]

BUFFERIZE = [
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}",
    "canonicalize",
    "cse",
    "canonicalize",
    "buffer-results-to-out-params{hoist-static-allocs modify-public-functions}",
    "canonicalize",
    "func.func(buffer-deallocation-pipeline)",
]

LOOPS = [
    "convert-linalg-to-loops",
    "lower-affine",
    "canonicalize",
]

LLVM = [
    "convert-vector-to-scf{full-unroll}",
    "convert-scf-to-cf",
    "expand-strided-metadata",
    "lower-affine",
    "convert-math-to-libm",
    "convert-vector-to-llvm",
    "convert-to-llvm",
    "reconcile-unrealized-casts",
]

_TILES = re.compile(r"tcc\.tile_sizes = array<i64: ([0-9, ]+)>")


def schedule(tile_sizes) -> str:
    """The transform-dialect schedule of the packed matmuls: each is tiled to its
    register tile (`tcc.tile_sizes`: rows × columns of the result, 1 along the
    contraction) and vectorized; the contractions become outer products (one broadcast
    FMA per row of the tile and step of the contraction)."""
    lines = []
    for i, sizes in enumerate(tile_sizes):
        text = ", ".join(str(v) for v in sizes)
        loops = sum(1 for v in sizes if v)
        results = ", ".join(["!transform.any_op"] * (loops + 1))
        lines += [
            f'    %m{i} = transform.structured.match ops{{["linalg.matmul", '
            f'"linalg.batch_matmul"]}} attributes {{{TILE_ATTR} = array<i64: {text}>}} '
            f'in %root : (!transform.any_op) -> !transform.any_op',
            f"    %t{i}, %l{i}:{loops} = transform.structured.tile_using_for %m{i} "
            f"tile_sizes [{text}] : (!transform.any_op) -> ({results})",
            f"    transform.structured.vectorize %t{i} : !transform.any_op",
        ]
    body = "\n".join(lines)
    return f"""module attributes {{transform.with_named_sequence}} {{
  transform.named_sequence @__transform_main(%root: !transform.any_op {{transform.readonly}}) {{
{body}
    %f = transform.structured.match ops{{["func.func"]}} in %root
      : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {{
      transform.apply_patterns.vector.reduction_to_contract
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.canonicalization
    }} : !transform.any_op
    transform.apply_patterns to %f {{
      transform.apply_patterns.vector.lower_contraction lowering_strategy = "outerproduct"
      transform.apply_patterns.vector.lower_outerproduct
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.canonicalization
    }} : !transform.any_op
    transform.yield
  }}
}}"""


def _apply_schedule(module: ir.Module) -> None:
    """Runs `schedule` over the module's packed matmuls (none: nothing to do)."""
    text = str(module.operation)
    sizes = sorted({tuple(int(v) for v in m.split(",")) for m in _TILES.findall(text)})
    if not sizes:
        return
    script = ir.Module.parse(schedule(sizes), context=module.context)
    with module.context:
        module.operation.attributes["transform.with_named_sequence"] = ir.UnitAttr.get()
        for op in list(script.body.operations):
            op.operation.detach_from_parent()
            module.body.append(op.operation)
    _run(module, ["transform-interpreter"], "the transform schedule")
    for op in list(module.body.operations):
        if op.operation.name == "transform.named_sequence":
            op.operation.erase()
    del module.operation.attributes["transform.with_named_sequence"]

_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i1": np.bool_,
           "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64}

_C_INTERFACE = "llvm.emit_c_interface"


@dataclass(frozen=True)
class TensorSpec:
    """Shape and numpy dtype of a function argument or result."""

    shape: tuple
    dtype: np.dtype


@dataclass(frozen=True)
class Signature:
    name: str
    inputs: tuple
    outputs: tuple


def _spec(type_: ir.Type) -> TensorSpec:
    if not isinstance(type_, ir.RankedTensorType):
        raise UnsupportedError(f"the CPU target takes ranked tensors only, got {type_}")
    tensor = ir.RankedTensorType(type_)
    key = str(tensor.element_type)
    if key not in _DTYPES:
        raise UnsupportedError(f"the CPU target does not support element type {key}")
    return TensorSpec(tuple(tensor.shape), np.dtype(_DTYPES[key]))


def public_functions(module: ir.Module) -> list[func.FuncOp]:
    return [op for op in module.body.operations if isinstance(op, func.FuncOp)
            and not op.is_external and "sym_visibility" not in op.attributes]


def signatures(module: ir.Module) -> dict[str, Signature]:
    """The tensor signature of each public function (before lowering)."""
    result = {}
    for f in public_functions(module):
        ftype = ir.FunctionType(f.function_type.value)
        result[f.sym_name.value] = Signature(
            f.sym_name.value, tuple(_spec(t) for t in ftype.inputs),
            tuple(_spec(t) for t in ftype.results))
    return result


def _strip_train_attributes(module: ir.Module) -> None:
    """Drops the train dialect's discardable attributes (roles, names, plans): the LLVM
    translation does not know them."""
    _drop_train(module.operation.attributes)
    for f in module.body.operations:
        if isinstance(f, func.FuncOp):
            for key in ("arg_attrs", "res_attrs"):
                if key in f.attributes:
                    del f.attributes[key]
            for op in _walk(f.operation):
                _drop_train(op.attributes)


def _drop_train(attributes) -> None:
    names = [a if isinstance(a, str) else a.name for a in attributes]
    for name in names:
        if name.startswith("train."):
            del attributes[name]


def _walk(op):
    for region in op.regions:
        for block in region.blocks:
            for nested in block.operations:
                yield nested.operation
                yield from _walk(nested.operation)


def _run(module: ir.Module, passes: list[str], what: str) -> None:
    text = "builtin.module(" + ",".join(passes) + ")"
    try:
        passmanager.PassManager.parse(text, module.context).run(module.operation)
    except ir.MLIRError as error:
        raise PassError(f"CPU lowering failed in {what}: {error}") from None


def lower_to_llvm(module: ir.Module, *, vectorize: bool = True) -> ir.Module:
    """Lowers `module` (train dialect, or linalg on tensors) to the LLVM dialect and
    returns the lowered module (`module` itself is modified, and may or may not be the
    result). Public functions take their results as trailing out-parameters."""
    from ...passes.convert_train_to_linalg import convert
    with module.context:
        _strip_train_attributes(module)      # before: walking linalg ops from Python fails
        convert(module, packed=vectorize, inline=not vectorize)
        for f in public_functions(module):
            f.attributes[_C_INTERFACE] = ir.UnitAttr.get()
        _mark_read_only(module)
    _run(module, CLEANUP, "clean-up")
    if vectorize:
        _apply_schedule(module)
    _run(module, FUSE, "fusion")
    if vectorize:
        _run(module, HOIST, "hoisting")
    _run(module, BUFFERIZE, "bufferization")
    module = _copies_to_linalg(module)
    _mark_no_alias(module)
    _run(module, LOOPS, "lowering to loops")
    _annotate_loops(module)
    _run(module, LLVM, "LLVM conversion")
    _forward_loop_annotations(module)
    return module


_NO_UNROLL = "#llvm.loop_annotation<unroll = <disable = true>>"


def _annotate_loops(module: ir.Module) -> None:
    """Every scf.for gets `llvm.loop.unroll.disable`: with static trip counts LLVM fully
    unrolls the small loops of a nest into huge blocks, which compile for seconds (the
    instruction schedulers are quadratic in a block's size) and run no faster; the
    loops' bodies are already vectorized by MLIR or by LLVM's loop vectorizer."""
    attr = ir.Attribute.parse(_NO_UNROLL, module.context)

    def visit(op):
        if op.name == "scf.for":
            op.attributes["llvm.loop_annotation"] = attr
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)


def _forward_loop_annotations(module: ir.Module) -> None:
    """scf-to-cf puts the annotation on the loop's back edge as a discardable
    `llvm.loop_annotation`; cf-to-llvm keeps it under that name, but the LLVM IR
    translation reads the branch's own `loop_annotation`."""
    def visit(op):
        if "llvm.loop_annotation" in op.attributes:
            op.attributes["loop_annotation"] = op.attributes["llvm.loop_annotation"]
            del op.attributes["llvm.loop_annotation"]
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)


_COPY = re.compile(r"^(\s*)memref\.copy (%[\w.$-]+), (%[\w.$-]+) : (.+?) to (.+)$",
                   re.MULTILINE)


def _copies_to_linalg(module: ir.Module) -> ir.Module:
    """memref.copy → linalg.copy, which becomes loops: a strided memref.copy would call
    `memrefCopy` of MLIR's C runner library, which the JIT does not load (it links a
    second copy of MLIR). A text rewrite: the Python bindings cannot build linalg ops."""
    text = str(module.operation)
    if "memref.copy" not in text:
        return module
    text = _COPY.sub(r"\1linalg.copy ins(\2 : \4) outs(\3 : \5)", text)
    return ir.Module.parse(text, context=module.context)


def _functions(module: ir.Module) -> list:
    return [op for op in module.body.operations if isinstance(op, func.FuncOp)
            and not op.is_external]


def _mark_read_only(module: ir.Module) -> None:
    """No function writes its arguments (`bufferization.writable = false`): a call
    never modifies the caller's arrays, and every result is a buffer of its own."""
    attr = ir.Attribute.parse("{bufferization.writable = false}")
    for f in _functions(module):
        count = len(f.entry_block.arguments)
        if count:
            f.attributes["arg_attrs"] = ir.ArrayAttr.get([attr] * count)


def _mark_no_alias(module: ir.Module) -> None:
    """After bufferization, every function's memref arguments are `llvm.noalias`: the
    inputs are only read, and each output (an out-parameter) is a buffer the caller
    allocated for it alone. LLVM then needs no run-time overlap checks around its
    vectorized loops (less code, much faster compilation)."""
    with module.context:
        attr = ir.Attribute.parse("{llvm.noalias}")
        for f in _functions(module):
            count = len(f.entry_block.arguments)
            if count:
                f.attributes["arg_attrs"] = ir.ArrayAttr.get([attr] * count)


# ---------------------------------------------------------------------------------------
# JIT
# ---------------------------------------------------------------------------------------

def _descriptor_type(rank: int):
    """A memref descriptor struct (pointers as void*, so setting them is cheap)."""
    fields = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
              ("offset", ctypes.c_int64)]
    if rank:
        fields += [("shape", ctypes.c_int64 * rank), ("strides", ctypes.c_int64 * rank)]
    return type(f"MemRef{rank}D", (ctypes.Structure,), {"_fields_": fields})


class _Slot:
    """One memref argument of a compiled function: its descriptor, reused per call."""

    def __init__(self, spec: TensorSpec):
        self.spec = spec
        self.descriptor = _descriptor_type(len(spec.shape))()
        strides = np.cumprod((1,) + spec.shape[:0:-1])[::-1] if spec.shape else ()
        for i, (size, stride) in enumerate(zip(spec.shape, strides)):
            self.descriptor.shape[i] = size
            self.descriptor.strides[i] = int(stride)
        self.pointer = ctypes.pointer(self.descriptor)       # what the callee reads
        self.address = ctypes.addressof(self.pointer)         # packed argument: T**

    def bind(self, array: np.ndarray) -> None:
        data = array.ctypes.data
        self.descriptor.allocated = data
        self.descriptor.aligned = data


class CompiledFunction:
    """A public function of a compiled module, callable on numpy arrays."""

    def __init__(self, engine, signature: Signature):
        self.signature = signature
        address = engine.raw_lookup("_mlir_ciface_" + signature.name)
        if not address:
            raise PassError(f"the JIT has no function @{signature.name}")
        self._function = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        self._inputs = [_Slot(s) for s in signature.inputs]
        self._outputs = [_Slot(s) for s in signature.outputs]
        slots = self._inputs + self._outputs
        self._packed = (ctypes.c_void_p * len(slots))(*[s.address for s in slots])

    def __call__(self, *arrays) -> list[np.ndarray]:
        inputs = self.signature.inputs
        if len(arrays) != len(inputs):
            raise UnsupportedError(f"@{self.signature.name} takes {len(inputs)} arguments, "
                                   f"got {len(arrays)}")
        keep = []
        for index, (slot, array) in enumerate(zip(self._inputs, arrays)):
            array = np.ascontiguousarray(array, dtype=slot.spec.dtype)
            if array.shape != slot.spec.shape:
                from ..errors import InputError
                raise InputError(f"argument #{index} of @{self.signature.name} expects "
                                 f"shape {list(slot.spec.shape)}, got {list(array.shape)}")
            slot.bind(array)
            keep.append(array)
        results = []
        for slot in self._outputs:
            out = np.empty(slot.spec.shape, slot.spec.dtype)
            slot.bind(out)
            results.append(out)
        self._function(self._packed)
        del keep
        return results


class CompiledModule:
    """A module compiled for this machine: `call(name, arrays)` runs one function."""

    def __init__(self, module: ir.Module, *, opt_level: int = 3, vectorize: bool = True):
        from ..._mlir.execution_engine import ExecutionEngine
        self.signatures = signatures(module)
        lowered_module = ir.Module.parse(str(module.operation), context=module.context)
        lowered_module = lower_to_llvm(lowered_module, vectorize=vectorize)
        self.llvm_module = lowered_module
        self.engine = ExecutionEngine(lowered_module, opt_level=opt_level)
        self.functions = {name: CompiledFunction(self.engine, sig)
                          for name, sig in self.signatures.items()}

    def call(self, function_name: str, arrays) -> list[np.ndarray]:
        function = self.functions.get(function_name)
        if function is None:
            raise UnsupportedError(f"no public function @{function_name} in the compiled "
                                   f"module (functions: {', '.join(sorted(self.functions))})")
        return function(*arrays)

    def __getitem__(self, name: str) -> CompiledFunction:
        return self.functions[name]


def jit(module: ir.Module, opt_level: int = 3, *, vectorize: bool = True) -> CompiledModule:
    """Compiles `module` (not modified) for the host; see CompiledModule."""
    return CompiledModule(module, opt_level=opt_level, vectorize=vectorize)
