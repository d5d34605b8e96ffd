"""--plan-memory: places a function's tensors in one static arena, as IR attributes.

After `--train-reorder` has fixed the order of the ops, this pass computes every
value's lifetime (`compiler/liveness.py`), lets values share storage where that is
legal, packs the storage in one arena (`compiler/memory_plan.plan`: the better of
fast heuristics and an exact search under `time-limit` seconds) and writes the plan
that every code generator then uses as is:

- module: `train.arena_size = N : i64` (the largest arena any planned function needs)
  and `train.arena_alignment = A : i64` (every offset is a multiple of A);
- each function argument in the arena: `train.offset = N : i64`;
- each op with results: `train.offsets = array<i64: ...>`, one byte offset per result,
  -1 for a result with no storage (a value computed from frozen parameters alone,
  which a code generator folds into read-only data);
- each op that needs working memory while it runs (compiler/liveness.scratch_bytes:
  a fused `train.qbottleneck`'s ring of rows, the f32 channels a `train.conv2d_qsgd`
  dequantizes from its int8 input): `train.scratch_offset = N : i64`, the start of its
  scratch, live only during the op.

What is in the arena: data inputs, labels, trainable parameters, momentum buffers and
every intermediate tensor. Frozen parameters are not (flash on a microcontroller). A
partial-channel parameter (`train.channels = k`) keeps only its trained slice (its
first k channels along the scheme's axis, stored contiguously) in the arena; its
`train.offset` is that slice's and its frozen remainder stays with the frozen
parameters.

Sharing storage. A result takes over an operand's storage (gets the same offset) when:
- the op is a view (`train.reshape`): the same bytes, always;
- the op is an optimizer update (sgd, qsgd, sgd_momentum: the parameter and the
  momentum buffer) and nothing reads the operand's storage after it: the update is
  in place, as `--train-reorder` arranges;
- the op is element-wise, the operand has the result's shape and byte size and
  nothing reads its storage afterwards (option `inplace-elementwise`, on by default).
A trainable parameter or momentum buffer is never overwritten by anything but its own
update.

Persistent state. Trainable parameters and momentum buffers outlive a call: their
storage is reserved for the whole function, and they sit at the bottom of the arena
at the same offsets in every function of the module (the layout follows the order in
which the module's functions first name them, by `train.name`), so that `@forward`
and `@train_step` share them. An update that could not be done in place is copied
back to its parameter's storage when the function returns.

Before writing, the plan is checked: no two values live at the same time overlap in
the arena, and every offset is aligned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler import liveness, memory_plan
from ..compiler.errors import IRError, PassError, format_location
from ..compiler.source import find_function
from ..dialects import train

ARENA_SIZE = "train.arena_size"
ARENA_ALIGNMENT = "train.arena_alignment"
OFFSET = "train.offset"
OFFSETS = "train.offsets"
SCRATCH_OFFSET = "train.scratch_offset"


@dataclass
class PlanMemory:
    """Options: function (train_step; @forward for inference), alignment (bytes, a
    power of two), time-limit (seconds for the whole pass), inplace-elementwise."""

    function: str = "train_step"
    alignment: int = 16
    time_limit: float = 2.0
    inplace_elementwise: bool = True

    def run(self, module: ir.Module) -> None:
        if self.alignment < 1 or self.alignment & (self.alignment - 1):
            raise PassError(f"alignment must be a power of two, got {self.alignment}")
        if self.time_limit < 0:
            raise PassError(f"time-limit must not be negative, got {self.time_limit}")
        function = find_function(module, self.function)
        result = plan_function(module, function, alignment=self.alignment,
                               time_limit=self.time_limit,
                               inplace_elementwise=self.inplace_elementwise)
        write_plan(module, result)


# ---------------------------------------------------------------------------------------
# The plan of one function
# ---------------------------------------------------------------------------------------

@dataclass(eq=False)
class Storage:
    """Bytes in the arena shared by one or more values (a value and its in-place
    successors and views), live on [lower, upper)."""

    id: int
    values: list[int]                 # indices into FunctionPlan.lifetimes
    lower: int
    upper: int
    size: int
    persistent: str | None = None     # the layout key of a parameter / momentum buffer
    offset: int = -1


@dataclass
class FunctionPlan:
    """Offsets of one function's values, before they are written to the IR."""

    function: func.FuncOp
    lifetimes: list                   # liveness.Lifetime, arguments first
    storage: list[Storage | None]     # per value: its storage, None if not in the arena
    storages: list[Storage]
    persistent_bytes: int             # the module's parameters and momentum buffers
    peak: int                         # bytes this function needs
    lower_bound: int                  # liveness lower bound of this function
    method: str
    optimal: bool
    seconds: float
    alignment: int
    details: dict = field(default_factory=dict)
    scratch: dict = field(default_factory=dict)   # op position -> its scratch Storage

    def offset(self, index: int) -> int:
        storage = self.storage[index]
        return storage.offset if storage is not None else -1


