"""Lifetimes and sizes of the values of a function, in program order.

The memory model of a training step, shared by --train-reorder (which orders the ops
to lower the peak) and --plan-memory (which places the storage in one arena):

- *Positions* are the indices of the ops of the function's entry block (the return
  is the last one). A value lives on the half-open interval [lower, upper): an op
  result from its op, an argument from position 0, to one past its last reader (an op
  reads its operands while it writes its results: they overlap; a read of a value
  read through this one counts, see below). A returned value lives to the end
  (upper = the number of ops); an unread result only during its op.
- *Sizes* come from element types: f32 and i32 4 bytes, i8 and int8 quantized types
  1 byte (`type_bytes`). A partial-channel parameter (`train.channels = k`), its
  momentum buffer and their returned updates count only their trained slice (the
  first k channels along the scheme's axis); a slice of their untrained channels is
  part of the frozen parameter.
- *The arena* holds data inputs, labels, trainable parameters, momentum buffers and
  intermediates. Not in it (`in_arena` false, offset -1 in a plan):
  - frozen parameters (flash on a microcontroller);
  - `fold_constants`: values computed from frozen parameters alone: compile-time
    constants, folded into read-only data by a code generator;
  - `fuse_dequantize`: a `quant.dcast` of a parameter ("parameters", the default) or
    of any int8 value ("all"): the op that reads the f32 value dequantizes the int8
    source as it reads it, so no f32 copy exists (`Lifetime.through` names the
    source, whose storage stays live while the cast's result is read);
  - `fuse_padding`: the zero padding (`train.pad_to` at offset 0) of a partial
    gradient that only optimizer ops read, as their gradient: the update reads the
    unpadded gradient and leaves the other channels (zero gradient, no weight decay)
    as they are.
  - always: the result of a `train.qbottleneck` marked `train.streamed`
    (--train-fuse-bottleneck): its reader computes its rows as it reads them, so it
    is read through the streamed op's input, whose storage stays live until then.
- *Sharing storage* (`Lifetime.buffer` is one object for all the values sharing it):
  a reshape always shares its operand's bytes; with `inplace`, a result of an
  optimizer op (the parameter / momentum buffer it updates) or of an element-wise op
  takes over the storage of an operand of its byte size that nothing reads after
  the op (`Lifetime.reuses`); so does an op marked `train.in_place`
  (--train-mark-inplace: its C kernel may overwrite operand 0). Trainable parameters and momentum buffers are
  *persistent*: their storage is live for the whole function (it holds the state
  between calls) and only their own update may write to it.

- *Scratch*: an op that needs working memory while it runs (`scratch_bytes`: the
  ring of expanded rows of a fused `train.qbottleneck`, and those of the bottlenecks
  streamed into it with one output row each; the f32 channels a `train.conv2d_qsgd`
  of an int8 x dequantizes at a time) holds that many arena bytes on [its position,
  its position + 1), as a temporary of its own.

`live_bytes(function)[t]` is the number of arena bytes live at position t; its
maximum (`lower_bound`) is the liveness lower bound of the schedule: no placement in
one arena can use less.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..dialects import train
from .analysis import element_bytes
from .memory_plan import Buffer

UPDATES = {"train.sgd": {0: (0,)}, "train.qsgd": {0: (0,)}, "train.conv2d_qsgd": {0: (0,)},
           "train.bottleneck_grad": {3: (6,)},
           "train.sgd_momentum": {0: (0,), 1: (2,)}}
"""Optimizer ops: result index -> the operand (parameter, momentum buffer) it updates,
whose storage it may take over."""

ELEMENTWISE = frozenset((
    "train.add", "train.mul", "train.relu", "train.clamp", "train.sigmoid",
    "train.hardswish", "train.gelu", "train.relu_grad", "train.clamp_grad",
    "train.sigmoid_grad", "train.hardswish_grad", "train.gelu_grad", "train.qadd",
    "train.mask_grad",
    "arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.negf"))
"""Ops whose result element i is computed from their operands' elements i only: the
result may overwrite an operand of its shape and size while it is computed."""

VIEWS = frozenset(("train.reshape",))
"""Ops whose result is their operand's bytes reinterpreted: always the same storage."""

