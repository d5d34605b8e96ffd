"""Sparse update schemes of the TTE paper on its three int8 models: what each scheme
keeps for backward and updates, and the compile time of autodiff + prune.

    python benchmarks/schemes.py [--models-dir DIR] [--repeat N] [--num-classes N] [--json]

DIR defaults to ../shared/models/tte relative to the repository root (the models and
their schemes.json, keyed by model and memory budget). Each model is imported with a
fresh N-class head (10 by default, the paper's transfer-learning setting), each of its
five schemes applied (--train-autodiff with the scheme, then --train-prune) and the
step measured by tcc.compiler.analysis:

- saved: bytes kept for backward, 1-bit masks as the paper stores them;
- saved IR: the same activations as the tensors the IR keeps (int8 masks);
- params: trainable parameter bytes (int8 weights, int32 biases; partial weights count
  their updated channels); grads: f32 gradient bytes fed to train.qsgd (summed);
- saved+params: the paper's budget quantity (its labels: activations + trainable
  weights; it trains without momentum buffers);
- compile ms: autodiff + prune (the import excluded), fastest of N runs.

Then the compile time of MCUNet-5FPS with its largest scheme against the 3 s target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")
TARGET_SECONDS = 3.0


def _compile(path: Path, scheme: str, num_classes: int):
    """(seconds of autodiff + prune, the analysis) for one model and scheme."""
    from tcc.compiler import analysis
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.pipeline import run_pipeline

    imported = import_tte(path, num_classes=num_classes)
    options = analysis.StepOptions(scheme=scheme)
    start = time.perf_counter()
    run_pipeline(imported.module, options.pipeline(), str(path))
    seconds = time.perf_counter() - start
    report = analysis.analyze_step(imported.module, model=path.stem, scheme=scheme)
    return seconds, report


def _kib(value: int) -> str:
    return f"{value / 1024:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path,
                        default=REPO / ".." / "shared" / "models" / "tte",
                        help="folder with NAME.json/.npz and schemes.json")
    parser.add_argument("--repeat", type=int, default=3, help="compiles per scheme (min)")
    parser.add_argument("--num-classes", type=int, default=10, help="classes of the new head")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    schemes_file = args.models_dir / "schemes.json"
    if not schemes_file.is_file() or not (args.models_dir / f"{MODELS[0]}.json").is_file():
        print(f"no TTE models and schemes.json in {args.models_dir}", file=sys.stderr)
        return 1
    schemes = json.loads(schemes_file.read_text())

    rows = []
    for model in MODELS:
        path = args.models_dir / f"{model}.json"
        for label in schemes.get(model, {}):
            scheme = f"{schemes_file}#{model}/{label}"
            times = []
            for _ in range(max(1, args.repeat)):
                seconds, report = _compile(path, scheme, args.num_classes)
                times.append(seconds)
            s = report.summary()
            rows.append({"model": model, "scheme": label, **s,
                         "compile_ms": round(min(times) * 1e3, 1)})

    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        header = ["model", "scheme", "saved KiB", "saved IR KiB", "params KiB", "grads KiB",
                  "saved+params KiB", "updated", "partial", "compile ms"]
        table = [[r["model"], r["scheme"], _kib(r["saved_for_backward_bytes"]),
                  _kib(r["saved_for_backward_ir_bytes"]),
                  _kib(r["trainable_parameter_bytes"]), _kib(r["gradient_bytes"]),
                  _kib(r["saved_for_backward_bytes"] + r["trainable_parameter_bytes"]),
                  str(r["updated_parameters"]), str(r["partial_parameters"]),
                  f"{r['compile_ms']:.0f}"] for r in rows]
        widths = [max(len(row[i]) for row in table + [header]) for i in range(len(header))]
        print(f"sparse update schemes ({args.num_classes}-class head; 1 KiB = 1024 B)")
        print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in table:
            print("| " + " | ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                    for i, (c, w) in enumerate(zip(row, widths))) + " |")

    # Compile time of MCUNet-5FPS with its largest scheme (the most trained layers).
    model = MODELS[0]
    mcunet = [r for r in rows if r["model"] == model]
    largest = max(mcunet, key=lambda r: r["trainable_parameter_bytes"])
    times = []
    for _ in range(max(5, args.repeat)):
        seconds, _ = _compile(args.models_dir / f"{model}.json",
                              f"{schemes_file}#{model}/{largest['scheme']}", args.num_classes)
        times.append(seconds)
    verdict = "within" if max(times) < TARGET_SECONDS else "OVER"
    print(f"\ncompile time (autodiff + prune) of {model} with scheme {largest['scheme']}: "
          f"min {min(times) * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms over {len(times)} "
          f"runs ({verdict} the {TARGET_SECONDS:.0f} s target)")
    return 0 if max(times) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
