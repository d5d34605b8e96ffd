"""Build and run tcc Cortex-M projects on the host and under qemu.

A project directory holds the generated C sources plus the files from
``runtime/cortex_m`` (``Makefile.in`` copied as ``Makefile``, ``startup.c``,
``semihost.[ch]``, ``stm32f746.ld``). :func:`build` runs its Makefile for the
target (``app.elf``, arm-none-eabi-gcc) or the host (``app_host``);
:func:`run_qemu` runs the ELF on qemu's MPS2 board with semihosting, so that
files the program opens (``train_data.bin``) resolve in ``cwd``.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: qemu board for each supported CPU (flash at 0x0, SRAM at 0x20000000).
QEMU_BOARDS = {"cortex-m7": "mps2-an500", "cortex-m4": "mps2-an386"}

_LOSS_LINE = re.compile(r"^step (\d+) loss (\S+)$", re.MULTILINE)


class BuildError(Exception):
    """`make` failed; ``output`` holds the compiler/linker output."""

    def __init__(self, message: str, output: str):
        super().__init__(f"{message}\n{output}")
        self.output = output


class ToolchainError(RuntimeError):
    """A required tool (make, a compiler, qemu) is not on PATH."""


@dataclass
class RunResult:
    """Exit status and captured output of one program run."""

    exit_code: int
    stdout: str
    stderr: str


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"{tool} not found on PATH ({hint})")
    return path


def _check_cpu(cpu: str) -> str:
    if cpu not in QEMU_BOARDS:
        raise ValueError(f"unsupported cpu {cpu!r}; expected one of {sorted(QEMU_BOARDS)}")
    return QEMU_BOARDS[cpu]


def build(project_dir: Path, *, host: bool = False, cpu: str = "cortex-m7",
          timeout: float = 600) -> Path:
    """Runs ``make`` (or ``make host``) in ``project_dir``.

    Returns the path of ``app.elf`` (or ``app_host``). Raises
    :class:`ToolchainError` if make or the compiler is missing and
    :class:`BuildError` with the tool output if the build fails or times out.
    """
    project_dir = Path(project_dir)
    make = _require("make", "install make")
    if host:
        _require("gcc", "install gcc")
        cmd, product = [make, "-C", str(project_dir), "host"], "app_host"
    else:
        _check_cpu(cpu)
        _require("arm-none-eabi-gcc", "install gcc-arm-none-eabi and libnewlib-arm-none-eabi")
        cmd, product = [make, "-C", str(project_dir), "all", f"CPU={cpu}"], "app.elf"
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace",
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        output = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        raise BuildError(f"{' '.join(cmd)} timed out after {timeout}s", output or "") from e
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed with exit code {proc.returncode}",
                         proc.stdout)
    return project_dir / product


def _run(cmd: list[str], cwd: Path, timeout: float) -> RunResult:
    proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout)
    return RunResult(proc.returncode, proc.stdout, proc.stderr)


def run_qemu(elf: Path, *, cwd: Path, cpu: str = "cortex-m7", timeout: float = 60) -> RunResult:
    """Runs ``elf`` under qemu-system-arm with semihosting rooted at ``cwd``.

    The exit code is the program's (SYS_EXIT_EXTENDED); semihosted stdout and
    stderr map to qemu's. Raises :class:`subprocess.TimeoutExpired` if the
    program does not finish within ``timeout`` seconds (qemu is killed).
    """
    board = _check_cpu(cpu)
    qemu = _require("qemu-system-arm", "install qemu-system-arm")
    cmd = [qemu, "-M", board, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native",
           "-kernel", str(Path(elf).resolve())]
    return _run(cmd, Path(cwd), timeout)


def run_host(exe: Path, *, cwd: Path, timeout: float = 60) -> RunResult:
    """Runs the host build ``exe`` in ``cwd``; raises TimeoutExpired on timeout."""
    return _run([str(Path(exe).resolve())], Path(cwd), timeout)


def write_train_data(path: Path, inputs: np.ndarray, labels: np.ndarray) -> None:
    """Writes ``train_data.bin`` for runtime/cortex_m/main.c.

    ``inputs`` is [steps, ...] (each step flattened to input_size float32
    values), ``labels`` is [steps, batch] int32. Format, little-endian:
    ``b"TCCD"``, uint32 steps, uint32 input_size, uint32 batch, then per step
    the inputs followed by the labels.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    labels = np.asarray(labels)
    if inputs.ndim < 1 or labels.ndim != 2 or labels.shape[0] != inputs.shape[0]:
        raise ValueError(f"expected inputs [steps, ...] and labels [steps, batch], "
                         f"got {inputs.shape} and {labels.shape}")
    steps, batch = labels.shape
    x = inputs.reshape(steps, -1).astype("<f4")
    y = labels.astype("<i4")
    with open(path, "wb") as f:
        f.write(b"TCCD" + struct.pack("<III", steps, x.shape[1], batch))
        for i in range(steps):
            f.write(x[i].tobytes())
            f.write(y[i].tobytes())


def parse_losses(stdout: str) -> list[float]:
    """Returns the losses of the ``step <i> loss <value>`` lines, in order."""
    return [float(m.group(2)) for m in _LOSS_LINE.finditer(stdout)]
