"""Instructions per MAC of the Cortex-M int8 kernels on MCUNet-5FPS's real layers.

    python benchmarks/cortex_m_kernels.py [--model NAME] [--models-dir DIR]
                                          [--layers] [--json]

The TTE model (default mcunet-5fps, 128x128, `rounding multiplier_shift`) is rendered
as an inference project (compiler/targets/cortex_m.py), every int8 kernel call of
model.c is wrapped in instruction-count markers (runtime/qemu_plugin/tcc_count.h) and
one inference runs in qemu under the counting plugin (runtime/instruction_count.py):
exact executed-instruction counts per layer, grouped by kernel family (3x3 conv,
depthwise KxK with stride S, pointwise 1x1, fully connected, add, pooling and casts).
For each family it prints MACs (additions for add, elements for pools and casts),
instructions and instructions per MAC; then the whole forward's total, which must stay
under the issue's goal of 80 M instructions (a tuned CMSIS-NN build needs ~86 M).
The project links with 2 MB of RAM (qemu's MPS2 board has 4 MB) so that the counts
do not depend on the memory plan fitting the STM32F746 (benchmarks/cortex_m.py's job).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOAL = 80_000_000
BENCH_RAM_KB = 2048
LAYER_REGION, FORWARD_REGION = 0, 7

_CALL = re.compile(r"^(\s*)(tcc_[a-z0-9_]+_inline)\((.*)\);\s*$")
_SHAPE = re.compile(r"const tcc_q_conv_shape s = \{([^}]*)\};")


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def classify(kernel: str, args: list[str], shape: list[int] | None) -> tuple[str, int]:
    """(family, MACs) of one kernel call of model.c; for element-wise kernels the
    'MACs' are output elements."""
    if shape is not None:
        n, c, h, w, o, kh, kw, oh, ow, sh, sw, *_, groups = shape
        macs = n * o * oh * ow * (c // groups) * kh * kw
        if groups == c and c > 1:
            return f"depthwise {kh}x{kw} s{sh}", macs
        if (kh, kw) == (1, 1):
            return ("fully connected" if h * w == 1 else "pointwise 1x1"), macs
        return f"conv {kh}x{kw} s{sh}", macs
    if kernel.startswith("tcc_q_linear"):
        n, k, m = (int(v) for v in args[4:7])
        return "fully connected", n * k * m
    if kernel.startswith("tcc_q_add"):
        return "add", int(args[3])
    return "pool / cast", 0


def instrument(source: str) -> tuple[str, list[tuple[str, int]]]:
    """model.c with count markers around every int8 kernel call, and the (family, MACs)
    of each call in source order."""
    lines, layers, shape = ['#include "tcc_count.h"'], [], None
    for line in source.splitlines():
        if m := _SHAPE.search(line):
            shape = _ints(m.group(1))
        m = _CALL.match(line)
        if m is None:
            lines.append(line)
            continue
        indent, kernel, args = m.groups()
        layers.append(classify(kernel, [a.strip() for a in args.split(",")],
                               shape if "conv2d" in kernel else None))
        shape = None
        lines += [f"{indent}TCC_COUNT_BEGIN({LAYER_REGION});", line,
                  f"{indent}TCC_COUNT_END({LAYER_REGION});"]
    return "\n".join(lines) + "\n", layers


MAIN = """/* Benchmark harness: one counted inference on a fixed input. */
#include <stdint.h>
#include "model.h"
#include "tcc_count.h"

static tcc_input_t input[TCC_INPUT_SIZE];
static tcc_output_t output[TCC_OUTPUT_SIZE];

