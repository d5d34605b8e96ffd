"""--train-reorder: orders a training step's ops to lower its peak live bytes.

Runs on @train_step (option `step`) after --train-autodiff and --train-prune, before
--plan-memory. Only the order of the ops changes (they are pure), plus copies of cheap
casts (rematerialization): the results are the same. Bytes are counted with
compiler/liveness.py's model (sizes, what is in the arena, in-place reuse), so the
peak this pass lowers is the liveness lower bound the planner then meets.

1. *Rematerialization* (option `remat`): a `quant.dcast` of an arena value (an int8
   activation saved for backward) read by several ops gets one copy per reader, so
   the f32 copy lives next to each use instead of from the first to the last; the
   int8 source is kept instead (a quarter of the bytes). A copy that would run while
   an earlier one is still live is merged back into it.
2. *A memory-aware list scheduler* over the dependence DAG. Among the ready ops:
   - ops that free more bytes than they allocate run first, the smallest allocation
     first. An optimizer op frees its gradient and updates its parameter in place, so
     each parameter's update runs as soon as its gradient exists;
   - otherwise, among the ops *wanted* now (one of their readers can run once the
     ready ops have: casts, slices and constants wait next to their readers), the one
     whose short chain (the op, then the ops it enables that free at least what they
     take) ends lowest. Chains that give back what they take go first, lowest peak
     first: a weight gradient with its update frees the activation it read, so weight
     and input gradients interleave layer by layer and activations die early; then
     the others by their growth. Ties go by the original order;
   - if nothing is wanted, the first ready op in the original order.
3. *Local search* (`polish`): an op that allocates or frees a buffer live at the peak,
   with the ops only it reads, is moved to the earliest or latest place its
   dependences allow, or where the fewest bytes are live, while that lowers the peak
   (then the time-integral of live bytes).
4. *Updates next to their gradients*: an update (sgd, qsgd, sgd_momentum) with the
   ops only it reads (a zero padding of a partial gradient, slices of the parameter)
   that does not directly follow its gradient's op is moved up to it, or the gradient's
   op down to it, or the two together to where the peak stays lowest, unless every
   such move raises the peak (an update in place must wait for the reads of the old
   parameter, e.g. by an input gradient, and computing the gradient later may keep
   more alive).
5. The original order (as is, and polished) and the schedules with and without
   rematerialization are scored by (peak, integral); the best is kept, so the peak
   never grows. Everything is deterministic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler import liveness
from ..compiler.errors import PassError

UPDATE_OPS = frozenset(liveness.UPDATES) - {"train.bottleneck_grad"}
"""Ops whose result 0 updates their operand 0 (not the fused backward, whose last
result updates its operand 6)."""
REMAT_OPS = frozenset(("quant.dcast",))
"""Cheap unary ops recomputed next to each reader rather than kept alive between them."""

POLISH_BUDGET = 600
"""Schedules the local search scores at most, per candidate (about 0.5 ms each for
400 ops)."""

_NEVER = 1 << 40      # readers of a returned value: it is never freed


@dataclass
class TrainReorder:
    """Options: the step function, rematerialization of casts."""

    step: str = "train_step"
    remat: bool = True

    def run(self, module: ir.Module) -> None:
        step = next((op for op in module.body.operations if isinstance(op, func.FuncOp)
                     and op.sym_name.value == self.step), None)
        if step is None:
            raise PassError(f"no function @{self.step} to reorder (run --train-autodiff "
                            "first)", str(module.operation.location))
        reorder(step, remat=self.remat)


# ---------------------------------------------------------------------------------------
# The graph: a liveness.Program plus rematerialized copies
# ---------------------------------------------------------------------------------------

@dataclass
class _Graph:
    """A program whose ops j >= the function's op count copy op `copies[j]`; `rank[j]`
    is op j's place in the original order (a copy sits right before its reader)."""

    program: liveness.Program
    rank: list[tuple[int, int]]
    copies: dict[int, int]


