"""The static memory planner (compiler/memory_plan.py): valid plans for random lifetimes,
the liveness lower bound, proven optimality on small cases checked exhaustively,
capacities, two of MiniMalloc's hard instances, and answers that do not depend on
timing."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from tcc.compiler.errors import InputError, TccError
from tcc.compiler.memory_plan import (Buffer, PlanError, check_plan, liveness_lower_bound,
                                      plan, read_buffers_csv)

MINIMALLOC = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "minimalloc"


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _live_together(a: Buffer, b: Buffer) -> bool:
    return a.lower < b.upper and b.lower < a.upper and a.size > 0 and b.size > 0 \
        and a.upper > a.lower and b.upper > b.lower


def assert_valid(buffers, result, alignment=1):
    """No two buffers live at the same time overlap; offsets aligned; peak right."""
    offsets = result.offsets
    assert set(offsets) == {b.id for b in buffers}
    for b in buffers:
        assert offsets[b.id] >= 0 and offsets[b.id] % alignment == 0
    for a, b in itertools.combinations(buffers, 2):
        if _live_together(a, b):
            assert (offsets[a.id] + a.size <= offsets[b.id]
                    or offsets[b.id] + b.size <= offsets[a.id]), (a, b, offsets)
    peak = max((offsets[b.id] + b.size for b in buffers if b.size and b.upper > b.lower),
               default=0)
    assert result.peak == peak
    assert check_plan(buffers, offsets, alignment=alignment) == peak
    assert result.peak >= result.lower_bound == liveness_lower_bound(buffers)


def brute_force_peak(buffers, alignment=1) -> int:
    """The optimal peak: some optimal packing has every buffer at 0 or at the aligned
    top of a buffer below it that is live at the same time (push each down); try every
    order of placement and every support."""
    live = [b for b in buffers if b.size > 0 and b.upper > b.lower]
    best = sum(_align(b.size, alignment) for b in live)

    def place(placed: list, rest: list):
        nonlocal best
        peak = max((o + b.size for b, o in placed), default=0)
        if peak >= best:
            return
        if not rest:
            best = peak
            return
        for i, b in enumerate(rest):
            others = rest[:i] + rest[i + 1:]
            for offset in {0} | {_align(o + s.size, alignment) for s, o in placed
                                 if _live_together(s, b)}:
                if all(not _live_together(s, b) or o + s.size <= offset
                       or offset + b.size <= o for s, o in placed):
                    place(placed + [(b, offset)], others)

    place([], live)
    return best


buffer_lists = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 12), st.integers(0, 300)),
    max_size=40,
).map(lambda rows: [Buffer(i, lower, lower + length, size)
                    for i, (lower, length, size) in enumerate(rows)])


# -- unit tests ------------------------------------------------------------------------

def test_empty_and_trivial():
    result = plan([])
    assert result.peak == 0 and result.offsets == {} and result.optimal
    result = plan([Buffer("a", 0, 3, 100)])
    assert result.offsets == {"a": 0} and result.peak == 100 and result.optimal


def test_lower_bound_is_half_open():
    # [0, 2) and [2, 4) never live together; [1, 3) meets both.
    buffers = [Buffer("a", 0, 2, 10), Buffer("b", 2, 4, 20), Buffer("c", 1, 3, 5)]
    assert liveness_lower_bound(buffers) == 25
    result = plan(buffers)
    assert_valid(buffers, result)
    assert result.peak == 25 and result.optimal


def test_disjoint_lifetimes_share_memory():
    buffers = [Buffer(i, i, i + 1, 64) for i in range(10)]
    result = plan(buffers)
    assert set(result.offsets.values()) == {0} and result.peak == 64


def test_zero_sizes_and_empty_lifetimes_take_no_space():
    buffers = [Buffer("a", 0, 4, 32), Buffer("z", 1, 3, 0), Buffer("e", 2, 2, 99)]
    result = plan(buffers)
    assert result.peak == 32 and result.offsets["z"] == 0 and result.offsets["e"] == 0


def test_alignment():
    buffers = [Buffer("a", 0, 4, 3), Buffer("b", 0, 4, 5), Buffer("c", 2, 6, 7)]
    result = plan(buffers, alignment=16)
    assert_valid(buffers, result, alignment=16)
    assert result.alignment == 16


def test_greedy_needs_the_search():
    # Every greedy order ends at 100 bytes; the search packs at the bound, 90.
    buffers = [Buffer("a", 1, 4, 50), Buffer("b", 5, 7, 50), Buffer("c", 4, 6, 30),
               Buffer("d", 4, 5, 30), Buffer("e", 1, 2, 40), Buffer("f", 3, 5, 20)]
    result = plan(buffers)
    assert_valid(buffers, result)
    assert result.peak == brute_force_peak(buffers) == 90 and result.optimal
    assert result.method == "branch and bound"


def test_capacity_is_a_decision_problem():
    buffers = [Buffer("a", 0, 2, 40), Buffer("b", 1, 3, 40), Buffer("c", 0, 3, 20)]
    assert_valid(buffers, plan(buffers, capacity=100))
    with pytest.raises(PlanError, match="lower bound"):
        plan(buffers, capacity=99)


def test_optimal_above_the_bound_is_proven():
    # Aligned to 4, the second 3-byte buffer starts at 4: 7 bytes, the bound says 6.
    buffers = [Buffer("a", 0, 2, 3), Buffer("b", 1, 3, 3), Buffer("c", 2, 4, 2)]
    result = plan(buffers, alignment=4)
    assert_valid(buffers, result, alignment=4)
    assert (result.lower_bound, result.peak, result.optimal) == (6, 7, True)
    with pytest.raises(PlanError, match="proven infeasible"):
        plan(buffers, capacity=6, alignment=4)


def test_plan_error_is_a_tcc_error():
    assert issubclass(PlanError, TccError)


@pytest.mark.parametrize("bad, message", [
    ([Buffer("a", 0, 1, -1)], "negative size"),
    ([Buffer("a", 3, 1, 1)], "ends before it starts"),
    ([Buffer("a", 0, 1, 1), Buffer("a", 1, 2, 1)], "appears twice"),
])
def test_invalid_buffers(bad, message):
    with pytest.raises(InputError, match=message):
        plan(bad)


def test_invalid_options():
    with pytest.raises(InputError, match="alignment"):
        plan([Buffer("a", 0, 1, 1)], alignment=0)
    with pytest.raises(InputError, match="capacity"):
        plan([Buffer("a", 0, 1, 1)], capacity=-5)


def test_check_plan_names_the_overlap():
    buffers = [Buffer("a", 0, 2, 10), Buffer("b", 1, 3, 10)]
    with pytest.raises(ValueError, match="'a'.*'b'"):
        check_plan(buffers, {"a": 0, "b": 5})
    with pytest.raises(ValueError, match="capacity"):
        check_plan(buffers, {"a": 0, "b": 10}, capacity=15)
    with pytest.raises(ValueError, match="multiple"):
        check_plan(buffers, {"a": 0, "b": 10}, alignment=4)
    assert check_plan(buffers, {"a": 0, "b": 10}) == 20


# -- properties --------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, database=None)
@given(buffer_lists, st.sampled_from([1, 4, 16]))
def test_random_plans_are_valid(buffers, alignment):
    result = plan(buffers, time_limit=0.2, alignment=alignment)
    assert_valid(buffers, result, alignment)


@settings(max_examples=30, deadline=None, database=None)
@given(buffer_lists, st.sampled_from([1, 8]))
def test_capacity_packings_are_valid(buffers, alignment):
    first = plan(buffers, time_limit=0.2, alignment=alignment)
    result = plan(buffers, capacity=first.peak, time_limit=0.2, alignment=alignment)
    assert_valid(buffers, result, alignment)
    assert result.peak <= first.peak
    if result.lower_bound:
        with pytest.raises(PlanError):
            plan(buffers, capacity=result.lower_bound - 1, time_limit=0.2,
                 alignment=alignment)


small_lists = st.lists(
    st.tuples(st.integers(0, 6), st.integers(1, 5), st.integers(1, 9)),
    min_size=1, max_size=5,
).map(lambda rows: [Buffer(i, lower, lower + length, size)
                    for i, (lower, length, size) in enumerate(rows)])


@settings(max_examples=60, deadline=None, database=None)
@given(small_lists, st.sampled_from([1, 4]))
def test_optimal_on_small_cases(buffers, alignment):
    optimum = brute_force_peak(buffers, alignment)
    result = plan(buffers, time_limit=5, alignment=alignment)
    assert_valid(buffers, result, alignment)
    assert result.peak == optimum
    assert result.optimal
    if optimum > 0:
        with pytest.raises(PlanError):
            plan(buffers, capacity=optimum - 1, time_limit=5, alignment=alignment)


# -- MiniMalloc's hard instances -----------------------------------------------------------

@pytest.mark.skipif(not MINIMALLOC.is_dir(), reason="needs ../shared/benchmarks/minimalloc")
@pytest.mark.parametrize("name", ["J", "G"])
def test_minimalloc_instance_packs_within_capacity(name):
    path = MINIMALLOC / f"{name}.1048576.csv"
    buffers = read_buffers_csv(path)
    result = plan(buffers, capacity=1048576, time_limit=30)
    assert check_plan(buffers, result.offsets, capacity=1048576) == result.peak
    assert result.seconds < 30


@pytest.mark.skipif(not MINIMALLOC.is_dir(), reason="needs ../shared/benchmarks/minimalloc")
def test_parallel_search_answers_as_the_sequential_one():
    # A needs thousands of nodes: the parallel run forks one process per preordering
    # and must still return exactly the sequential round robin's packing.
    buffers = read_buffers_csv(MINIMALLOC / "A.1048576.csv")
    sequential = plan(buffers, capacity=1048576, time_limit=60, parallel=False)
    parallel = plan(buffers, capacity=1048576, time_limit=60, parallel=True)
    assert parallel.offsets == sequential.offsets
    assert check_plan(buffers, parallel.offsets, capacity=1048576) == 1048576


@pytest.mark.skipif(not MINIMALLOC.is_dir(), reason="needs ../shared/benchmarks/minimalloc")
def test_minimizing_does_not_depend_on_timing(monkeypatch):
    # Without a capacity the search is bounded by counted nodes (time_limit x
    # NODES_PER_SECOND), not by the clock: A, which the budget cannot solve to its
    # bound, gets the same offsets on a clock running four times as fast, sequentially
    # or in forked processes.
    from tcc.compiler import memory_plan
    buffers = read_buffers_csv(MINIMALLOC / "A.1048576.csv")
    monkeypatch.setattr(memory_plan, "NODES_PER_SECOND", 1000)
    first = plan(buffers, time_limit=10, parallel=False)
    assert not first.optimal
    assert "out of budget" in {status for _, status in first.details["searches"]}
    real = time.perf_counter
    start = real()
    monkeypatch.setattr(memory_plan, "time",
                        SimpleNamespace(perf_counter=lambda: start + 4 * (real() - start)))
    again = plan(buffers, time_limit=10, parallel=True)
    assert again.offsets == first.offsets
    assert again.details["searches"] == first.details["searches"]
    assert_valid(buffers, again)


def test_negative_search_nodes_are_an_input_error():
    with pytest.raises(InputError, match="search nodes must not be negative"):
        plan([Buffer("a", 0, 1, 4)], search_nodes=-1)
