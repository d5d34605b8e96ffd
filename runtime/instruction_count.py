"""Exact instruction counts of Cortex-M programs run in qemu, through a TCG plugin.

qemu does not model cycle counters (DWT->CYCCNT reads 0), so tcc measures work as
executed instructions: ``runtime/qemu_plugin/tcc_insn_count.c`` adds one to a counter
before every guest instruction (exact and repeatable: the same ELF always gives the same
counts). The plugin is compiled with the host ``gcc`` on first use into
``$TCC_CACHE_DIR/qemu-plugin/`` (default ``~/.cache/tcc``).

Marking a region in C (``tcc_count.h`` is copied into every generated project; its
markers are single ``DBG`` hints, no-ops on the chip and in qemu, and are not counted)::

    #include "tcc_count.h"
    TCC_COUNT_BEGIN(0);      // ids 0..7, each a compile-time constant
    kernel(...);
    TCC_COUNT_END(0);

Counting from Python::

    from tcc.runtime.cortex_m_runner import build
    from tcc.runtime.instruction_count import count_instructions
    elf = build(project_dir)                        # app.elf
    counts = count_instructions(elf, cwd=project_dir)
    counts["total"]                                 # every instruction to the exit
    counts["regions"][0]["instructions"]            # summed over all entries of region 0
    counts["regions"][0]["entries"]                 # how many times it was entered
    counts["events"]                                # [(id, instructions)] per entry, in order

A program that exits with a non-zero code, misuses markers (an end without a begin, the
same id begun twice) or does not finish in ``timeout`` seconds raises
:class:`InstructionCountError` (``check=False`` returns the counts of a failing program).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..compiler.cache import default_directory
from .cortex_m_runner import BuildError, ToolchainError, qemu_command, run_command

PLUGIN_DIR = Path(__file__).resolve().parent / "qemu_plugin"
PLUGIN_SOURCES = ("tcc_insn_count.c", "qemu_plugin_api.h")
MARKER_HEADER = PLUGIN_DIR / "tcc_count.h"
REGIONS = 8


class InstructionCountError(RuntimeError):
    """The counted program failed, misused its markers, or qemu could not count it."""


def plugin_path() -> Path:
    """The compiled plugin, built with gcc on first use (keyed by its sources)."""
    digest = hashlib.sha256()
    for name in PLUGIN_SOURCES:
        digest.update((PLUGIN_DIR / name).read_bytes())
    target = default_directory() / "qemu-plugin" / f"libtcc_insn_count-{digest.hexdigest()[:16]}.so"
    if target.exists():
        return target
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ToolchainError("gcc not found on PATH (needed to build the qemu plugin)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    cmd = [gcc, "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
           "-o", tmp, str(PLUGIN_DIR / "tcc_insn_count.c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise BuildError("building the qemu instruction-count plugin failed",
                         proc.stdout + proc.stderr)
    os.replace(tmp, target)        # atomic: concurrent builders agree on the result
    return target


def _qemu_option(value: str) -> str:
    """Escapes a value for qemu's comma-separated option syntax."""
    return value.replace(",", ",,")


def parse_counts(text: str) -> dict:
    """Parses the plugin's output file (format in tcc_insn_count.c)."""
    counts = {"total": None, "regions": {}, "events": [], "events_dropped": 0, "error": None}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        fields = rest.split()
        if key == "total":
            counts["total"] = int(fields[0])
        elif key == "region":
            counts["regions"][int(fields[0])] = {"instructions": int(fields[1]),
                                                 "entries": int(fields[2])}
        elif key == "event":
            counts["events"].append((int(fields[0]), int(fields[1])))
        elif key == "events_dropped":
            counts["events_dropped"] = int(fields[0])
        elif key == "error":
            counts["error"] = rest
    if counts["total"] is None:
        raise InstructionCountError(f"the plugin wrote no total:\n{text}")
    return counts


def count_instructions(elf: Path, *, cwd: Path, cpu: str = "cortex-m7", markers: bool = True,
                       timeout: float = 300, check: bool = True) -> dict:
    """Runs ``elf`` in qemu (semihosting rooted at ``cwd``) and counts its instructions.

    Returns ``{"total", "regions": {id: {"instructions", "entries"}}, "events":
    [(id, instructions)], "events_dropped", "error", "exit_code", "stdout", "stderr"}``.
    With ``markers=False`` DBG markers are ordinary instructions and no region is kept.
    """
    plugin = plugin_path()
    with tempfile.TemporaryDirectory(prefix="tcc-count-") as tmp:
        out = Path(tmp) / "counts.txt"
        spec = f"{_qemu_option(str(plugin))},out={_qemu_option(str(out))}"
        if not markers:
            spec += ",markers=off"
        cmd = qemu_command(elf, cpu=cpu, extra_args=("-plugin", spec))
        try:
            result = run_command(cmd, Path(cwd), timeout)
        except subprocess.TimeoutExpired as e:
            raise InstructionCountError(
                f"{elf} did not finish within {timeout} s under qemu") from e
        if not out.exists():
            raise InstructionCountError(
                f"qemu wrote no instruction counts (exit code {result.exit_code}):\n"
                f"{result.stderr}")
        counts = parse_counts(out.read_text())
    counts.update(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr)
    if check and result.exit_code != 0:
        raise InstructionCountError(
            f"{elf} exited with code {result.exit_code}:\n{result.stdout}{result.stderr}")
    if check and counts["error"]:
        raise InstructionCountError(f"{elf}: marker error: {counts['error']}")
    return counts