def _graph(program: liveness.Program, ir_ops: list, remat: bool) -> _Graph:
    ops = list(program.ops)
    sizes, arena, names = list(program.sizes), list(program.arena), list(program.names)
    inplace = list(program.inplace)
    rank = [(i, 0) for i in range(len(ops))]
    copies = {}
    if remat:
        _, readers = _edges(program)
        for i, op in enumerate(ir_ops):
            operands, results = program.ops[i]
            if op.name not in REMAT_OPS or len(results) != 1 or not arena[results[0]] \
                    or results[0] in program.returned:
                continue
            users = sorted(readers.get(results[0], ()))
            for user in users[1:]:
                j, value = len(ops), len(sizes)
                sizes.append(sizes[results[0]])
                arena.append(True)
                names.append(names[results[0]])
                ops.append((operands, (value,)))
                inplace.append(dict(program.inplace[i]))
                rank.append((user, -1))
                copies[j] = i
                user_operands, user_results = ops[user]
                ops[user] = (tuple(value if v == results[0] else v for v in user_operands),
                             user_results)
    extended = dataclasses.replace(program, sizes=sizes, arena=arena, ops=ops, names=names,
                                   inplace=inplace)
    return _Graph(extended, rank, copies)


def _edges(program: liveness.Program) -> tuple[dict, dict]:
    """(producer op of each value, reader ops of each value)."""
    producer, readers = {}, {}
    for i, (operands, results) in enumerate(program.ops):
        for r in results:
            producer[r] = i
        for v in operands:
            readers.setdefault(v, set()).add(i)
    return producer, readers


# ---------------------------------------------------------------------------------------
# The list scheduler
# ---------------------------------------------------------------------------------------

class _State:
    """What has run, the reader ops left per storage, the bytes live now (the model of
    compiler/liveness.analyze, one op at a time)."""

    def __init__(self, program: liveness.Program):
        self.p = program
        count = len(program.sizes)
        self.readers = [[] for _ in range(count)]
        for i, (operands, _) in enumerate(program.ops):
            for v in set(operands):
                self.readers[v].append(i)
        self.returned = set(program.returned)
        # storage owner of each value: a view reads its source's; a value sharing
        # storage joins its operand's when its op runs
        self.owner = list(range(count))
        for v, source in program.views.items():
            self.owner[v] = source
        self.members: dict[int, tuple] = {}
        for v in range(count):
            g = self.owner[v]
            self.members[g] = self.members.get(g, ()) + (v,)
        self.done = [False] * len(program.ops)
        self.left = [0] * count                 # reader ops left, per storage owner
        for g in self.members:
            self.left[g] = self._count(g)
        self.available = [v < program.num_args for v in range(count)]
        self.current = sum(program.sizes[v] for v in range(program.num_args)
                           if program.arena[v])

    def _count(self, g: int) -> int:
        """Reader ops of storage g not run yet (a returned value: never done)."""
        ops = {u for v in self.members[g] for u in self.readers[v] if not self.done[u]}
        never = any(v in self.returned for v in self.members[g])
        return len(ops) + (_NEVER if never else 0)

    def copy(self) -> "_State":
        other = _State.__new__(_State)
        other.p, other.readers, other.returned = self.p, self.readers, self.returned
        other.owner, other.left = list(self.owner), list(self.left)
        other.members = dict(self.members)
        other.available, other.done = list(self.available), list(self.done)
        other.current = self.current
        return other

    def ready(self, i: int) -> bool:
        return not self.done[i] and all(self.available[v] for v in self.p.ops[i][0])

    def effect(self, i: int) -> tuple[int, int, dict]:
        """(bytes allocated, bytes freed after it, joins result -> storage owner) of
        running op i now."""
        p = self.p
        operands, results = p.ops[i]
        groups = []
        for v in operands:
            g = self.owner[v]
            if p.arena[g] and g not in groups:
                groups.append(g)
        dying = {g for g in groups if self.left[g] == 1}
        joins, taken = {}, set()
        if i in p.shares:
            joins[results[0]] = self.owner[operands[0]]
            dying.discard(self.owner[operands[0]])
        else:
            for r, candidates in p.inplace[i].items():
                result = results[r]
                if not p.arena[result]:
                    continue
                for k in candidates:
                    g = self.owner[operands[k]]
                    if operands[k] in p.views or g not in dying or g in taken or \
                            p.sizes[g] != p.sizes[result] or \
                            (g in p.persistent and i not in p.updates):
                        continue
                    taken.add(g)
                    joins[result] = g
                    break
        alloc = sum(p.sizes[r] for r in results if p.arena[r] and r not in joins)
        freed = sum(p.sizes[g] for g in dying if g not in taken and g not in p.persistent)
        # results nobody reads die right after the op
        freed += sum(p.sizes[r] for r in results if p.arena[r] and r not in joins
                     and self.left[r] == 0)
        return alloc, freed, joins

    def run(self, i: int) -> int:
        """Runs op i; returns the bytes live while it runs."""
        alloc, freed, joins = self.effect(i)
        operands, results = self.p.ops[i]
        self.done[i] = True
        for g in {self.owner[v] for v in operands}:
            self.left[g] -= 1
        for r in results:
            self.available[r] = True
        for r, g in joins.items():
            for v in self.members.pop(r, (r,)):
                self.owner[v] = g
                self.members[g] = self.members[g] + (v,)
            self.left[g] = self._count(g)
        peak = self.current + alloc
        self.current += alloc - freed
        return peak


