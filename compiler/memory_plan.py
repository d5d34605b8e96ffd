"""Static memory planning: offsets for buffers with known lifetimes in one arena.

A buffer lives on the half-open interval [lower, upper) and needs `size` bytes; two
buffers whose lifetimes intersect must not overlap in the arena. `plan()` minimizes the
arena's peak (the highest byte used), or with `capacity` decides whether everything fits
below it. No plan can beat the liveness lower bound: the largest number of bytes live at
one time.

`plan()` keeps the better of two methods:

1. Greedy heuristics (fast, usually within a few percent of the bound): buffers taken in
   several orders (size, pressure of their busiest moment, area, lifetime length,
   program order), each placed in the smallest hole among the already placed buffers it
   meets (best fit) or the lowest one (first fit).
2. An exact branch and bound over canonical placements, after MiniMalloc (Moffitt,
   ASPLOS 2023). Time is cut into sections (the buffers live just before each distinct
   end time). The search places, again and again, a buffer at the lowest offset it can
   take (0 or on top of a placed buffer it meets), in non-decreasing (offset, preorder)
   order, so that no permutation of one packing is visited twice; it never leaves a
   hole that an unplaced buffer would fill (dominance); it prunes when a section's
   unplaced buffers cannot all fit above the offsets they can still take (the section
   bound: at the current offset, above the buffers raised by the last placement, and
   above what a buffer that was passed over can reach); and once no unplaced buffer
   crosses a section boundary, both sides are solved independently (dynamic temporal
   decomposition). Three static preorderings (lifetime, area, busiest section) run
   round robin with a doubling node limit, as in MiniMalloc; the answer is the success
   with the fewest nodes, so it does not depend on timing. On machines with several
   processors a long search runs the preorderings in forked processes (the same answer,
   sooner; TCC_PLAN_PARALLEL=0 turns this off).

With a capacity, `plan()` is a decision procedure: the first packing within it. Without
one it asks "does everything fit in C bytes?" for C = the lower bound first, then
bisects between what is proven infeasible and the best packing found, until its search
budget is spent: time_limit x NODES_PER_SECOND search nodes, counted, not timed, so that
the same buffers give the same offsets on any machine under any load (the time limit
still stops a machine slower than that rate). A plan at the bound, or one whose next
smaller capacity was proven infeasible, is optimal. Offsets are multiples of
`alignment`; the peak is max(offset + size).
"""

from __future__ import annotations

import bisect
import csv
import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Sequence

from .errors import InputError, TccError


class PlanError(TccError):
    """No packing within the requested capacity was found (in the time given)."""


@dataclass(frozen=True)
class Buffer:
    """`size` bytes live on the half-open interval [lower, upper)."""
    id: Hashable
    lower: int
    upper: int
    size: int


@dataclass
class Plan:
    offsets: dict          # buffer id -> byte offset (a multiple of the alignment)
    peak: int              # max(offset + size): bytes the arena needs
    lower_bound: int       # liveness lower bound: no plan can go below it
    method: str            # which method produced the offsets
    optimal: bool          # True when proven: peak == lower_bound or peak - 1 infeasible
    seconds: float = 0.0   # planning time
    alignment: int = 1
    details: dict = field(default_factory=dict)   # nodes searched, capacities tried, ...

    @property
    def gap(self) -> float:
        """Relative distance of the peak to the lower bound (0.0 = at the bound)."""
        return (self.peak - self.lower_bound) / self.lower_bound if self.lower_bound else 0.0


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def liveness_lower_bound(buffers: Iterable[Buffer]) -> int:
    """Maximum over time of the bytes live at once: no plan can beat it."""
    events = []
    for b in buffers:
        if b.size > 0 and b.upper > b.lower:
            events.append((b.lower, b.size))
            events.append((b.upper, -b.size))
    events.sort()   # at equal times the ends (negative) come first: half-open intervals
    best = live = 0
    for _, delta in events:
        live += delta
        best = max(best, live)
    return best


