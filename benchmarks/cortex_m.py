"""Memory and instruction counts of the TTE paper's three int8 models on the Cortex-M7.

    python benchmarks/cortex_m.py [--models-dir DIR] [--models NAME...] [--num-classes N]
                                  [--no-train] [--json] [--ops MODEL/SCHEME]
                                  [--gradients float|int16] [--target cortex-m7|m4|m3]

--gradients int16 plans the backward pass in int16 fixed point (calibrated on seeded
random samples); --target counts on another core's qemu board (the Cortex-M3 has no
FPU: its float arithmetic is the soft-float library's), with the F746's memory map.

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
A project that does not fit the F746 (the plan's check or the linker) is linked again
with a 2 MB RAM region for counting only (qemu's board has 4 MB): its row gives that
ELF's SRAM and says "does not fit: needs N B". A row that does not render, build or run
says why instead of failing. KB = 1024 B.

--ops MODEL/SCHEME (e.g. mcunet-5fps/99kb) prints instead the training step's
instructions per op family (the renderer's op_region markers around every op; the
aligning NOP of each marker adds at most one instruction per op).
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


COUNT_RAM_KB = 2048
"""RAM of the counting-only link of a project that does not fit the F746 (qemu's MPS2
board has 4 MB there): its instructions are counted all the same."""


def _write_and_build(renderer, target, harness: str, arrays, work: Path, ram_kb=None):
    """Writes and builds one project (with a larger RAM region when `ram_kb` is given);
    returns the ELF, the plan's report and the build time."""
    from tcc.compiler.targets import cortex_m
    from tcc.runtime import cortex_m_runner as runner
    report = cortex_m.write_project(renderer, target, work, harness=harness)
    if ram_kb is not None:
        script = work / "stm32f746.ld"
        script.write_text(script.read_text().replace("LENGTH = 320K", f"LENGTH = {ram_kb}K", 1))
    if harness == "infer":
        cortex_m.write_infer_input(work / "infer_input.bin", renderer, arrays[0])
    else:
        cortex_m.write_step_input(work / "step_input.bin", renderer, *arrays)
    start = time.perf_counter()
    elf = runner.build(work, cpu=target.cpu, timeout=1200)
    return elf, report, time.perf_counter() - start


def _measure_project(renderer, harness: str, arrays, work: Path,
                     target_name: str = "cortex-m7") -> dict:
    """Writes, builds and runs one project; its memory and instruction counts. A project
    that does not fit the F746 (the plan's check or the linker) is linked again with
    COUNT_RAM_KB of RAM to count its instructions; `fits` then says what it needs."""
    from dataclasses import replace
    from tcc.compiler.errors import InputError
    from tcc.compiler.targets import cortex_m
    from tcc.runtime import cortex_m_runner as runner
    from tcc.runtime.instruction_count import count_instructions
    target = cortex_m.TARGETS[target_name]
    fits = "yes"
    try:
        elf, report, build_seconds = _write_and_build(renderer, target, harness, arrays,
                                                      work / "f746")
    except (InputError, runner.BuildError) as error:
        output = error.output if isinstance(error, runner.BuildError) else ""
        overflow = cortex_m.link_overflow(output, target) if output else error
        if overflow is None:
            raise RuntimeError("build failed: " + output.strip().splitlines()[-1]) from None
        big = replace(target, ram_bytes=COUNT_RAM_KB * 1024)
        elf, report, build_seconds = _write_and_build(renderer, big, harness, arrays,
                                                      work / "count", COUNT_RAM_KB)
        fits = None
    usage = runner.memory_usage(elf)
    if fits is None:
        fits = f"does not fit: needs {usage['sram']:,} B SRAM" \
            if usage["sram"] > target.ram_bytes else \
            f"does not fit: {str(overflow).splitlines()[0]}"
    start = time.perf_counter()
    counts = count_instructions(elf, cwd=elf.parent, cpu=target.cpu, check=False)
    if counts["exit_code"] != 0:
        detail = (counts["stderr"].strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"run failed with exit code {counts['exit_code']}: {detail}")
    stack = runner.take_stack_report(runner.RunResult(0, "", counts["stderr"])).stack_bytes
    return {"arena": report["arena_bytes"], "sram": usage["sram"], "flash": usage["flash"],
            "text": usage["text"], "instructions": counts["regions"][0]["instructions"],
            "stack": stack, "build_s": build_seconds, "fits": fits,
            "run_s": time.perf_counter() - start}