def schedule(graph: _Graph) -> list[int]:
    """The list schedule of `graph`'s ops (op indices)."""
    p = graph.program
    state = _State(p)
    producer, _ = _edges(p)
    order: list[int] = []
    ready = {i for i in range(len(p.ops)) if state.ready(i)}
    while ready:
        choice = _pick(state, ready, graph.rank, producer)
        state.run(choice)
        order.append(choice)
        ready.discard(choice)
        for r in p.ops[choice][1]:
            for user in state.readers[r]:
                if state.ready(user):
                    ready.add(user)
    if len(order) != len(p.ops):
        raise PassError("the step's ops do not form an acyclic graph")
    return order


def _pick(state: _State, ready: set, rank: list, producer: dict) -> int:
    effects = {i: state.effect(i)[:2] for i in ready}
    freeing = [i for i in ready if effects[i][0] < effects[i][1]]
    if freeing:
        return min(freeing, key=lambda i: (effects[i][0], effects[i][0] - effects[i][1],
                                           rank[i]))
    wanted = [i for i in ready if _wanted(state, i, ready, producer)]
    if not wanted:
        return min(ready, key=lambda i: rank[i])
    best, best_key = None, None
    for i in wanted:
        peak, net = _chain(state, i)
        key = (0, peak, net, rank[i]) if net <= 0 else (1, net, peak, rank[i])
        if best_key is None or key < best_key:
            best, best_key = i, key
    return best


def _wanted(state: _State, i: int, ready: set, producer: dict) -> bool:
    """Whether a reader of op i's results can run once the ready ops have run (or
    nothing reads them: returned values)."""
    p = state.p
    any_reader = False
    for r in p.ops[i][1]:
        for user in state.readers[r]:
            any_reader = True
            if all(state.available[v] or producer.get(v) in ready
                   for v in p.ops[user][0]):
                return True
    return not any_reader


def _chain(state: _State, i: int) -> tuple[int, int]:
    """(peak, net growth) of running op i, then the ops it enables that free at least
    what they allocate."""
    trial = state.copy()
    start = trial.current
    peak = trial.run(i)
    frontier = [i]
    while frontier:
        j = frontier.pop()
        enabled = []
        for r in trial.p.ops[j][1]:
            for user in trial.readers[r]:
                if trial.ready(user):
                    alloc, freed, _ = trial.effect(user)
                    if alloc <= freed:
                        enabled.append((alloc, user))
        for _, user in sorted(enabled):
            if trial.ready(user):
                alloc, freed, _ = trial.effect(user)
                if alloc <= freed:
                    peak = max(peak, trial.run(user))
                    frontier.append(user)
    return peak, trial.current - start