int main(void) {
  uint32_t state = 12345u;
  for (uint32_t i = 0; i < TCC_INPUT_SIZE; ++i) {  /* xorshift pixels */
    state ^= state << 13; state ^= state >> 17; state ^= state << 5;
    input[i] = (tcc_input_t)(int8_t)(state >> 24);
  }
  tcc_model_init();
  TCC_COUNT_BEGIN(7);
  tcc_model_infer(input, output);
  TCC_COUNT_END(7);
  return 0;
}
"""


def build_project(model: str, models_dir: Path, cpu: str, directory: Path):
    """Renders `model` as an instrumented inference project; returns the layers."""
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.parameters import select_parameters
    from tcc.compiler.source import find_function
    from tcc.compiler.targets import cortex_m

    path = models_dir / f"{model}.json"
    imported = import_tte(path, rounding="multiplier_shift")
    forward = find_function(imported.module, "forward")
    parameters = select_parameters(forward, imported.weights, str(path))
    renderer = cortex_m.CortexMRenderer(imported.module, parameters, step=None)
    # Counts must not depend on the plan fitting the F746's 320 KB (benchmarks/
    # cortex_m.py checks that): a 2 MB RAM region; qemu's MPS2 board has 4 MB there.
    target = replace(cortex_m.TARGETS[cpu], ram_bytes=BENCH_RAM_KB * 1024)
    cortex_m.write_project(renderer, target, directory)
    source, layers = instrument((directory / "model.c").read_text())
    (directory / "model.c").write_text(source)
    script = directory / "stm32f746.ld"
    script.write_text(script.read_text().replace("LENGTH = 320K",
                                                 f"LENGTH = {BENCH_RAM_KB}K", 1))
    (directory / "main.c").write_text(MAIN)
    return layers


def measure(model: str, models_dir: Path, cpu: str) -> dict:
    from tcc.runtime.cortex_m_runner import build
    from tcc.runtime.instruction_count import count_instructions

    with tempfile.TemporaryDirectory(prefix="tcc-kernels-") as tmp:
        directory = Path(tmp) / model
        layers = build_project(model, models_dir, cpu, directory)
        counts = count_instructions(build(directory, cpu=cpu), cwd=directory, cpu=cpu)
    events = [n for region, n in counts["events"] if region == LAYER_REGION]
    if len(events) != len(layers):
        raise RuntimeError(f"{len(events)} counted calls for {len(layers)} kernel calls")
    rows = [dict(family=f, macs=m, instructions=n) for (f, m), n in zip(layers, events)]
    return dict(model=model, cpu=cpu, layers=rows,
                forward=counts["regions"][FORWARD_REGION]["instructions"])


def families(rows: list[dict]) -> list[dict]:
    grouped: dict[str, dict] = {}
    for row in rows:
        g = grouped.setdefault(row["family"], dict(family=row["family"], layers=0, macs=0,
                                                   instructions=0))
        g["layers"] += 1
        g["macs"] += row["macs"]
        g["instructions"] += row["instructions"]
    return sorted(grouped.values(), key=lambda g: -g["instructions"])


def _per_mac(row: dict) -> str:
    return f"{row['instructions'] / row['macs']:.2f}" if row["macs"] else "-"


def print_table(result: dict, layers: bool) -> None:
    print(f"{result['model']} int8 forward on {result['cpu']} (qemu, exact instruction "
          "counts)")
    header = f"{'family':<18} {'layers':>6} {'MACs':>12} {'instructions':>13} {'instr/MAC':>9}"
    print(header)
    print("-" * len(header))
    for g in families(result["layers"]):
        print(f"{g['family']:<18} {g['layers']:>6} {g['macs']:>12,} "
              f"{g['instructions']:>13,} {_per_mac(g):>9}")
    macs = sum(r["macs"] for r in result["layers"] if r["family"] not in
               ("add", "pool / cast"))
    print("-" * len(header))
    print(f"{'forward total':<18} {len(result['layers']):>6} {macs:>12,} "
          f"{result['forward']:>13,} {result['forward'] / macs:>9.2f}")
    print(f"goal: under {GOAL:,} instructions: "
          f"{'met' if result['forward'] < GOAL else 'NOT met'}")
    if layers:
        print()
        for i, r in enumerate(result["layers"]):
            print(f"{i:>3} {r['family']:<18} {r['macs']:>10,} {r['instructions']:>11,} "
                  f"{_per_mac(r):>6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mcunet-5fps")
    parser.add_argument("--models-dir", type=Path,
                        default=REPO.parent / "shared" / "models" / "tte")
    parser.add_argument("--cpu", default="cortex-m7", choices=["cortex-m7"])
    parser.add_argument("--layers", action="store_true", help="also print every layer")
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    args = parser.parse_args(argv)
    result = measure(args.model, args.models_dir, args.cpu)
    if args.json:
        print(json.dumps(dict(result, families=families(result["layers"])), indent=1))
    else:
        print_table(result, args.layers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