DEQUANTIZE = frozenset(("quant.dcast",))
"""int8 -> f32 casts that the reading op can fuse (`fuse_dequantize`)."""

GRAD_WEIGHT_TILE = 4
"""Input channels of a pointwise weight-gradient block (TCC_GRAD_WEIGHT_TILE)."""

BOTTLENECK_GRAD_CHANNELS = 4
"""Expanded channels a train.bottleneck_grad kernel computes at a time
(TCC_BOTTLENECK_GRAD_CHANNELS; kBottleneckGradChannels of the verifier)."""


def scratch_bytes(op) -> int:
    """Arena bytes `op` needs as a temporary while it runs (0 for most ops)."""
    if op.name == "train.qbottleneck":
        return train.chain_scratch_bytes(op)
    if op.name == "train.conv2d_qsgd" and dequantizes_input(op):
        # the f32 x channels one block of weight-gradient sums reads
        n, c, h, w = train.shape_of(op.operands[2])
        pointwise = train.ConvGeometry.of(op).pointwise(train.shape_of(op.operands[0])[2:])
        return 4 * n * h * w * (min(GRAD_WEIGHT_TILE, c) if pointwise else 1)
    if op.name == "train.bottleneck_grad":
        # a group of channels of g2 and of g1 (N planes each) and, with an update, the
        # x channels of one block of weight-gradient sums, dequantized
        n, _, ho, wo = train.shape_of(op.operands[0])
        h, w = train.shape_of(op.results[0])[2:]
        group = min(BOTTLENECK_GRAD_CHANNELS, train.shape_of(op.operands[4])[0])
        update = 4 * n * h * w * min(GRAD_WEIGHT_TILE, train.shape_of(op.operands[7])[1]) \
            if len(op.results) == 4 else 0
        return 4 * n * group * (ho * wo + h * w) + update
    return 0


def dequantizes_input(op) -> bool:
    """A train.conv2d_qsgd of a float dy that reads its input x as int8 (a block of
    it dequantized at a time)."""
    x, dy = (ir.RankedTensorType(op.operands[i].type).element_type for i in (2, 1))
    return isinstance(x, quant.QuantizedType) and not isinstance(dy, quant.QuantizedType)


MODEL_OPTIONS = {"inplace": True, "fold_constants": True, "fuse_dequantize": "parameters",
                 "fuse_padding": True}
"""The options of the memory model and their defaults (what --plan-memory uses)."""


@dataclass(eq=False)
class Lifetime:
    """One value of a function.

    `lower`/`upper`: the value's own interval; `buffer`: its storage (shared with the
    values it shares bytes with, spanning all their lifetimes; for a value not in the
    arena, its own interval). `size`: the value's bytes, in the arena or not.
    `position`: its op, -1 for an argument. `reuses`: the operand whose storage a
    result takes over. `through`: for a value with no storage of its own, the value
    whose storage it is read through (a fused dequantization or padding).
    """

    value: ir.Value
    buffer: Buffer
    in_arena: bool
    size: int
    lower: int
    upper: int
    position: int
    reuses: ir.Value | None = None
    through: ir.Value | None = None
    name: str = ""


# ---------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------

def type_bytes(value_type: ir.Type) -> int:
    """Bytes of a value of this type (a ranked tensor, or a scalar)."""
    if isinstance(value_type, ir.RankedTensorType):
        count = 1
        for d in value_type.shape:
            count *= d
        return count * element_bytes(value_type.element_type)
    try:
        return element_bytes(value_type)
    except Exception:       # index, none, ...: nothing to store
        return 0