def merge_copies(graph: _Graph, order: list[int]) -> tuple[_Graph, list[int]]:
    """Drops a copy that would run while an earlier copy of the same value is still
    live: its readers read that one (one buffer instead of two overlapping)."""
    if not graph.copies:
        return graph, order
    p = graph.program
    position = {op: k for k, op in enumerate(order)}
    last_use = {}
    for i, (operands, _) in enumerate(p.ops):
        for v in operands:
            last_use[v] = max(last_use.get(v, -1), position[i])
    family = {i: graph.copies.get(i, i) for i in order}
    copied = set(graph.copies.values())
    held: dict[int, tuple[int, int]] = {}     # source op -> (live copy value, its end)
    replace, drop = {}, set()
    for k, i in enumerate(order):
        source = family[i]
        if source not in copied:
            continue
        value = p.ops[i][1][0]
        live = held.get(source)
        if live is not None and live[1] >= k and i in graph.copies:
            drop.add(i)
            replace[value] = live[0]
            held[source] = (live[0], max(live[1], last_use.get(value, k)))
        else:
            held[source] = (value, last_use.get(value, k))
    if not drop:
        return graph, order
    ops = [((), ()) if i in drop else (tuple(replace.get(v, v) for v in operands),
                                        results)
           for i, (operands, results) in enumerate(p.ops)]
    program = dataclasses.replace(p, ops=ops)
    copies = {j: c for j, c in graph.copies.items() if j not in drop}
    return _Graph(program, graph.rank, copies), [i for i in order if i not in drop]


# ---------------------------------------------------------------------------------------
# Local search and update placement
# ---------------------------------------------------------------------------------------

def _score(program: liveness.Program, order: list[int]) -> tuple[int, int]:
    """(peak, integral of the live bytes above the persistent ones: parameters and
    momentum buffers, live everywhere, would favour schedules with fewer ops)."""
    live = liveness.analyze(program, order).live
    base = sum(program.sizes[v] for v in program.persistent if program.arena[v])
    return max(live, default=0), sum(live) - base * len(live)


def _block(op: int, program: liveness.Program, producer: dict, readers: dict,
           limit: int = 6, stop: int | None = None) -> set:
    """`op` and the ops (but `stop`) whose results only the block reads (transitively),
    at most `limit` ops."""
    returned = set(program.returned)
    block = {op}
    stack = [op]
    while stack and len(block) < limit:
        j = stack.pop()
        for v in program.ops[j][0]:
            k = producer.get(v)
            if k is None or k in block or k == stop:
                continue
            users = set()
            for r in program.ops[k][1]:
                if r in returned:
                    users.add(-1)
                users |= readers.get(r, set())
            if users and users <= block:
                block.add(k)
                stack.append(k)
    return block


def _window(block: set, rest: list, program, producer: dict, readers: dict
            ) -> tuple[int, int]:
    """The insertion indices in `rest` (the order without `block`) where `block` keeps
    its dependences."""
    index = {op: k for k, op in enumerate(rest)}
    lo, hi = 0, len(rest)
    for j in block:
        for v in program.ops[j][0]:
            k = producer.get(v)
            if k is not None and k not in block:
                lo = max(lo, index[k] + 1)
        for r in program.ops[j][1]:
            for u in readers.get(r, ()):
                if u not in block:
                    hi = min(hi, index[u])
    return lo, hi


def _moved(order: list[int], block: set) -> tuple[list[int], list[int]]:
    """(the order without `block`, the block's ops in their order)."""
    return [j for j in order if j not in block], [j for j in order if j in block]