def check_plan(buffers: Sequence[Buffer], offsets: dict, *, alignment: int = 1,
               capacity: int | None = None) -> int:
    """Verifies a plan (every buffer placed, aligned, no two live buffers overlapping,
    within the capacity); returns its peak. Raises ValueError naming the culprits."""
    peak = 0
    for b in buffers:
        if b.id not in offsets:
            raise ValueError(f"buffer {b.id!r} has no offset")
        offset = offsets[b.id]
        if offset < 0 or offset % alignment:
            raise ValueError(f"buffer {b.id!r}: offset {offset} is negative or not a "
                             f"multiple of {alignment}")
        if b.size > 0 and b.upper > b.lower:
            peak = max(peak, offset + b.size)
    if capacity is not None and peak > capacity:
        raise ValueError(f"peak {peak} exceeds the capacity {capacity}")
    live = sorted((b for b in buffers if b.size > 0 and b.upper > b.lower),
                  key=lambda b: b.lower)
    active: list[Buffer] = []
    for b in live:
        active = [a for a in active if a.upper > b.lower]
        lo, hi = offsets[b.id], offsets[b.id] + b.size
        for a in active:
            if offsets[a.id] < hi and lo < offsets[a.id] + a.size:
                raise ValueError(f"buffers {a.id!r} [{a.lower}, {a.upper}) and {b.id!r} "
                                 f"[{b.lower}, {b.upper}) are live together and overlap "
                                 f"in memory")
        active.append(b)
    return peak


# --------------------------------------------------------------------------------------
# The problem, preprocessed


class _Problem:
    """Buffers as parallel lists (index = position among the buffers that need space),
    their sections, pairwise temporal overlaps and independent time partitions."""

    def __init__(self, buffers: Sequence[Buffer], alignment: int):
        self.alignment = alignment
        self.buffers = [b for b in buffers if b.size > 0 and b.upper > b.lower]
        n = self.n = len(self.buffers)
        self.size = [b.size for b in self.buffers]
        self.lower = [b.lower for b in self.buffers]
        self.upper = [b.upper for b in self.buffers]
        # Sections: section k holds the buffers live just before the k-th distinct end
        # time U[k], i.e. lower < U[k] <= upper. Every pair of buffers that are live
        # together shares a section (the one at the earlier of their ends).
        ends = sorted(set(self.upper))
        self.sec_lo = [bisect.bisect_right(ends, lo) for lo in self.lower]
        self.sec_hi = [bisect.bisect_right(ends, up) for up in self.upper]
        self.num_sections = len(ends)
        self.members: list[list[int]] = [[] for _ in ends]
        for i in range(n):
            for s in range(self.sec_lo[i], self.sec_hi[i]):
                self.members[s].append(i)
        self.section_total = [sum(self.size[i] for i in m) for m in self.members]
        self.lower_bound = max(self.section_total, default=0)
        # Pairwise overlaps by a sweep in start order.
        self.overlaps: list[list[int]] = [[] for _ in range(n)]
        order = sorted(range(n), key=lambda i: (self.lower[i], i))
        active: list[int] = []
        for i in order:
            lo = self.lower[i]
            active = [j for j in active if self.upper[j] > lo]
            for j in active:
                self.overlaps[i].append(j)
                self.overlaps[j].append(i)
            active.append(i)
        # Partitions: maximal runs of sections connected by buffers crossing them.
        self.partitions: list[tuple[list[int], int, int]] = []
        reach = -1
        for i in order:
            if self.lower[i] >= reach:
                self.partitions.append(([], self.sec_lo[i], self.sec_hi[i]))
            buffers_, lo_, hi_ = self.partitions[-1]
            buffers_.append(i)
            self.partitions[-1] = (buffers_, lo_, max(hi_, self.sec_hi[i]))
            reach = max(reach, self.upper[i])

    def peak(self, offsets: Sequence[int]) -> int:
        return max((o + s for o, s in zip(offsets, self.size)), default=0)


# --------------------------------------------------------------------------------------
# Greedy heuristics