def _trained_slice(function: func.FuncOp, index: int) -> tuple[int, int, int] | None:
    """(axis, k, channels) of a partial-channel parameter or of its momentum buffer."""
    from .schemes import arg_channels, channel_axis, weight_consumer
    param = train.momentum_of(function, index)
    param = index if param is None else param
    if train.arg_role(function, param) != "trainable":
        return None
    k = arg_channels(function, param)
    consumer = weight_consumer(function, param) if k is not None else None
    if consumer is None:
        return None
    axis, total = channel_axis(consumer)
    return (axis, k, total) if 0 < k < total else None


def _frozen_rest(op, parts: dict, index: dict) -> bool:
    """A slice of a partial-channel parameter (or momentum buffer) within its untrained
    channels: part of the frozen parameter."""
    if op.name != "train.slice" or not isinstance(op.operands[0], ir.BlockArgument):
        return False
    part = parts.get(index[op.operands[0]])
    if part is None:
        return False
    axis, k, _ = part
    return list(ir.DenseI64ArrayAttr(op.attributes["offsets"]))[axis] >= k


def _padded_gradient(op) -> bool:
    """A zero padding of a partial gradient that optimizer ops alone read, as their
    gradient."""
    if op.name != "train.pad_to" or any(ir.DenseI64ArrayAttr(op.attributes["offsets"])):
        return False
    uses = list(op.results[0].uses)
    return bool(uses) and all(use.owner.name in UPDATES and use.operand_number == 1
                              for use in uses)


def _op_name(op) -> str:
    text = str(op.location)
    if text.startswith('loc("') and text.endswith('")'):
        return f"{op.name} at {text[5:-2]}"
    return op.name


# ---------------------------------------------------------------------------------------
# The program: a function's values and ops as integers
# ---------------------------------------------------------------------------------------

