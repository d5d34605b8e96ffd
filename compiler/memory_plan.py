"""Static memory planning of a straight-line function into one arena.

Each buffer lives from the op that defines it to its last use (inclusive), so
an op's outputs never overlap its inputs. Buffers are placed first-fit in
program order at `alignment`-byte boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Buffer:
    name: str
    size: int          # bytes
    start: int         # index of the defining op
    end: int           # index of the last op using it
    offset: int = -1   # bytes from the arena base, once planned


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def plan_first_fit(buffers: list[Buffer], alignment: int = 8) -> int:
    """Assigns offsets; returns the arena size in bytes."""
    placed: list[Buffer] = []
    for buffer in sorted(buffers, key=lambda b: (b.start, -b.size, b.name)):
        live = sorted((b for b in placed if b.start <= buffer.end and buffer.start <= b.end),
                      key=lambda b: b.offset)
        offset = 0
        for other in live:
            if offset + buffer.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size, alignment))
        buffer.offset = offset
        placed.append(buffer)
    return max((_align(b.offset + b.size, alignment) for b in placed), default=0)


def liveness_lower_bound(buffers: list[Buffer]) -> int:
    """Maximum over time of the bytes live at once: no plan can beat it."""
    if not buffers:
        return 0
    last = max(b.end for b in buffers)
    return max(sum(b.size for b in buffers if b.start <= t <= b.end) for t in range(last + 1))