def _greedy(problem: _Problem, order: Sequence[int], best_fit: bool) -> list[int]:
    """Places buffers in `order`, each in a hole among the placed buffers it meets:
    the smallest that fits (best fit) or the lowest (first fit); else on top."""
    size, overlaps, align = problem.size, problem.overlaps, problem.alignment
    offsets = [-1] * problem.n
    for b in order:
        need = size[b]
        occupied = sorted((offsets[x], offsets[x] + size[x])
                          for x in overlaps[b] if offsets[x] >= 0)
        position, chosen, chosen_gap = 0, -1, None
        for start, end in occupied:
            if start - position >= need:
                if not best_fit:
                    chosen = position
                    break
                if chosen_gap is None or start - position < chosen_gap:
                    chosen, chosen_gap = position, start - position
            if end > position:
                position = _align(end, align)
        offsets[b] = chosen if chosen >= 0 else position
    return offsets


def _orders(problem: _Problem) -> list[tuple[str, list[int]]]:
    size, lower, upper = problem.size, problem.lower, problem.upper
    n = problem.n
    width = [upper[i] - lower[i] for i in range(n)]
    pressure = [max(problem.section_total[s]
                    for s in range(problem.sec_lo[i], problem.sec_hi[i])) for i in range(n)]
    keys = {
        "size": lambda i: (-size[i], -width[i], lower[i], i),
        "pressure": lambda i: (-pressure[i], -size[i], -width[i], i),
        "area": lambda i: (-size[i] * width[i], -size[i], i),
        "lifetime": lambda i: (-width[i], -size[i], i),
        "program-order": lambda i: (lower[i], -size[i], i),
    }
    return [(name, sorted(range(n), key=key)) for name, key in keys.items()]


# --------------------------------------------------------------------------------------
# Branch and bound (a decision procedure: does everything fit in `capacity` bytes?)

_OK, _NOT_FOUND, _ABORTED, _TIMEOUT = range(4)
_PLACED = 1 << 62          # the min offset of a placed buffer (above everything)
_HEURISTICS = ("WAT", "TAW", "TWA")   # width (lifetime), area, total: tie-break orders
_SEQUENTIAL_SECONDS = 0.25            # before a parallel search forks its processes
NODES_PER_SECOND = 25_000
"""The search work a second of `time_limit` buys when minimizing (a fixed rate, not a
measured one, so that the plan does not depend on the machine's speed or load)."""


def _first_limit(n: int) -> int:
    """The node limit of each preordering in a search's first round (it doubles)."""
    return 2 * max(n, 16)