def is_persistent(function: func.FuncOp, index: int) -> bool:
    """Whether argument `index` outlives a call: a trainable parameter or a momentum
    buffer."""
    return train.arg_role(function, index) == "trainable" or \
        train.momentum_of(function, index) is not None


def persistent_key(function: func.FuncOp, index: int) -> str:
    """The name under which a parameter is shared between the module's functions: its
    `train.name`, else `arg<index>` (@train_step's parameters are @forward's arguments,
    at the same positions)."""
    return train.arg_name(function, index)


def plan_function(module: ir.Module, function: func.FuncOp, *, alignment: int = 16,
                  time_limit: float = 2.0, inplace_elementwise: bool = True) -> FunctionPlan:
    """Plans `function` (its ops in their current order); writes nothing."""
    start = time.perf_counter()
    lives = liveness.lifetimes(function)
    storage, storages = _share_storage(function, lives, inplace_elementwise)
    scratch = {}
    for _, b in liveness.scratch_buffers(function):
        scratch[b.id] = Storage(len(storages), [], b.lower, b.upper, b.size)
        storages.append(scratch[b.id])
    layout, persistent_bytes = persistent_layout(module, function, lives, storage, alignment)

    transient = [memory_plan.Buffer(s.id, s.lower, s.upper, s.size)
                 for s in storages if s.persistent is None]
    # The search's node budget is the whole limit's (the same plan however long the
    # analysis above took); what is left of the time only caps it.
    budget = max(time_limit - (time.perf_counter() - start), 0.0)
    plan = memory_plan.plan(transient, time_limit=budget, alignment=alignment,
                            search_nodes=int(time_limit * memory_plan.NODES_PER_SECOND))
    base = _align(persistent_bytes, alignment)
    for s in storages:
        s.offset = layout[s.persistent] if s.persistent is not None else \
            base + plan.offsets[s.id]
    everything = [memory_plan.Buffer(s.id, s.lower, s.upper, s.size) for s in storages]
    try:
        memory_plan.check_plan(everything, {s.id: s.offset for s in storages},
                               alignment=alignment)
    except ValueError as error:
        raise PassError(f"the memory plan of @{function.sym_name.value} is invalid: "
                        f"{error}") from None
    transient_peak = base + plan.peak if transient and plan.peak else 0
    peak = _align(max(persistent_bytes, transient_peak), alignment)
    return FunctionPlan(function, lives, storage, storages, persistent_bytes, peak,
                        memory_plan.liveness_lower_bound(everything), plan.method,
                        plan.optimal, time.perf_counter() - start, alignment,
                        dict(plan.details), scratch)


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _share_storage(function, lives, inplace_elementwise: bool):
    """Groups values into storages: views, and the in-place reuses that liveness
    proposes once checked here (the operand's storage is read by nothing after the
    op; a parameter or momentum buffer only by its own update)."""
    number = {l.value: i for i, l in enumerate(lives)}
    count = len(lives)
    parent = list(range(count))
    last_read = [l.upper for l in lives]      # per root: one past the last read
    persistent = [None] * count               # per root: layout key
    for i, arg in enumerate(function.entry_block.arguments):
        if lives[i].in_arena and is_persistent(function, i):
            persistent[i] = persistent_key(function, i)

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    taken: dict[int, int] = {}                # root -> the op position that took it
    for i, life in enumerate(lives):
        if life.position < 0 or not life.in_arena:
            continue
        op = life.value.owner
        name = op.name
        operands = [number[o] for o in op.operands]
        result_number = ir.OpResult(life.value).result_number
        if name in liveness.VIEWS:
            u = operands[0] if operands else None
            legal = u is not None and lives[u].in_arena and lives[u].size == life.size
        elif life.reuses is not None:
            slots = [k for k, o in enumerate(operands) if lives[o].buffer is life.buffer]
            if not slots:
                continue
            u = operands[slots[0]]
            g = root(u)
            updates = liveness.UPDATES.get(name, {}).get(result_number, ())
            legal = (lives[u].in_arena and lives[u].size == life.size
                     and last_read[g] <= life.position + 1
                     and taken.get(g) != life.position
                     and (slots[0] in updates if persistent[g] is not None
                          else (inplace_elementwise or name in liveness.UPDATES)))
        else:
            continue
        if legal:
            g = root(u)
            parent[i] = g
            last_read[g] = max(last_read[g], life.upper)
            taken[g] = life.position

    horizon = max((l.upper for l in lives), default=1)
    by_root: dict[int, Storage] = {}
    storage: list[Storage | None] = [None] * count
    storages: list[Storage] = []
    for i, life in enumerate(lives):
        if not life.in_arena:
            continue
        g = root(i)
        s = by_root.get(g)
        if s is None:
            s = by_root[g] = Storage(len(storages), [], life.lower, life.upper, life.size,
                                     persistent[g])
            storages.append(s)
        s.values.append(i)
        s.lower, s.upper = min(s.lower, life.lower), max(s.upper, life.upper)
        s.size = max(s.size, life.size)
        storage[i] = s
    for s in storages:
        if s.persistent is not None:
            s.lower, s.upper = 0, horizon
    return storage, storages


