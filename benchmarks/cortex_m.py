"""Memory and instruction counts of the TTE paper's three int8 models on the Cortex-M7.

    python benchmarks/cortex_m.py [--models-dir DIR] [--models NAME...] [--num-classes N]
                                  [--no-train] [--json]

For MCUNet-5FPS, MobileNetV2-w0.35 and ProxylessNAS-w0.3 (128x128 int8, imported with
multiplier/shift requantization and a fresh N-class head, 10 by default), one row for
the inference-only project and one per paper scheme (schemes.json) for the training step:
- SRAM: .data + .bss + heap + stacks of the linked ELF (`arm-none-eabi-size -A`; the
  arena, trainable parameters and run time), against the F746's 320 KB;
- flash: vector table + .text + .rodata + .data load image, against 1 MB;
- instructions: one tcc_model_infer() or one tcc_model_train_step(), counted exactly
  in qemu by the TCG plugin (runtime/instruction_count.py), marked as region 0 by the
  run harness (runtime/cortex_m/infer_main.c) on a random input and label;
- stack: the high-water mark of that run.
A row that does not fit, render, build or run says why instead of failing. KB = 1024 B.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")


def _measure_project(renderer, harness: str, arrays, work: Path) -> dict:
    """Writes, builds and runs one project; its memory and instruction counts."""
    from tcc.compiler.targets import cortex_m
    from tcc.runtime import cortex_m_runner as runner
    from tcc.runtime.instruction_count import count_instructions
    target = cortex_m.TARGETS["cortex-m7"]
    report = cortex_m.write_project(renderer, target, work, harness=harness)
    if harness == "infer":
        cortex_m.write_infer_input(work / "infer_input.bin", renderer, arrays[0])
    else:
        cortex_m.write_step_input(work / "step_input.bin", renderer, *arrays)
    start = time.perf_counter()
    try:
        elf = runner.build(work, cpu=target.cpu, timeout=1200)
    except runner.BuildError as error:
        overflow = cortex_m.link_overflow(error.output, target)
        raise RuntimeError(overflow.message if overflow else
                           "build failed: " + error.output.strip().splitlines()[-1]) from None
    build_seconds = time.perf_counter() - start
    usage = runner.memory_usage(elf)
    start = time.perf_counter()
    counts = count_instructions(elf, cwd=work, check=False)
    if counts["exit_code"] != 0:
        detail = (counts["stderr"].strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"run failed with exit code {counts['exit_code']}: {detail}")
    stack = runner.take_stack_report(runner.RunResult(0, "", counts["stderr"])).stack_bytes
    return {"arena": report["arena_bytes"], "sram": usage["sram"], "flash": usage["flash"],
            "text": usage["text"], "instructions": counts["regions"][0]["instructions"],
            "stack": stack, "build_s": build_seconds,
            "run_s": time.perf_counter() - start}


def measure_model(path: Path, schemes_file: Path, labels: list[str], num_classes: int,
                  train: bool) -> list[dict]:
    """The rows of one model: inference, then each scheme's training step."""
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.driver import TrainingOptions, schedule_and_plan
    from tcc.compiler.errors import TccError
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.parameters import select_parameters
    from tcc.compiler.source import find_function
    from tcc.compiler.targets import cortex_m

    rng = np.random.default_rng(0)
    rows = []
    cases = [("inference", None)] + ([(label, label) for label in labels] if train else [])
    for name, scheme in cases:
        row = {"model": path.stem, "scheme": name}
        try:
            imported = import_tte(path, num_classes=num_classes, rounding="multiplier_shift")
            module = imported.module
            if scheme is not None:
                derive_step(module, StepOptions(
                    scheme=f"{schemes_file}#{path.stem}/{scheme}"), str(path))
                schedule_and_plan(module, TrainingOptions(), str(path))
            forward = find_function(module, "forward")
            parameters = select_parameters(forward, imported.weights, str(path))
            renderer = cortex_m.CortexMRenderer(module, parameters, "forward",
                                                "train_step" if scheme else None)
            shape = [int(d) for d in renderer.input_value.type.shape]
            x = rng.integers(-128, 128, shape).astype(np.int8)
            arrays = [x] if scheme is None else [x, rng.integers(0, num_classes, shape[0])]
            with tempfile.TemporaryDirectory(prefix="tcc-bench-") as tmp:
                row.update(_measure_project(renderer, "infer" if scheme is None else "step",
                                            arrays, Path(tmp)))
        except (TccError, RuntimeError) as error:
            row["error"] = str(error).replace("\n", " ")
        rows.append(row)
        print(f"  {row['model']} {row['scheme']}: "
              f"{row.get('instructions', row.get('error'))}", file=sys.stderr, flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    header = ["model", "scheme", "arena KB", "SRAM KB", "flash KB", "stack B", "instructions",
              "build s"]
    table, notes = [], []
    for r in rows:
        if "error" in r:
            table.append([r["model"], r["scheme"]] + ["-"] * 6)
            notes.append(f"{r['model']} {r['scheme']}: {r['error']}")
            continue
        table.append([r["model"], r["scheme"], f"{r['arena'] / 1024:.1f}",
                      f"{r['sram'] / 1024:.1f}", f"{r['flash'] / 1024:.1f}",
                      f"{r['stack']:,}" if r["stack"] is not None else "-",
                      f"{r['instructions']:,}", f"{r['build_s']:.1f}"])
    widths = [max(len(row[i]) for row in table + [header]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join(("-" * (w + 1) + ":") if i >= 2 else "-" * (w + 2)
                            for i, w in enumerate(widths)) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(row, widths))) + " |"
              for row in table]
    if notes:
        lines += ["", "rows without figures:"] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path,
                        default=REPO / ".." / "shared" / "models" / "tte",
                        help="folder with NAME.json/.npz and schemes.json")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--num-classes", type=int, default=10, help="classes of the new head")
    parser.add_argument("--no-train", action="store_true", help="inference rows only")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    schemes_file = args.models_dir / "schemes.json"
    if not schemes_file.is_file():
        print(f"no TTE models and schemes.json in {args.models_dir}", file=sys.stderr)
        return 1
    schemes = json.loads(schemes_file.read_text())
    rows = []
    for model in args.models:
        rows += measure_model(args.models_dir / f"{model}.json", schemes_file,
                              list(schemes.get(model, {})), args.num_classes,
                              not args.no_train)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"TTE models on the Cortex-M7 (STM32F746: 320 KB SRAM, 1 MB flash; int8, "
              f"128x128, {args.num_classes}-class head; instructions per inference or "
              "training step, counted in qemu)")
        print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
