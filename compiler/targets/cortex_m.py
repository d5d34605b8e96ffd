"""Cortex-M targets: a self-contained C project (model, kernels, start-up code,
STM32F746 linker script, Makefile and CMakeLists.txt, a training harness, or an
inference harness for a model without a training step) built with arm-none-eabi-gcc
and run under qemu; models that cannot fit the part are refused before rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ...dialects import train
from .. import memory_report as report_files
from ..errors import InputError
from ..source import find_function
from .c_expressions import dims, element_kind
from .c_renderer import ELEMENT_BYTES, CRenderer

PROJECT_MARKER = ".tcc-project"
RUNTIME_FILES = ["startup.c", "semihost.c", "semihost.h", "stm32f746.ld"]
KERNEL_FILES = ["tcc_kernels.c", "tcc_kernels.h", "tcc_int8.c", "tcc_int8.h", "tcc_qtrain.c",
                "tcc_qtrain.h", "tcc_fxtrain.c", "tcc_fxtrain.h"]
COUNT_HEADER = "tcc_count.h"      # instruction-count markers (runtime/instruction_count.py)
TRAIN_HARNESS = "main.c"          # trains on train_data.bin
INFER_HARNESS = "infer_main.c"    # infer_input.bin -> infer_output.bin
STEP_DEFINE = "#define TCC_RUN_STEP 1 /* infer_main.c: one step, step_input.bin -> " \
              "step_output.bin */\n"
NUMPY_TYPES = {"f32": "<f4", "i32": "<i4", "i8": "i1"}


#: SRAM the run time takes besides the arena (stm32f746.ld, startup.c): the 8 KiB heap
#: of newlib's stdio, the 1 KiB handler stack, the 32-byte stack guard, the 16 KiB
#: process stack, and about 3 KiB of C library and harness data.
RUNTIME_RAM_BYTES = 8 * 1024 + 1024 + 32 + 16 * 1024 + 3 * 1024


@dataclass(frozen=True)
class CortexMTarget:
    """One Cortex-M core: its name on the command line and its compiler CPU."""

    name: str
    cpu: str
    ram_bytes: int = 320 * 1024
    flash_bytes: int = 1024 * 1024
    fpu: bool = True            # single-precision FPU (float backward); else soft float


TARGETS = {t.name: t for t in (CortexMTarget("cortex-m7", "cortex-m7"),
                               CortexMTarget("cortex-m4", "cortex-m4"),
                               CortexMTarget("cortex-m3", "cortex-m3", fpu=False))}


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


def fits_ram(arena_bytes: int, target: CortexMTarget) -> bool:
    """Whether an arena of this size and the run time fit the part's SRAM."""
    return arena_bytes + RUNTIME_RAM_BYTES <= target.ram_bytes


def check_fits(report: dict, target: CortexMTarget) -> None:
    """Refuses a model whose arena and run time exceed the part's SRAM, or whose
    parameters exceed its flash (the linker then catches what is left: code)."""
    arena = report["arena_bytes"]
    ram = arena + RUNTIME_RAM_BYTES
    if not fits_ram(arena, target):
        raise InputError(f"the model does not fit the {target.name}'s SRAM: it needs at "
                         f"least {ram:,} B (arena {arena:,} B + stack, heap and C library "
                         f"{RUNTIME_RAM_BYTES:,} B), {target.ram_bytes:,} B available")
    weights = report.get("trainable_parameter_bytes", 0) + report.get("frozen_parameter_bytes", 0)
    if weights > target.flash_bytes:
        raise InputError(f"the model does not fit the {target.name}'s flash: its parameters "
                         f"need {weights:,} B, {target.flash_bytes:,} B available")


_OVERFLOW = re.compile(r"region `(RAM|FLASH)' overflowed by (\d+) bytes")


def link_overflow(output: str, target: CortexMTarget) -> InputError | None:
    """The linker's "region overflowed" as an error giving needed and available bytes."""
    match = _OVERFLOW.search(output)
    if match is None:
        return None
    region, excess = match.group(1), int(match.group(2))
    available = target.ram_bytes if region == "RAM" else target.flash_bytes
    what = "SRAM (.data + .bss + heap + stacks)" if region == "RAM" else \
        "flash (code + constants + .data)"
    return InputError(f"the program does not fit the {target.name}'s {what}: it needs "
                      f"{available + excess:,} B, {available:,} B available (linker)")