def _planned_step(path: Path, imported, scheme: str, gradients: str,
                  target: str = "cortex-m7") -> dict:
    """Derives `scheme`'s training step and plans it as `tcc --target=T
    --gradients G` does (masks; bottlenecks fused only where the arena would not fit
    otherwise; int16 gradients calibrated on seeded random samples); returns the
    parameters."""
    from tcc.compiler.analysis import StepOptions, derive_step
    from tcc.compiler.calibration import calibrate_on_random_samples
    from tcc.compiler.driver import TrainingOptions, schedule_and_plan
    from tcc.compiler.parameters import select_parameters
    from tcc.compiler.source import find_function

    module = imported.module
    derive_step(module, StepOptions(scheme=scheme), str(path))
    forward = find_function(module, "forward")
    parameters = select_parameters(forward, imported.weights, str(path))
    schedule_and_plan(module, TrainingOptions(target=target, gradients=gradients),
                      str(path), calibrate=lambda m: calibrate_on_random_samples(
                          m, parameters, classes=10))
    return parameters


def measure_model(path: Path, schemes_file: Path, labels: list[str], num_classes: int,
                  train: bool, gradients: str = "float",
                  target: str = "cortex-m7") -> list[dict]:
    """The rows of one model: inference, then each scheme's training step."""
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
                parameters = _planned_step(path, imported, f"{schemes_file}#{path.stem}/"
                                           f"{scheme}", gradients, target)
            else:
                parameters = select_parameters(find_function(module, "forward"),
                                               imported.weights, str(path))
            renderer = cortex_m.CortexMRenderer(module, parameters, "forward",
                                                "train_step" if scheme else None)
            shape = [int(d) for d in renderer.input_value.type.shape]
            x = rng.integers(-128, 128, shape).astype(np.int8)
            arrays = [x] if scheme is None else [x, rng.integers(0, num_classes, shape[0])]
            with tempfile.TemporaryDirectory(prefix="tcc-bench-") as tmp:
                row.update(_measure_project(renderer, "infer" if scheme is None else "step",
                                            arrays, Path(tmp), target))
        except (TccError, RuntimeError) as error:
            row["error"] = str(error).replace("\n", " ")
        rows.append(row)
        print(f"  {row['model']} {row['scheme']}: "
              f"{row.get('instructions', row.get('error'))}", file=sys.stderr, flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    header = ["model", "scheme", "arena KB", "SRAM KB", "flash KB", "stack B", "instructions",
              "build s", "fits 320 KB SRAM / 1 MB flash"]
    table, notes = [], []
    for r in rows:
        if "error" in r:
            table.append([r["model"], r["scheme"]] + ["-"] * 7)
            notes.append(f"{r['model']} {r['scheme']}: {r['error']}")
            continue
        table.append([r["model"], r["scheme"], f"{r['arena'] / 1024:.1f}",
                      f"{r['sram'] / 1024:.1f}", f"{r['flash'] / 1024:.1f}",
                      f"{r['stack']:,}" if r["stack"] is not None else "-",
                      f"{r['instructions']:,}", f"{r['build_s']:.1f}", r["fits"]])
    widths = [max(len(row[i]) for row in table + [header]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join(("-" * (w + 1) + ":") if 2 <= i < len(header) - 1 else "-" * (w + 2)
                            for i, w in enumerate(widths)) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) if i < 2 or i == len(header) - 1 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(row, widths))) + " |"
              for row in table]
    if notes:
        lines += ["", "rows without figures:"] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def _family(op) -> str:
    """An op's family: its name, and for convs pointwise / depthwise / KxK."""
    from tcc.compiler.targets.c_expressions import dims
    from tcc.dialects import train
    if "conv2d" not in op.name:
        return op.name
    weight = op.results[0] if op.name == "train.conv2d_grad_weight" else \
        op.operands[0] if op.name == "train.conv2d_qsgd" else op.operands[1]
    _, _, kh, kw = dims(weight)
    if train.ConvGeometry.of(op).groups > 1:
        return f"{op.name} depthwise {kh}x{kw}"
    return f"{op.name} {'pointwise' if (kh, kw) == (1, 1) else f'{kh}x{kw}'}"


