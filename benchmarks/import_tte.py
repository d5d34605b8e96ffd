"""Time `tcc.compiler.frontends.tte.import_tte` on the three TTE int8 models.

    python benchmarks/import_tte.py [--models-dir DIR] [--repeat N]

DIR defaults to ../shared/models/tte relative to the repository root. Each import
(read + validate + emit MLIR text + parse and verify it) is run N times from the
.json + .npz and from the original .pkl; the table shows the fastest run and, for the
first, the first run (cold: includes importing torch for the .pkl).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")


def _time(function, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times[0], min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / ".." / "shared" / "models"
                        / "tte", help="folder with NAME.json/.npz and original/NAME.pkl")
    parser.add_argument("--repeat", type=int, default=5, help="runs per import (min taken)")
    args = parser.parse_args(argv)
    if not (args.models_dir / f"{MODELS[0]}.json").is_file():
        print(f"no TTE models in {args.models_dir}", file=sys.stderr)
        return 1
    from tcc.compiler.frontends.tte import import_tte

    rows = []
    for name in MODELS:
        row = [name]
        for path in (args.models_dir / f"{name}.json",
                     args.models_dir / "original" / f"{name}.pkl"):
            if not path.is_file():
                row += ["-", "-"]
                continue
            first, best, imported = _time(lambda: import_tte(path), args.repeat)
            row += [f"{first * 1e3:.0f}", f"{best * 1e3:.0f}"]
        convs = sum(1 for op in imported.module.body.operations[0].regions[0].blocks[0]
                    .operations if op.name == "train.qconv2d")
        size = sum(a.nbytes for a in imported.weights.values())
        row += [str(convs), str(len(imported.weights)), f"{size / 1024:.0f}"]
        rows.append(row)
    header = ["model", "json first ms", "json min ms", "pkl first ms", "pkl min ms",
              "qconv2d", "params", "weights KiB"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print(f"import_tte, min of {args.repeat} runs")
    for r in [header] + rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w)
                        in enumerate(zip(r, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