def polish(program: liveness.Program, order: list[int],
           budget: int = POLISH_BUDGET) -> list[int]:
    """Local search on a schedule (see the module docstring); scores at most `budget`
    schedules."""
    producer, readers = _edges(program)
    best_base = sum(program.sizes[v] for v in program.persistent
                    if program.arena[v]) * (len(order) + 1)
    live = liveness.analyze(program, order)
    best = _score(program, order)
    evaluations = 0
    while evaluations < budget:
        t = live.live.index(live.peak)
        position = {op: k for k, op in enumerate(order)}
        at_peak = sorted((g for g, lo in live.group_lower.items()
                          if lo <= t < live.group_upper[g]),
                         key=lambda g: (-program.sizes[g], g))
        moves = [order[t]] if t < len(order) else []
        for g in at_peak:
            last = live.group_upper[g] - 1
            for op in (producer.get(g), order[last] if last < len(order) else None):
                if op is not None and op not in moves:
                    moves.append(op)
        improved = False
        for op in moves:
            block = _block(op, program, producer, readers)
            rest, members = _moved(order, block)
            lo, hi = _window(block, rest, program, producer, readers)
            before = [j for j in order[:position[members[0]]] if j not in block]
            targets = []
            for k in (lo, hi, _quietest(live, rest, lo, hi, position, len(order))):
                if k != len(before) and k not in targets:
                    targets.append(k)
            for k in targets:
                candidate = rest[:k] + members + rest[k:]
                evaluations += 1
                trial = liveness.analyze(program, candidate)
                score = (trial.peak, sum(trial.live) - best_base)
                if score < best:
                    best, order, live, improved = score, candidate, trial, True
                    break
            if improved or evaluations >= budget:
                break
        if not improved:
            break
    return order


def _quietest(live, rest: list, lo: int, hi: int, position: dict, end: int) -> int:
    """The insertion index in [lo, hi] before the op of `rest` with the fewest live
    bytes now."""
    best, best_k = None, lo
    for k in range(lo, hi + 1):
        value = live.live[position[rest[k]] if k < len(rest) else end]
        if best is None or value < best:
            best, best_k = value, k
    return best_k