def measure_ops(models_dir: Path, case: str, num_classes: int,
                gradients: str = "float", target: str = "cortex-m7") -> dict:
    """Instructions of one training step per op family (a counting build, 2 MB RAM)."""
    from dataclasses import replace
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.targets import cortex_m
    from tcc.runtime.instruction_count import count_instructions

    model, scheme = case.split("/")
    path = models_dir / f"{model}.json"
    imported = import_tte(path, num_classes=num_classes, rounding="multiplier_shift")
    parameters = _planned_step(path, imported, f"{models_dir / 'schemes.json'}#{model}/"
                               f"{scheme}", gradients, target)
    renderer = cortex_m.CortexMRenderer(imported.module, parameters, "forward", "train_step")
    renderer.op_region = 1
    rng = np.random.default_rng(0)
    shape = [int(d) for d in renderer.input_value.type.shape]
    arrays = [rng.integers(-128, 128, shape).astype(np.int8),
              rng.integers(0, num_classes, shape[0])]
    big = replace(cortex_m.TARGETS[target], ram_bytes=COUNT_RAM_KB * 1024)
    with tempfile.TemporaryDirectory(prefix="tcc-bench-") as tmp:
        elf, _, _ = _write_and_build(renderer, big, "step", arrays, Path(tmp), COUNT_RAM_KB)
        counts = count_instructions(elf, cwd=elf.parent, cpu=big.cpu)
    ops = [op for function, op in renderer.counted_ops if function == "train_step"]
    events = [n for region, n in counts["events"] if region == 1]
    if len(events) != len(ops):
        raise RuntimeError(f"{len(events)} counted ops for {len(ops)} ops of the step")
    families: dict[str, list[int]] = {}
    for op, n in zip(ops, events):
        entry = families.setdefault(_family(op), [0, 0])
        entry[0] += 1
        entry[1] += n
    return {"case": case, "target": target, "step": counts["regions"][0]["instructions"],
            "families": {f: {"ops": k, "instructions": n} for f, (k, n) in families.items()}}


def _ops_table(result: dict) -> str:
    step = result["step"]
    lines = [f"{result['case']}: {step:,} instructions per training step (qemu, "
             f"{result['target']})",
             f"{'op family':<42} {'ops':>4} {'instructions':>13} {'share':>6}"]
    for family, entry in sorted(result["families"].items(),
                                key=lambda item: -item[1]["instructions"]):
        lines.append(f"{family:<42} {entry['ops']:>4} {entry['instructions']:>13,} "
                     f"{100 * entry['instructions'] / step:>5.1f}%")
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
    parser.add_argument("--ops", metavar="MODEL/SCHEME",
                        help="instructions of one training step per op family instead")
    parser.add_argument("--target", choices=["cortex-m7", "cortex-m4", "cortex-m3"],
                        default="cortex-m7", help="the core (qemu board) to count on; "
                        "the memory map is the F746's for all")
    parser.add_argument("--gradients", choices=["float", "int16"], default="float",
                        help="the backward pass in f32 (default) or int16 fixed point "
                             "(calibrated on random samples)")
    args = parser.parse_args(argv)
    schemes_file = args.models_dir / "schemes.json"
    if not schemes_file.is_file():
        print(f"no TTE models and schemes.json in {args.models_dir}", file=sys.stderr)
        return 1
    if args.ops:
        result = measure_ops(args.models_dir, args.ops, args.num_classes, args.gradients,
                             args.target)
        print(json.dumps(result, indent=2) if args.json else _ops_table(result))
        return 0
    schemes = json.loads(schemes_file.read_text())
    rows = []
    for model in args.models:
        rows += measure_model(args.models_dir / f"{model}.json", schemes_file,
                              list(schemes.get(model, {})), args.num_classes,
                              not args.no_train, args.gradients, args.target)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"TTE models on the {args.target} (STM32F746's memory: 320 KB SRAM, 1 MB "
              f"flash; int8, 128x128, {args.num_classes}-class head; {args.gradients} "
              "gradients; "
              "instructions per inference or training step, counted in qemu)")
        print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