def persistent_layout(module: ir.Module, function: func.FuncOp, lives, storage,
                      alignment: int) -> tuple[dict[str, int], int]:
    """Offsets of the module's parameters and momentum buffers, at the bottom of the
    arena in the order the module's functions first name them; and their bytes."""
    planned = function.sym_name.value
    sizes: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for other in module.body.operations:
        if not isinstance(other, func.FuncOp) or not len(other.regions[0].blocks):
            continue
        args = range(len(other.entry_block.arguments))
        keys = [(i, persistent_key(other, i)) for i in args if is_persistent(other, i)]
        if not keys:
            continue
        if other.sym_name.value == planned:
            size_of = {i: storage[i].size for i, _ in keys if storage[i] is not None}
        else:
            other_lives = liveness.lifetimes(other)
            size_of = {i: other_lives[i].size for i, _ in keys if other_lives[i].in_arena}
        for i, key in keys:
            if i not in size_of:
                continue
            if key in seen and seen[key] != size_of[i]:
                raise PassError(f"parameter '{key}' has {seen[key]} bytes in one function "
                                f"and {size_of[i]} in @{other.sym_name.value}",
                                format_location(other.location))
            if key not in seen:
                seen[key] = size_of[i]
                sizes.append((key, size_of[i]))
    layout, cursor = {}, 0
    for key, size in sizes:
        layout[key] = cursor
        cursor = _align(cursor + size, alignment)
    _check_other_functions(module, planned, layout)
    return layout, cursor


def _check_other_functions(module: ir.Module, planned: str, layout: dict[str, int]) -> None:
    """A function planned before must put the shared parameters where this one does."""
    for other in module.body.operations:
        if not isinstance(other, func.FuncOp) or other.sym_name.value == planned or \
                not len(other.regions[0].blocks):
            continue
        for i in range(len(other.entry_block.arguments)):
            offset = train.arg_attribute(other, i, OFFSET)
            if offset is None or not is_persistent(other, i):
                continue
            key = persistent_key(other, i)
            if layout.get(key) != ir.IntegerAttr(offset).value:
                raise PassError(f"@{other.sym_name.value} was planned with another layout "
                                f"of the parameters ('{key}'); plan it again",
                                format_location(other.location))