class _Search:
    def __init__(self, problem: _Problem, capacity: int, deadline: float,
                 max_nodes: int | None = None):
        self.p = problem
        self.capacity = capacity
        self.deadline = deadline
        n = problem.n
        # The doubling node limit of each preordering starts here and, with max_nodes,
        # stops at `last_limit`: the largest one whose round robin stays within it.
        self.first_limit = _first_limit(n)
        self.last_limit = None
        self.max_nodes = max_nodes
        if max_nodes is not None:
            self.last_limit = self.first_limit
            while 2 * len(_HEURISTICS) * self.last_limit * 2 <= max_nodes:
                self.last_limit *= 2
        self.solution = [-1] * n
        self.min_offset = [0] * n
        self.total = list(problem.section_total)                 # sizes to place
        self.slack = [capacity - t for t in self.total]          # capacity - total
        self.cuts = [0] * max(problem.num_sections - 1, 0)
        for i in range(n):
            for s in range(problem.sec_lo[i], problem.sec_hi[i] - 1):
                self.cuts[s] += 1
        self.base = n + 1      # search keys: offset * base + preorder index
        self.nodes_left = 0
        self.nodes = 0
        self.heuristic = _HEURISTICS[0]
        self.progress = None   # in a worker process: shared node counts, and its slot
        self.progress_index = 0
        self.long = False      # whether it went past two rounds (where it may fork)

    @property
    def charge(self) -> int:
        """The nodes this search counts against a node budget: those it searched in at
        most two rounds, all of it once longer (forked processes' counts depend on
        timing, and whether there are processes on the machine)."""
        return self.max_nodes if self.long and self.max_nodes is not None else self.nodes

    def run(self, parallel: bool = False) -> int:
        """_OK (self.solution holds offsets), _NOT_FOUND (proven infeasible) or
        _TIMEOUT. Tries the preorderings round robin with a doubling node limit, as
        MiniMalloc does, and keeps the success with the fewest nodes (ties to the
        earlier preordering) so that the answer does not depend on the schedule. With
        `parallel`, after two rounds (or a quarter second without a node budget: then
        when does not matter), the preorderings run in one forked process each (see
        _parallel): the same answer, sooner. With a node budget, _TIMEOUT also once the
        last round (limit `last_limit`) found nothing."""
        if self.p.lower_bound > self.capacity:
            return _NOT_FOUND
        deadline = self.deadline
        if parallel and self.max_nodes is None:
            self.deadline = min(deadline, time.perf_counter() + _SEQUENTIAL_SECONDS)
        limit = self.first_limit
        rounds = 0
        try:
            while True:
                self.long = self.long or rounds == 2
                if parallel and (rounds == 2 or time.perf_counter() >= self.deadline):
                    self.deadline = deadline
                    status = self._parallel()
                    if status is not None:
                        return status
                    parallel = False      # no processes: go on here
                best, timed_out = None, False
                for heuristic in _HEURISTICS:
                    before = self.nodes
                    status = self._run_one(heuristic, limit if best is None else best[0] - 1)
                    if status == _OK:
                        best = (self.nodes - before, heuristic, list(self.solution))
                    elif status == _NOT_FOUND:
                        return _NOT_FOUND
                    elif status == _TIMEOUT:
                        timed_out = True
                        break
                if timed_out and parallel and time.perf_counter() < deadline:
                    continue              # the sequential phase is over
                if best is not None:
                    _, self.heuristic, self.solution = best
                    return _OK
                if timed_out or (self.last_limit is not None and limit >= self.last_limit):
                    return _TIMEOUT
                limit *= 2
                rounds += 1
        finally:
            self.deadline = deadline

    def _run_one(self, heuristic: str, limit: int) -> int:
        """One preordering with at most `limit` nodes (over all partitions)."""
        self.heuristic = heuristic
        self.nodes_left = limit
        for buffers, lo, hi in self.p.partitions:
            status = self._sub_solve(buffers, lo, hi)
            if status != _OK:
                return status
        return _OK

    def _parallel(self) -> int | None:
        """Runs every preordering up to the last node limit, one forked process each, and
        answers what `run` would: the success with the fewest nodes, ties to the earlier
        preordering, decided as soon as the others' progress rules them out. None if
        processes cannot be used. Only the processes started here are stopped."""
        import multiprocessing
        from multiprocessing.connection import wait

        workers: list = []
        pipes: dict = {}
        try:
            context = multiprocessing.get_context("fork")
            progress = context.Array("q", len(_HEURISTICS), lock=False)
            for index in range(len(_HEURISTICS)):
                receiver, sender = context.Pipe(duplex=False)
                worker = context.Process(target=_worker, args=(self, index, progress, sender),
                                         daemon=True)
                worker.start()
                sender.close()
                workers.append(worker)
                pipes[receiver] = index
        except Exception:   # noqa: BLE001 - no fork, a daemonic process, no resources
            for worker in workers:
                worker.terminate()
                worker.join()
            return None

        results: dict[int, tuple] = {}
        status = _TIMEOUT
        try:
            while True:
                if any(r[0] == _NOT_FOUND for r in results.values()):
                    status = _NOT_FOUND
                    break
                wins = sorted((r[1], index) for index, r in results.items() if r[0] == _OK)
                if wins:
                    nodes, index = wins[0]
                    if all(other in results or progress[other] >= nodes
                           for other in range(len(_HEURISTICS))):
                        self.solution = results[index][2]
                        self.heuristic = _HEURISTICS[index]
                        status = _OK
                        break
                if len(results) == len(_HEURISTICS) or (
                        time.perf_counter() > self.deadline + 0.1):
                    break
                for receiver in wait(list(pipes), timeout=0.01):
                    index = pipes.pop(receiver)
                    try:
                        results[index] = receiver.recv()
                    except (EOFError, OSError):
                        results[index] = (_TIMEOUT, 0, None)
                    receiver.close()
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
            for worker in workers:
                worker.join()
            for receiver in pipes:
                receiver.close()
        self.nodes += sum(max(progress[i], results.get(i, (0, 0))[1])
                          for i in range(len(_HEURISTICS)))
        return status

    def _sub_solve(self, buffers: list[int], lo: int, hi: int) -> int:
        p = self.p
        total, size = self.total, p.size
        data = []
        for i in buffers:
            width = p.upper[i] - p.lower[i]
            busiest = max(total[s] for s in range(p.sec_lo[i], p.sec_hi[i]))
            keys = {"W": width, "A": width * size[i], "T": busiest}
            data.append((tuple(-keys[c] for c in self.heuristic), i))
        data.sort()
        pre = [i for _, i in data]
        return self._search(pre, lo, hi, list(range(len(pre))), 0, 0)

    def _search(self, pre, lo, hi, ks, min_offset, min_index) -> int:
        """Depth-first search below the current partial placement. `pre`: the
        partition's buffers in preorder; `ks`: preorder indices of its unplaced
        buffers; sections [lo, hi); the last placement was at (min_offset, min_index)."""
        self.nodes_left -= 1
        self.nodes += 1
        if self.nodes_left < 0:
            return _ABORTED
        if not self.nodes & 15:
            if self.progress is not None:
                self.progress[self.progress_index] = self.nodes
            if time.perf_counter() > self.deadline:
                return _TIMEOUT
        if not ks:
            return _OK
        # min_offsets[x]: the lowest offset unplaced x can take; _PLACED once placed.
        min_offsets = self.min_offset
        base = self.base
        keys = sorted([min_offsets[pre[k]] * base + k for k in ks])   # (offset, k)
        p = self.p
        size = p.size
        # Dominance: no buffer goes at or above the lowest top an unplaced buffer can
        # have (it would leave a hole that buffer fills).
        min_height = _PLACED
        for key in keys:
            o = key // base
            if o >= min_height:
                break
            h = o + size[pre[key - o * base]]
            if h < min_height:
                min_height = h
        total = self.total
        # Section bound: every later placement is at an offset >= o (canonical order),
        # so the sizes still to place in any section must fit between o and the
        # capacity. Placing b at o leaves each of its sections at the same bound
        # (o + size + total - size), so this limit on o holds for every candidate.
        highest = min(self.capacity - max(total[lo:hi]), min_height - 1)
        sec_lo, sec_hi, overlaps, members = p.sec_lo, p.sec_hi, p.overlaps, p.members
        slack = self.slack
        align = p.alignment
        solution = self.solution
        capacity = self.capacity
        first = bisect.bisect_left(keys, min_offset * base + min_index)
        if first:
            # Buffers passed over (their (offset, index) is below the last placement's)
            # can only be placed once a buffer they meet is placed at >= min_offset and
            # raises them: to at least t below. All of a section's unplaced buffers at
            # or above t stack from t up.
            for j in range(first):
                y = pre[keys[j] % base]
                t = _PLACED
                for z in overlaps[y]:
                    m = min_offsets[z]
                    if m != _PLACED:
                        m = (m if m > min_offset else min_offset) + size[z]
                        if m < t:
                            t = m
                if t + size[y] > capacity:
                    return _NOT_FOUND
                for s in range(sec_lo[y], sec_hi[y]):
                    if t > slack[s]:
                        need = t - slack[s]
                        low = 0
                        for w in members[s]:
                            if w != y and min_offsets[w] < t:
                                low += size[w]
                                if low >= need:
                                    break
                        else:
                            return _NOT_FOUND
        for i in range(first, len(keys)):
            o, k = divmod(keys[i], base)   # canonical: non-decreasing (offset, preorder)
            if o > highest:
                break
            b = pre[k]
            sb = size[b]
            height = o + sb
            raised = _align(height, align) if align > 1 else height
            min_offsets[b] = _PLACED
            solution[b] = o
            blo, bhi = sec_lo[b], sec_hi[b]
            for s in range(blo, bhi):
                total[s] -= sb
                slack[s] += sb
            # Buffers live together with b can only go above it.
            changes = []
            left, right = blo, bhi   # raised buffers reach sections [left, right)
            for x in overlaps[b]:
                if min_offsets[x] < height:
                    changes.append((x, min_offsets[x]))
                    min_offsets[x] = raised
                    if sec_lo[x] < left:
                        left = sec_lo[x]
                    if sec_hi[x] > right:
                        right = sec_hi[x]
            # Every raised buffer meets b's sections, whose bound the limit on o has
            # checked; the sections they reach outside b's lifetime remain. In such a
            # section s everything at >= raised stacks from there, so the unplaced
            # buffers below raised must hold at least raised - slack[s] bytes, and one
            # of them must fit at its lowest offset (<= slack[s]).
            feasible = True
            if align > 1:
                # In b's sections every unplaced buffer now starts at >= raised.
                for s in range(blo, bhi):
                    if total[s] and raised > slack[s]:
                        feasible = False
                        break
            if feasible:
                for s in (*range(left, blo), *range(bhi, right)):
                    limit = slack[s]
                    if raised > limit:
                        need = raised - limit
                        low = 0
                        witness = False
                        for y in members[s]:
                            m = min_offsets[y]
                            if m < raised:
                                low += size[y]
                                if m <= limit:
                                    witness = True
                                if witness and low >= need:
                                    break
                        else:
                            feasible = False
                            break
            if feasible:
                rest = ks.copy()
                rest.remove(k)
                status = self._decompose(pre, lo, hi, rest, o, k, b)
            else:
                status = _NOT_FOUND
            for x, value in changes:
                min_offsets[x] = value
            for s in range(blo, bhi):
                total[s] += sb
                slack[s] -= sb
            min_offsets[b] = o
            if status != _NOT_FOUND:
                return status
        return _NOT_FOUND

    def _decompose(self, pre, lo, hi, ks, o, k, b) -> int:
        """Continues the search, splitting it where no unplaced buffer crosses a
        section boundary any more (the two sides are then independent)."""
        p = self.p
        cuts = self.cuts
        cutpoints = [lo]
        for s in range(p.sec_lo[b], p.sec_hi[b] - 1):
            cuts[s] -= 1
            if not cuts[s]:
                cutpoints.append(s + 1)
        if len(cutpoints) == 1:
            status = self._search(pre, lo, hi, ks, o, k)
        else:
            status = _OK
            cutpoints.append(hi)
            sec_lo, sec_hi = p.sec_lo, p.sec_hi
            for a, c in zip(cutpoints, cutpoints[1:]):
                part = [pre[j] for j in ks if sec_lo[pre[j]] < c and a < sec_hi[pre[j]]]
                if part:
                    status = self._sub_solve(part, a, c)
                    if status != _OK:
                        break
        for s in range(p.sec_lo[b], p.sec_hi[b] - 1):
            cuts[s] += 1
        return status


