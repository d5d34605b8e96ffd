"""Cortex-M targets: a self-contained C project (model, kernels, start-up code,
STM32F746 linker script, Makefile, a training harness, or an inference harness for a
model without a training step) built with arm-none-eabi-gcc and run under qemu."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ...dialects import train
from .. import memory_report as report_files
from ..errors import InputError
from ..source import find_function
from .c_renderer import CRenderer

PROJECT_MARKER = ".tcc-project"
RUNTIME_FILES = ["startup.c", "semihost.c", "semihost.h", "stm32f746.ld"]
KERNEL_FILES = ["tcc_kernels.c", "tcc_kernels.h", "tcc_int8.c", "tcc_int8.h"]
TRAIN_HARNESS = "main.c"          # trains on train_data.bin
INFER_HARNESS = "infer_main.c"    # infer_input.bin -> infer_output.bin


@dataclass(frozen=True)
class CortexMTarget:
    """One Cortex-M core: its name on the command line and its compiler CPU."""

    name: str
    cpu: str
    ram_bytes: int = 320 * 1024
    flash_bytes: int = 1024 * 1024


TARGETS = {t.name: t for t in (CortexMTarget("cortex-m7", "cortex-m7"),
                               CortexMTarget("cortex-m4", "cortex-m4"))}


class CortexMRenderer(CRenderer):
    """The host C renderer as is: the kernels are portable C99; tcc_int8.h maps its
    DSP seam (TCC_SMLAD, TCC_SXTB16) to the Armv7E-M intrinsics under TCC_USE_DSP."""


def prepare_output_dir(out: Path) -> None:
    """Creates `out`, refusing to write into a non-empty directory tcc did not make."""
    if out.exists():
        if not out.is_dir():
            raise InputError("output path exists and is not a directory", str(out))
        if any(out.iterdir()) and not (out / PROJECT_MARKER).exists():
            raise InputError("output directory is not empty and was not made by tcc; "
                             "choose another -o", str(out))
    out.mkdir(parents=True, exist_ok=True)


def write_project(renderer: CRenderer, target: CortexMTarget, out: Path,
                  report: dict | None = None) -> dict:
    """Writes the C project into `out`, with its memory report; returns the report."""
    prepare_output_dir(out)
    files = renderer.render()
    runtime = resources.files("tcc.runtime") / "cortex_m"
    kernels = resources.files("tcc.kernels") / "c"
    for name in RUNTIME_FILES:
        files[name] = (runtime / name).read_text()
    for name in KERNEL_FILES:
        files[name] = (kernels / name).read_text()
    harness = TRAIN_HARNESS if renderer.step is not None else INFER_HARNESS
    files["main.c"] = (runtime / harness).read_text()
    files["Makefile"] = (runtime / "Makefile.in").read_text().replace(
        "CPU = cortex-m7", f"CPU = {target.cpu}", 1)
    if report is None:
        step = renderer.step.sym_name.value if renderer.step is not None else None
        report = memory_report(renderer.module, renderer.parameters, target,
                               renderer.forward.sym_name.value, step)
    files.update(report_files.files(report))
    for name, text in sorted(files.items()):
        (out / name).write_text(text)
    (out / PROJECT_MARKER).write_text(f"target {target.name}\n")
    return report


def memory_report(module, parameters: dict, target: CortexMTarget, forward: str = "forward",
                  step: str | None = "train_step", model: str = "") -> dict:
    """The plan's report (compiler/memory_report.py) with the target's numbers."""
    function = find_function(module, forward)
    trainable = sum(a.nbytes for i, a in parameters.items()
                    if train.arg_role(function, i) == "trainable")
    frozen = sum(a.nbytes for i, a in parameters.items()
                 if train.arg_role(function, i) != "trainable")
    functions = (step, forward) if step is not None else (forward,)
    return report_files.report(
        module, functions, model=model, target=target.name,
        trainable_parameter_bytes=trainable, frozen_parameter_bytes=frozen,
        ram_bytes=target.ram_bytes)