def write_project(renderer: CRenderer, target: CortexMTarget, out: Path,
                  report: dict | None = None, harness: str | None = None) -> dict:
    """Writes the C project into `out`, with its memory report; returns the report.
    Raises InputError if the model cannot fit the target (check_fits).

    `harness` picks main.c: "train" (train on train_data.bin; the default with a step),
    "infer" (the default without one) or "step" (one step for `tcc run`)."""
    if report is None:
        step = renderer.step.sym_name.value if renderer.step is not None else None
        report = memory_report(renderer.module, renderer.parameters, target,
                               renderer.forward.sym_name.value, step)
    check_fits(report, target)
    prepare_output_dir(out)
    files = renderer.render()
    runtime = resources.files("tcc.runtime") / "cortex_m"
    kernels = resources.files("tcc.kernels") / "c"
    for name in RUNTIME_FILES:
        files[name] = (runtime / name).read_text()
    for name in KERNEL_FILES:
        files[name] = (kernels / name).read_text()
    files[COUNT_HEADER] = (resources.files("tcc.runtime") / "qemu_plugin" / COUNT_HEADER).read_text()
    harness = harness or ("train" if renderer.step is not None else "infer")
    if harness == "train":
        files["main.c"] = (runtime / TRAIN_HARNESS).read_text()
    else:
        files["main.c"] = (STEP_DEFINE if harness == "step" else "") + \
            (runtime / INFER_HARNESS).read_text()
    files["Makefile"] = (runtime / "Makefile.in").read_text().replace(
        "CPU = cortex-m7", f"CPU = {target.cpu}", 1)
    files["CMakeLists.txt"] = (runtime / "CMakeLists.txt.in").read_text().replace(
        'set(TCC_CPU "cortex-m7"', f'set(TCC_CPU "{target.cpu}"', 1)
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


# -- files of `tcc run --target=cortex-m7` (runtime/cortex_m/infer_main.c) ----------

def write_infer_input(path: Path, renderer: CRenderer, array: np.ndarray) -> None:
    """infer_input.bin: one sample of the forward's data input, in its storage type."""
    kind = element_kind(renderer.input_value)
    path.write_bytes(np.ascontiguousarray(array, dtype=NUMPY_TYPES[kind]).tobytes())


def read_infer_output(path: Path, renderer: CRenderer) -> np.ndarray:
    """The forward's result from infer_output.bin."""
    output = renderer._returned(renderer.forward)[0]
    data = np.frombuffer(path.read_bytes(), dtype=NUMPY_TYPES[element_kind(output)])
    return data.reshape(dims(output)).copy()


def trainable_indices(renderer: CRenderer) -> list[int]:
    """The parameters of model.h's table (tcc_model_param), in its order."""
    return [i for i in sorted(renderer.parameters)
            if train.arg_role(renderer.forward, i) == "trainable"]


def stored_shape(renderer: CRenderer, index: int) -> list[int]:
    """The shape of what the C code stores of trainable parameter `index`: the whole
    parameter, or a partial-channel one's trained first channels."""
    shape = list(np.shape(renderer.parameters[index]))
    split = renderer.param_splits.get(index)
    return split.shape(shape) if split is not None else shape


def write_step_input(path: Path, renderer: CRenderer, inputs: np.ndarray,
                     labels: np.ndarray) -> None:
    """step_input.bin: the input batch, the labels, and each trainable parameter's size."""
    sizes = [int(np.prod(stored_shape(renderer, i))) * ELEMENT_BYTES[element_kind(
        renderer.forward.entry_block.arguments[i])] for i in trainable_indices(renderer)]
    kind = element_kind(renderer.input_value)
    path.write_bytes(np.ascontiguousarray(inputs, dtype=NUMPY_TYPES[kind]).tobytes()
                     + np.ascontiguousarray(labels, dtype="<i4").tobytes()
                     + np.array([len(sizes), *sizes], dtype="<u4").tobytes())


def read_step_output(path: Path, renderer: CRenderer) -> tuple[float, dict[str, bytes]]:
    """The loss and each trainable parameter's stored bytes after the step (a
    partial-channel one's trained channels, `stored_shape`), by name."""
    data = path.read_bytes()
    loss = float(np.frombuffer(data[:4], dtype="<f4")[0])
    params, at = {}, 4
    for index in trainable_indices(renderer):
        length = int(np.frombuffer(data[at:at + 4], dtype="<u4")[0])
        name = data[at + 4:at + 4 + length].decode()
        at += 4 + length
        arg = renderer.forward.entry_block.arguments[index]
        nbytes = int(np.prod(stored_shape(renderer, index))) * ELEMENT_BYTES[element_kind(arg)]
        params[name] = data[at:at + nbytes]
        at += nbytes
    if at != len(data):
        raise InputError(f"{path.name}: {len(data) - at} unexpected trailing bytes")
    return loss, params