def _worker(search: _Search, index: int, progress, pipe) -> None:
    """A forked process: one preordering of `search`, up to its last node limit."""
    try:
        search.nodes = 0
        search.progress, search.progress_index = progress, index
        status = search._run_one(_HEURISTICS[index], search.last_limit or 1 << 62)
        pipe.send((status, search.nodes, search.solution if status == _OK else None))
    except BaseException:   # noqa: BLE001 - the parent treats it as no answer
        pass
    finally:
        pipe.close()
        os._exit(0)


# --------------------------------------------------------------------------------------
# The planner


def _validate(buffers: Sequence[Buffer], alignment: int, capacity, time_limit) -> None:
    if not isinstance(alignment, int) or alignment < 1:
        raise InputError(f"alignment must be a positive integer, got {alignment!r}")
    if capacity is not None and capacity < 0:
        raise InputError(f"capacity must not be negative, got {capacity}")
    if time_limit < 0:
        raise InputError(f"time limit must not be negative, got {time_limit}")
    seen = set()
    for b in buffers:
        if b.id in seen:
            raise InputError(f"buffer id {b.id!r} appears twice")
        seen.add(b.id)
        if b.size < 0:
            raise InputError(f"buffer {b.id!r} has a negative size ({b.size})")
        if b.upper < b.lower:
            raise InputError(f"buffer {b.id!r} ends before it starts "
                             f"([{b.lower}, {b.upper}))")