def adjoin_updates(program: liveness.Program, order: list[int], updates: set,
                   positions: int = 32) -> list[int]:
    """Puts each update op (with the ops only it reads) right after its gradient's op:
    moves the update up, or the gradient's op down, or both together to where they
    keep the peak lowest (at most `positions` places tried), where that does not raise
    the peak."""
    producer, readers = _edges(program)
    peak = _score(program, order)[0]
    for u in [i for i in order if i in updates]:
        gradient = program.ops[u][0][1] if len(program.ops[u][0]) > 1 else None
        source = producer.get(program.views.get(gradient, gradient))
        if source is None:
            continue
        block = _block(u, program, producer, readers, stop=source)
        position = {op: k for k, op in enumerate(order)}
        between = order[position[source] + 1:position[u]]
        if all(j in block for j in between):
            continue
        tried = []
        rest, members = _moved(order, block)        # the update up to the gradient
        lo, hi = _window(block, rest, program, producer, readers)
        k = rest.index(source) + 1
        if lo <= k <= hi:
            tried.append(rest[:k] + members + rest[k:])
        grad_block = _block(source, program, producer, readers) - block
        rest, members = _moved(order, grad_block)    # the gradient down to the update
        lo, hi = _window(grad_block, rest, program, producer, readers)
        first = min((j for j in block), key=lambda j: position[j])
        k = rest.index(first)
        if lo <= k <= hi:
            tried.append(rest[:k] + members + rest[k:])
        scored = sorted((_score(program, c), n) for n, c in enumerate(tried))
        if scored and scored[0][0][0] <= peak:
            order = tried[scored[0][1]]
            continue
        tried = []
        both = grad_block | block                    # the two together, anywhere
        rest = [j for j in order if j not in both]
        members = [j for j in order if j in grad_block] + [j for j in order if j in block]
        lo, hi = _window(both, rest, program, producer, readers)
        step = max(1, -(-(hi - lo + 1) // positions))
        for k in range(lo, hi + 1, step):
            tried.append(rest[:k] + members + rest[k:])
        scored = sorted((_score(program, c), n) for n, c in enumerate(tried))
        if scored and scored[0][0][0] <= peak:
            order = tried[scored[0][1]]
    return order


def updates_in_place(program: liveness.Program, order: list[int], updates: set
                     ) -> list[int]:
    """Moves each update that cannot overwrite its parameter (an op after it reads the
    old value, e.g. the layer's input gradient: the update then writes a copy that
    lives to the end of the step) to right after the last such read, where that lowers
    the (peak, integral) score."""
    producer, readers = _edges(program)
    best = _score(program, order)
    live = liveness.analyze(program, order)
    for u in [i for i in order if i in updates]:
        operands, results = program.ops[u]
        if not results or results[0] in live.took:
            continue                                 # in place already
        parameter = operands[0]
        views = {v for v, source in program.views.items() if source == parameter}
        position = {op: k for k, op in enumerate(order)}
        later = [j for v in views | {parameter} for j in readers.get(v, ())
                 if j != u and position[j] > position[u]]
        if not later:
            continue
        last = max(later, key=position.__getitem__)
        block = _block(u, program, producer, readers)
        if last in block:
            continue
        rest, members = _moved(order, block)
        lo, hi = _window(block, rest, program, producer, readers)
        k = rest.index(last) + 1
        if not lo <= k <= hi:
            continue
        candidate = rest[:k] + members + rest[k:]
        score = _score(program, candidate)
        if score < best:
            best, order = score, candidate
            live = liveness.analyze(program, order)
    return order


# ---------------------------------------------------------------------------------------
# Choosing a schedule and rewriting the function
# ---------------------------------------------------------------------------------------

@dataclass
class Candidate:
    """A schedule of the step: its graph (with any copies), order and score."""

    name: str
    peak: int
    integral: int
    graph: _Graph
    order: list[int]


def candidates(step: func.FuncOp, remat: bool = True) -> tuple[list[Candidate], list, list]:
    """The schedules considered, best first, with the IR values and ops (by number)
    they refer to."""
    program, values, ir_ops = liveness.Program.of(step)
    updates = {i for i, op in enumerate(ir_ops) if op.name in UPDATE_OPS}
    original = _Graph(program, [(i, 0) for i in range(len(program.ops))], {})
    baseline = list(range(len(program.ops)))
    polished = adjoin_updates(program, polish(program, baseline), updates)
    tried = [("original", original, baseline),
             ("polished", original, updates_in_place(program, polished, updates))]
    for use_remat in (False, True) if remat else (False,):
        graph = _graph(program, ir_ops, use_remat)
        order = schedule(graph)
        graph, order = merge_copies(graph, order)
        order = adjoin_updates(graph.program, polish(graph.program, order), updates)
        order = updates_in_place(graph.program, order, updates)
        tried.append(("schedule+remat" if use_remat else "schedule", graph, order))
    preference = {"schedule": 0, "schedule+remat": 1, "polished": 2, "original": 3}
    found = []
    for name, graph, order in tried:
        peak, integral = _score(graph.program, order)
        found.append(Candidate(name, peak, integral, graph, order))
    # the original order only when nothing reordered reaches its peak
    found.sort(key=lambda c: (c.peak, c.name == "original", c.integral,
                              preference[c.name]))
    return found, values, ir_ops


def reorder(step: func.FuncOp, remat: bool = True, choose: str | None = None
            ) -> tuple[int, int]:
    """Reorders @step in place (the best schedule, or the one named `choose`);
    returns (peak before, peak after) in bytes."""
    found, values, ir_ops = candidates(step, remat)
    before = next(c.peak for c in found if c.name == "original")
    chosen = found[0] if choose is None else next(c for c in found if c.name == choose)
    graph, order = chosen.graph, chosen.order
    block = step.entry_block
    terminator = block.operations[len(block.operations) - 1]
    value_of = dict(enumerate(values))
    clones = {}
    for i in order:
        if i in graph.copies:
            source = ir_ops[graph.copies[i]]
            with ir.InsertionPoint(terminator), source.location:
                clones[i] = ir.Operation.create(
                    source.name, results=[r.type for r in source.results],
                    operands=list(source.operands),
                    attributes=dict(source.attributes.items()))
            for r, value in zip(graph.program.ops[i][1], clones[i].results):
                value_of[r] = value
    for i in order:
        op = clones.get(i, ir_ops[i] if i < len(ir_ops) else None)
        op.move_before(terminator)
        for k, v in enumerate(graph.program.ops[i][0]):
            if op.operands[k] != value_of[v]:
                op.operands[k] = value_of[v]
    return before, chosen.peak
