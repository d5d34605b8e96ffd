"""The planner on MiniMalloc's hard instances: how many pack within their capacity.

    python benchmarks/minimalloc.py [--dir DIR] [--time-limit S] [--alignment A] [--json]

DIR defaults to ../shared/benchmarks/minimalloc relative to the repository root: 11
CSV files of `id,lower,upper,size` rows (buffers live on [lower, upper)) named
`NAME.CAPACITY.csv` (ASPLOS 2023, google/minimalloc's "challenging" set). Each is planned
with its capacity (`tcc.compiler.memory_plan.plan(..., capacity=CAPACITY)`) and the
result verified (no two buffers live at once overlap, all within the capacity). Prints
per instance: buffers, liveness lower bound, peak, within capacity, method, seconds;
then how many were packed. Goal: all 11, each under 10 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / ".." / "shared" / "benchmarks" / "minimalloc"
TARGET_SECONDS = 10.0


def instances(directory: Path) -> list[tuple[str, Path, int]]:
    """(name, path, capacity) of every NAME.CAPACITY.csv in `directory`, by name."""
    found = []
    for path in sorted(directory.glob("*.csv")):
        parts = path.name.split(".")
        if len(parts) == 3 and parts[1].isdigit():
            found.append((parts[0], path, int(parts[1])))
    return found


def run_instance(path: Path, capacity: int, time_limit: float, alignment: int) -> dict:
    from tcc.compiler import memory_plan

    buffers = memory_plan.read_buffers_csv(path)
    row = {"instance": path.name, "buffers": len(buffers), "capacity": capacity,
           "lower_bound": memory_plan.liveness_lower_bound(buffers)}
    start = time.perf_counter()
    try:
        result = memory_plan.plan(buffers, capacity=capacity, time_limit=time_limit,
                                  alignment=alignment)
    except memory_plan.PlanError as error:
        row.update(peak=None, packed=False, method="-", error=error.message)
    else:
        peak = memory_plan.check_plan(buffers, result.offsets, alignment=alignment,
                                      capacity=capacity)
        row.update(peak=peak, packed=True, method=result.method,
                   nodes=result.details.get("nodes", 0))
    row["seconds"] = time.perf_counter() - start
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help="folder of NAME.CAPACITY.csv instances")
    parser.add_argument("--time-limit", type=float, default=TARGET_SECONDS,
                        help="seconds per instance (10)")
    parser.add_argument("--alignment", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="instance names (e.g. A B)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead")
    args = parser.parse_args(argv)
    found = instances(args.dir)
    if args.only:
        found = [entry for entry in found if entry[0] in args.only]
    if not found:
        print(f"no NAME.CAPACITY.csv instances in {args.dir}", file=sys.stderr)
        return 1
    rows = []
    if not args.json:
        print(f"{'instance':<16}{'buffers':>8}{'lower bound':>13}{'peak':>10}"
              f"{'capacity':>10}  {'fits':<5}{'seconds':>8}  method")
    for name, path, capacity in found:
        row = run_instance(path, capacity, args.time_limit, args.alignment)
        rows.append(row)
        if not args.json:
            peak = "-" if row["peak"] is None else str(row["peak"])
            print(f"{row['instance']:<16}{row['buffers']:>8}{row['lower_bound']:>13}"
                  f"{peak:>10}{capacity:>10}  {'yes' if row['packed'] else 'NO':<5}"
                  f"{row['seconds']:>8.2f}  {row['method']}", flush=True)
    packed = sum(row["packed"] for row in rows)
    slowest = max(row["seconds"] for row in rows)
    if args.json:
        print(json.dumps({"rows": rows, "packed": packed, "total": len(rows)}, indent=1))
    else:
        print(f"packed {packed} of {len(rows)} within capacity; slowest "
              f"{slowest:.2f} s (goal: all, each under {TARGET_SECONDS:g} s)")
    return 0 if packed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