def _processors() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan(buffers: Sequence[Buffer], *, capacity: int | None = None,
         time_limit: float = 2.0, alignment: int = 1, parallel: bool | None = None,
         search_nodes: int | None = None) -> Plan:
    """Offsets for `buffers` in one arena; see the module docstring.

    Without `capacity`: the lowest peak found with a search of `search_nodes` nodes
    (default: time_limit x NODES_PER_SECOND), within `time_limit` seconds (stopping
    early at the liveness lower bound); the same for the same buffers, whatever the
    timing. With `capacity`: the first packing found whose peak is <= capacity
    (heuristics first, then the exact search); PlanError if there is none or none is
    found in time (the message says which).

    `parallel` (default: when this machine has several processors and the environment
    does not set TCC_PLAN_PARALLEL=0): long searches run their preorderings in forked
    processes; the result is the same as sequentially, only sooner.
    """
    start = time.perf_counter()
    buffers = list(buffers)
    _validate(buffers, alignment, capacity, time_limit)
    if search_nodes is not None and search_nodes < 0:
        raise InputError(f"search nodes must not be negative, got {search_nodes}")
    deadline = start + time_limit
    problem = _Problem(buffers, alignment)
    bound = problem.lower_bound
    details: dict = {"nodes": 0, "searches": []}
    if parallel is None:
        parallel = _processors() > 1 and os.environ.get("TCC_PLAN_PARALLEL") != "0"

    def finish(offsets: list[int], method: str, optimal: bool) -> Plan:
        result = {b.id: 0 for b in buffers}
        for b, o in zip(problem.buffers, offsets):
            result[b.id] = o
        peak = problem.peak(offsets)
        return Plan(result, peak, bound, method, optimal or peak == bound,
                    time.perf_counter() - start, alignment, details)

    if problem.n == 0:
        return finish([], "empty", True)
    if capacity is not None and bound > capacity:
        raise PlanError(f"no packing fits in {capacity} bytes: {bound} bytes are live at "
                        f"once (the liveness lower bound)")

    # 1. Heuristics: a few orders, best fit and first fit; keep the lowest peak (all of
    # them when minimizing, so that the answer does not depend on timing).
    best, best_peak, method = [], 0, ""
    budget = start + max(time_limit * 0.25, 0.05) if capacity is not None else deadline
    for name, order in _orders(problem):
        for best_fit in (True, False):
            offsets = _greedy(problem, order, best_fit)
            peak = problem.peak(offsets)
            if not best or peak < best_peak:
                best, best_peak = offsets, peak
                method = f"greedy ({name}, {'best' if best_fit else 'first'} fit)"
            if best_peak == bound or (capacity is not None and best_peak <= capacity):
                return finish(best, method, False)
        if time.perf_counter() > budget:
            break

    # 2. Branch and bound: "does it fit in C bytes?" for C from the lower bound up (all
    # capacities below `proven` are infeasible), bisecting towards the best peak; a
    # capacity whose search ran out of its slice is not tried again below. Minimizing,
    # the slices are of a node budget (half of what is left, all of it for the last
    # capacity; a search spends the nodes it searched in two rounds, or its whole slice
    # when longer), so the capacities tried and the answer do not depend on timing or
    # on the machine's processors; the time limit stops the search too (a machine
    # slower than NODES_PER_SECOND).
    proven, stuck = bound, None
    nodes_left = int(time_limit * NODES_PER_SECOND) if search_nodes is None else search_nodes
    target = capacity if capacity is not None else bound
    recursion = sys.getrecursionlimit()
    sys.setrecursionlimit(max(recursion, 3 * problem.n + 1000))
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            last = capacity is not None or target >= best_peak - 1
            if capacity is None:
                slice_nodes = nodes_left if last else nodes_left // 2
                if slice_nodes < len(_HEURISTICS) * _first_limit(problem.n):
                    break             # not even one round of the search left
                search = _Search(problem, target, deadline, max_nodes=slice_nodes)
            else:
                search = _Search(problem, target, deadline)
            status = search.run(parallel)
            if capacity is None:
                nodes_left -= search.charge
            details["nodes"] += search.nodes
            spent = "out of time" if capacity is not None or time.perf_counter() >= deadline \
                else "out of budget"
            details["searches"].append(
                (target, ("found", "infeasible", "aborted", spent)[status]))
            if status == _OK:
                peak = problem.peak(search.solution)
                if peak < best_peak:
                    best, best_peak, method = list(search.solution), peak, "branch and bound"
            elif status == _NOT_FOUND:
                proven = target + 1
            else:
                stuck = target
            if capacity is not None:
                break
            low = proven if stuck is None else max(proven, stuck + 1)
            if low >= best_peak:
                break
            target = low if status == _NOT_FOUND and stuck is None else \
                (low + best_peak - 1) // 2
    finally:
        sys.setrecursionlimit(recursion)

    if capacity is not None and best_peak > capacity:
        why = ("it is proven infeasible" if proven > capacity else
               f"none found in {time_limit:g} s")
        raise PlanError(f"no packing fits in {capacity} bytes ({why}); the liveness lower "
                        f"bound is {bound} bytes, the best packing found needs "
                        f"{best_peak} bytes")
    return finish(best, method, best_peak <= proven)