# ---------------------------------------------------------------------------------------
# Writing the plan
# ---------------------------------------------------------------------------------------

def _i64(value: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), value)


def write_plan(module: ir.Module, plan: FunctionPlan) -> None:
    """Writes the plan's attributes on the function, its ops and the module."""
    function = plan.function
    with module.context:
        attributes = module.operation.attributes
        others = _other_planned_functions(module, function.sym_name.value)
        if others and ARENA_ALIGNMENT in attributes and \
                ir.IntegerAttr(attributes[ARENA_ALIGNMENT]).value != plan.alignment:
            raise PassError(f"@{others[0]} was planned with alignment "
                            f"{ir.IntegerAttr(attributes[ARENA_ALIGNMENT]).value}, not "
                            f"{plan.alignment}; plan every function with one alignment")
        arena = plan.peak
        if others and ARENA_SIZE in attributes:
            arena = max(arena, ir.IntegerAttr(attributes[ARENA_SIZE]).value)
        attributes[ARENA_SIZE] = _i64(arena)
        attributes[ARENA_ALIGNMENT] = _i64(plan.alignment)

        args = function.entry_block.arguments
        if "arg_attrs" in function.attributes:
            current = [ir.DictAttr(a) for a in ir.ArrayAttr(function.attributes["arg_attrs"])]
        else:
            current = [ir.DictAttr.get({}) for _ in args]
        updated = []
        for i, attrs in enumerate(current):
            entries = {a.name: a.attr for a in attrs}
            entries.pop(OFFSET, None)
            if plan.offset(i) >= 0:
                entries[OFFSET] = _i64(plan.offset(i))
            updated.append(ir.DictAttr.get(entries))
        function.attributes["arg_attrs"] = ir.ArrayAttr.get(updated)

        index = len(args)
        for position, op in enumerate(function.entry_block.operations):
            if position in plan.scratch:
                op.attributes[SCRATCH_OFFSET] = _i64(plan.scratch[position].offset)
            elif SCRATCH_OFFSET in op.attributes:
                del op.attributes[SCRATCH_OFFSET]
            results = len(op.results)
            if results:
                op.attributes[OFFSETS] = ir.DenseI64ArrayAttr.get(
                    [plan.offset(index + k) for k in range(results)])
                index += results


def _other_planned_functions(module: ir.Module, name: str) -> list[str]:
    names = []
    for op in module.body.operations:
        if isinstance(op, func.FuncOp) and op.sym_name.value != name and \
                len(op.regions[0].blocks) and \
                any(OFFSETS in o.attributes for o in op.entry_block.operations):
            names.append(op.sym_name.value)
    return names


def is_planned(module: ir.Module, function: func.FuncOp) -> bool:
    """Whether `function` carries a plan (every op with results has its offsets)."""
    if ARENA_SIZE not in module.operation.attributes:
        return False
    return all(OFFSETS in op.attributes for op in function.entry_block.operations
               if len(op.results))


def value_offsets(function: func.FuncOp) -> list[int]:
    """The planned offset of every value (arguments first, then op results in
    order), -1 where none; IRError if the function is not planned."""
    offsets = []
    for i in range(len(function.entry_block.arguments)):
        attr = train.arg_attribute(function, i, OFFSET)
        offsets.append(ir.IntegerAttr(attr).value if attr is not None else -1)
    for op in function.entry_block.operations:
        if not len(op.results):
            continue
        if OFFSETS not in op.attributes:
            raise IRError(f"@{function.sym_name.value} has no memory plan ('{op.name}' has "
                          "no train.offsets): run --plan-memory", format_location(op.location))
        offsets += list(ir.DenseI64ArrayAttr(op.attributes[OFFSETS]))
    return offsets