@dataclass
class Program:
    """Values 0..num_args-1 are the arguments, the others op results, numbered in
    program order. `sizes[v]` bytes; `arena[v]` whether v has storage in the arena.
    `ops[i]` = (operands, results) of the i-th op (the return excluded), `returned`
    what the return reads. `inplace[i]`: result index -> operand indices whose storage
    it may take over. `views`: value -> the value it is read through (no storage of
    its own). `shares`: ops whose result always shares operand 0's storage.
    `persistent`: arguments whose storage lives through the whole function and that
    only their update may overwrite. `scratch`: op index -> arena bytes it needs as
    a temporary while it runs."""

    sizes: list[int]
    arena: list[bool]
    num_args: int
    ops: list[tuple[tuple[int, ...], tuple[int, ...]]]
    names: list[str]
    returned: tuple[int, ...]
    inplace: list[dict[int, tuple[int, ...]]] = field(default_factory=list)
    views: dict[int, int] = field(default_factory=dict)
    shares: frozenset = frozenset()
    persistent: frozenset = frozenset()
    updates: frozenset = frozenset()
    scratch: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def of(function: func.FuncOp, **options) -> tuple["Program", list[ir.Value], list]:
        """The program of `function` under the memory model `options` (see
        MODEL_OPTIONS); also its IR values (by number) and ops (by index)."""
        unknown = set(options) - set(MODEL_OPTIONS)
        if unknown:
            raise TypeError(f"unknown memory model option(s): {', '.join(sorted(unknown))}")
        o = {**MODEL_OPTIONS, **options}
        block = function.entry_block
        values: list[ir.Value] = list(block.arguments)
        index = {v: i for i, v in enumerate(values)}
        sizes, arena, constant, parts = [], [], [], {}
        persistent, parameters = set(), set()
        for i, arg in enumerate(block.arguments):
            role = train.arg_role(function, i)
            momentum = train.momentum_of(function, i) is not None
            part = _trained_slice(function, i) if role == "trainable" or momentum else None
            if part is not None:
                parts[i] = part
            size = type_bytes(arg.type)
            sizes.append(size if part is None else size // part[2] * part[1])
            arena.append(role != "frozen")
            constant.append(role == "frozen")
            if role == "trainable" or momentum:
                persistent.add(i)
            if role is not None:
                parameters.add(i)
        names = [train.arg_name(function, i) for i in range(len(values))]
        ops, ir_ops, table, views, shares, updates = [], [], [], {}, set(), set()
        scratch = {}
        returned: tuple[int, ...] = ()
        for op in block.operations:
            operands = tuple(index[v] for v in op.operands)
            if isinstance(op, func.ReturnOp) or op.name == "func.return":
                returned = operands
                continue
            is_constant = o["fold_constants"] and all(constant[v] for v in operands) \
                or _frozen_rest(op, parts, index)
            source = _read_through(op, operands, arena, parameters, o)
            for r in op.results:
                index[r] = len(values)
                if source is not None:
                    views[len(values)] = views.get(source, source)
                values.append(r)
                sizes.append(type_bytes(r.type))
                arena.append(not is_constant and source is None)
                constant.append(is_constant)
                names.append(_op_name(op))
            results = tuple(index[r] for r in op.results)
            if op.name in VIEWS and len(operands) == 1 and len(results) == 1 and \
                    arena[operands[0]] and arena[results[0]] and \
                    sizes[operands[0]] == sizes[results[0]]:
                shares.add(len(ops))
            if op.name in UPDATES:
                updates.add(len(ops))
            if scratch_bytes(op):
                scratch[len(ops)] = scratch_bytes(op)
            ops.append((operands, results))
            ir_ops.append(op)
            table.append(_inplace_candidates(op, sizes, operands, results)
                         if o["inplace"] else {})
        # the update of a partial-channel parameter holds its trained slice only
        for position, v in enumerate(returned):
            target = train.updated_arg(function, position)
            if target in parts and v >= len(block.arguments):
                sizes[v] = sizes[target]
        program = Program(sizes, arena, len(block.arguments), ops, names, returned, table,
                          views, frozenset(shares), frozenset(persistent),
                          frozenset(updates), scratch)
        return program, values, ir_ops


def _read_through(op, operands, arena, parameters, o) -> int | None:
    """The value an op's result is read through (no storage of its own), if any."""
    if op.name in DEQUANTIZE and len(operands) == 1 and (
            o["fuse_dequantize"] == "all" or
            o["fuse_dequantize"] == "parameters" and operands[0] in parameters):
        return operands[0]
    if o["fuse_padding"] and _padded_gradient(op) and arena[operands[0]]:
        return operands[0]
    if op.name == "train.qbottleneck" and train.STREAMED in op.attributes:
        return operands[0]          # computed row by row inside its reader
    return None


def _inplace_candidates(op, sizes, operands, results) -> dict[int, tuple[int, ...]]:
    if train.IN_PLACE in op.attributes and len(results) == 1 and \
            sizes[operands[0]] == sizes[results[0]]:
        return {0: (0,)}                # a kernel that may overwrite operand 0 (C target)
    if op.name in UPDATES:
        return {r: tuple(k for k in candidates if k < len(operands))
                for r, candidates in UPDATES[op.name].items() if r < len(results)}
    if op.name in ELEMENTWISE and len(results) == 1 and \
            isinstance(op.results[0].type, ir.RankedTensorType):
        shape = train.shape_of(op.results[0])
        candidates = tuple(k for k, v in enumerate(op.operands)
                           if isinstance(v.type, ir.RankedTensorType)
                           and train.shape_of(v) == shape
                           and sizes[operands[k]] == sizes[results[0]])
        return {0: candidates} if candidates else {}
    return {}


# ---------------------------------------------------------------------------------------
# Liveness of one order of the ops
# ---------------------------------------------------------------------------------------

@dataclass
class Liveness:
    """Lifetimes of a program's values for one order of its ops (positions are indices
    in the order; the return is at len(order)). `lower[v]`/`upper[v]`: v's interval
    (reads through the values read through v included);
    `owner[v]`: the value owning v's storage (v itself unless it shares);
    `group_lower/upper[g]`: the storage of owner g; `live[t]`: arena bytes live at t."""

    lower: list[int]
    upper: list[int]
    owner: list[int]
    group_lower: dict[int, int]
    group_upper: dict[int, int]
    live: list[int]
    took: dict[int, int] = field(default_factory=dict)   # result -> operand it reuses

    @property
    def peak(self) -> int:
        return max(self.live, default=0)


def analyze(program: Program, order: list[int] | None = None) -> Liveness:
    """Liveness of `program` with its ops run in `order` (op indices; default: as
    numbered). Ops left out of `order` must neither read nor define values."""
    p = program
    ops = p.ops
    if order is None:
        order = range(len(ops))
    end = len(order)
    count = len(p.sizes)
    lower = [0] * count
    upper = [1] * count
    where = {}
    for position, i in enumerate(order):
        operands, results = ops[i]
        where[i] = position
        for r in results:
            lower[r] = position
            upper[r] = position + 1
        after = position + 1
        for v in operands:
            upper[v] = after
    for v in p.returned:
        upper[v] = end + 1
    # a value read through another keeps the other's storage live
    reads = list(upper)
    for v, source in p.views.items():
        if reads[source] < upper[v]:
            reads[source] = upper[v]
    owner = list(range(count))
    arena, sizes = p.arena, p.sizes
    group_lower = {v: lower[v] for v in range(count) if arena[v]}
    group_upper = {v: reads[v] for v in range(count) if arena[v]}   # last read so far
    took = {}
    for i in sorted(_sharing_ops(p), key=where.__getitem__):
        position = where[i]
        operands, results = ops[i]
        joins = {}
        if i in p.shares:
            joins[results[0]] = owner[operands[0]]
            took[results[0]] = operands[0]
        else:
            taken = set()
            for r, candidates in p.inplace[i].items():
                result = results[r]
                if not arena[result]:
                    continue
                for k in candidates:
                    g = owner[operands[k]]
                    if operands[k] in p.views or g in taken or not arena[g] or \
                            sizes[g] != sizes[result] or group_upper[g] != position + 1 \
                            or (g in p.persistent and i not in p.updates):
                        continue
                    taken.add(g)
                    joins[result] = g
                    took[result] = operands[k]
                    break
        for result, g in joins.items():
            owner[result] = g
            group_upper[g] = max(group_upper[g], group_upper.pop(result))
            del group_lower[result]
    for g in p.persistent:
        if g in group_upper:
            group_lower[g] = 0
            group_upper[g] = end + 1
    delta = [0] * (end + 2)
    for g, lo in group_lower.items():
        delta[lo] += sizes[g]
        delta[group_upper[g]] -= sizes[g]
    for i, bytes_ in p.scratch.items():
        if i in where:
            delta[where[i]] += bytes_
            delta[where[i] + 1] -= bytes_
    live, running = [], 0
    for t in range(end + 1):
        running += delta[t]
        live.append(running)
    return Liveness(lower, reads, owner, group_lower, group_upper, live, took)


def _sharing_ops(p: Program) -> list[int]:
    """The ops that may share storage (cached on the program)."""
    cached = p.__dict__.get("_sharing")
    if cached is None:
        cached = [i for i in range(len(p.ops))
                  if i in p.shares or (p.inplace and p.inplace[i])]
        p.__dict__["_sharing"] = cached
    return cached


# ---------------------------------------------------------------------------------------
# The API on functions
# ---------------------------------------------------------------------------------------

def lifetimes(function: func.FuncOp, **options) -> list[Lifetime]:
    """Every value of `function` (arguments first, then the results of its ops in
    program order) with its interval, size and storage. Values sharing storage share
    one Buffer object; a buffer's id is the number of the value that owns it.
    `options`: the memory model (MODEL_OPTIONS; the defaults are --plan-memory's)."""
    program, values, _ = Program.of(function, **options)
    live = analyze(program)
    buffers = {g: Buffer(g, lo, live.group_upper[g], program.sizes[g])
               for g, lo in live.group_lower.items()}
    out = []
    for v, value in enumerate(values):
        g = live.owner[v]
        buffer = buffers[g] if program.arena[v] else \
            Buffer(v, live.lower[v], live.upper[v], program.sizes[v])
        through = program.views.get(v)
        reused = live.took.get(v)
        out.append(Lifetime(value, buffer, program.arena[v], program.sizes[v],
                            live.lower[v], live.upper[v],
                            -1 if v < program.num_args else live.lower[v],
                            values[reused] if reused is not None else None,
                            values[through] if through is not None else None,
                            program.names[v]))
    return out


def scratch_buffers(function: func.FuncOp) -> list[tuple[object, Buffer]]:
    """(op, its scratch Buffer) of every op of `function` that needs scratch, with the
    op's position as the lifetime; ids are positions (distinct from value ids only
    together with the op)."""
    out = []
    for position, op in enumerate(function.entry_block.operations):
        size = scratch_bytes(op)
        if size:
            out.append((op, Buffer(position, position, position + 1, size)))
    return out


def arena_buffers(function: func.FuncOp, **options) -> list[Buffer]:
    """The distinct arena buffers of `function` (what a planner places)."""
    seen, out = set(), []
    for lifetime in lifetimes(function, **options):
        if lifetime.in_arena and id(lifetime.buffer) not in seen:
            seen.add(id(lifetime.buffer))
            out.append(lifetime.buffer)
    return out + [Buffer(("scratch", b.id), b.lower, b.upper, b.size)
                  for _, b in scratch_buffers(function)]


def live_bytes(function: func.FuncOp, **options) -> list[int]:
    """Arena bytes live at each op position of `function` (the return last)."""
    program, _, _ = Program.of(function, **options)
    return analyze(program).live


def lower_bound(function: func.FuncOp, **options) -> int:
    """The liveness lower bound of `function` as ordered: the most arena bytes live
    at one position."""
    return max(live_bytes(function, **options), default=0)


def any_order_bound(function: func.FuncOp, **options) -> int:
    """A lower bound of the peak under every order of the ops: the persistent storage
    (trainable parameters, momentum buffers) plus, at the op that needs the most, its
    own arena operands, results and scratch, which coexist while it runs (a result
    that may take over an operand's storage, or shares it, counted once)."""
    program, _, _ = Program.of(function, **options)
    persistent = sum(program.sizes[v] for v in program.persistent if program.arena[v])
    most = 0
    for i, (operands, results) in enumerate(program.ops):
        shared = set(results) if i in program.shares else set()
        if program.inplace:
            shared |= {results[r] for r, sources in program.inplace[i].items() if sources}
        values = {program.views.get(v, v) for v in operands + results if v not in shared}
        need = sum(program.sizes[v] for v in values
                   if program.arena[v] and v not in program.persistent)
        most = max(most, need + program.scratch.get(i, 0))
    return persistent + most


def argument_bytes(function: func.FuncOp, **options) -> int:
    """The arena bytes of the arguments (data inputs, labels, trainable parameters,
    momentum buffers): all live when the function starts, so no order of its ops and no
    rewrite that keeps them whole in the arena needs less."""
    program, _, _ = Program.of(function, **options)
    return sum(program.sizes[v] for v in range(program.num_args) if program.arena[v])


def live_at(function: func.FuncOp, position: int, **options) -> list[Lifetime]:
    """The arena storage live at `position`, one Lifetime per buffer (its owner's),
    largest first."""
    seen, out = set(), []
    for lifetime in lifetimes(function, **options):
        b = lifetime.buffer
        if lifetime.in_arena and b.lower <= position < b.upper and id(b) not in seen:
            seen.add(id(b))
            out.append(lifetime)
    return sorted(out, key=lambda l: (-l.buffer.size, l.buffer.lower))