def summary(result: Plan, count: int | None = None, capacity: int | None = None) -> str:
    """One line about a plan: peak, lower bound, gap, method, time."""
    parts = [f"peak {result.peak} B", f"lower bound {result.lower_bound} B"]
    if result.peak == result.lower_bound:
        parts.append("at the bound")
    else:
        parts.append(f"gap {100 * result.gap:.2f}%" +
                     (", optimal" if result.optimal else ""))
    if capacity is not None:
        parts.append(f"within capacity {capacity} B")
    parts.append(f"method {result.method}")
    parts.append(f"{result.seconds:.2f} s")
    head = f"{count} buffers: " if count is not None else ""
    return head + ", ".join(parts)


# --------------------------------------------------------------------------------------
# CSV files (the format of MiniMalloc's benchmarks)


def read_buffers_csv(path) -> list[Buffer]:
    """Reads `id,lower,upper,size` rows (a header naming those columns first; other
    columns are ignored). Errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"cannot read the buffers file: {error.strerror or error}",
                         str(path)) from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    columns = ("id", "lower", "upper", "size")
    names = [name.strip().lower() for name in header or []]
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"the header must name the columns id,lower,upper,size "
                         f"(missing: {', '.join(missing)})", f"{path}:1")
    where = [names.index(c) for c in columns]
    buffers, lines = [], {}
    for row in rows:
        line = rows.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise InputError(f"expected {len(names)} fields, got {len(row)}", f"{path}:{line}")
        ident = row[where[0]].strip()
        if not ident:
            raise InputError("empty buffer id", f"{path}:{line}")
        values = []
        for column, index in zip(columns[1:], where[1:]):
            cell = row[index].strip()
            try:
                values.append(int(cell))
            except ValueError:
                raise InputError(f"'{column}' must be an integer, got '{cell}'",
                                 f"{path}:{line}") from None
        lower, upper, size = values
        if ident in lines:
            raise InputError(f"buffer id '{ident}' already used on line {lines[ident]}",
                             f"{path}:{line}")
        if size < 0:
            raise InputError(f"negative size {size}", f"{path}:{line}")
        if lower < 0 or upper < lower:
            raise InputError(f"lifetime [{lower}, {upper}) is not an interval of "
                             f"non-negative times", f"{path}:{line}")
        lines[ident] = line
        buffers.append(Buffer(ident, lower, upper, size))
    return buffers


def write_offsets_csv(path, buffers: Sequence[Buffer], result: Plan) -> None:
    """Writes `id,offset` rows in the buffers' order."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["id", "offset"])
    writer.writerows([b.id, result.offsets[b.id]] for b in buffers)
    try:
        Path(path).write_text(text.getvalue())
    except OSError as error:
        raise InputError(f"cannot write the offsets: {error.strerror or error}",
                         str(path)) from None
