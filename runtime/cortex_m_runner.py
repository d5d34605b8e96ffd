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
QEMU_BOARDS = {"cortex-m7": "mps2-an500", "cortex-m4": "mps2-an386", "cortex-m3": "mps2-an385"}

_LOSS_LINE = re.compile(r"^step (\d+) loss (\S+)$", re.MULTILINE)
_STACK_LINE = re.compile(r"^tcc: stack (\d+) of (\d+) bytes\n?", re.MULTILINE)

#: Exit codes of the harness and start-up code (runtime/cortex_m/*.c).
EXIT_CODES = {0: "success", 2: "bad input data (message on stderr)",
              0x7E: "stack overflow (the stack guard was hit)",
              0x7F: "fault (HardFault, BusFault, UsageFault, MemManage or NMI)"}

#: Sections of a linked ELF held in flash, and in SRAM (startup.c, stm32f746.ld).
FLASH_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".data")
SRAM_SECTIONS = (".data", ".bss", ".heap", ".handler_stack", ".stack")


class BuildError(Exception):
    """`make` failed; ``output`` holds the compiler/linker output."""

    def __init__(self, message: str, output: str):
        super().__init__(f"{message}\n{output}")
        self.output = output


class ToolchainError(RuntimeError):
    """A required tool (make, a compiler, qemu) is not on PATH."""


@dataclass
class RunResult:
    """Exit status and captured output of one program run; for a Cortex-M run that
    returned from main, the bytes of process stack it used (the high-water mark of
    the painted stack) and the stack's size."""

    exit_code: int
    stdout: str
    stderr: str
    stack_bytes: int | None = None
    stack_size: int | None = None

    def describe_exit(self) -> str:
        return EXIT_CODES.get(self.exit_code, f"exit code {self.exit_code}")


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


def run_command(cmd: list[str], cwd: Path, timeout: float) -> RunResult:
    """Runs `cmd` in `cwd` with captured output; raises TimeoutExpired on timeout."""
    proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout)
    return RunResult(proc.returncode, proc.stdout, proc.stderr)


def qemu_command(elf: Path, *, cpu: str = "cortex-m7",
                 extra_args: tuple[str, ...] = ()) -> list[str]:
    """The qemu-system-arm command line that runs ``elf`` with semihosting."""
    board = _check_cpu(cpu)
    qemu = _require("qemu-system-arm", "install qemu-system-arm")
    return [qemu, "-M", board, "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native",
            "-kernel", str(Path(elf).resolve()), *extra_args]


def run_qemu(elf: Path, *, cwd: Path, cpu: str = "cortex-m7", timeout: float = 60,
             extra_args: tuple[str, ...] = ()) -> RunResult:
    """Runs ``elf`` under qemu-system-arm with semihosting rooted at ``cwd``.

    The exit code is the program's (SYS_EXIT_EXTENDED); semihosted stdout and
    stderr map to qemu's. ``extra_args`` go to qemu (e.g. ``-plugin``). Raises
    :class:`subprocess.TimeoutExpired` if the program does not finish within
    ``timeout`` seconds (qemu is killed).
    """
    result = run_command(qemu_command(elf, cpu=cpu, extra_args=extra_args), Path(cwd), timeout)
    return take_stack_report(result)


def take_stack_report(result: RunResult) -> RunResult:
    """Moves start-up's "tcc: stack N of M bytes" line from stderr into the result."""
    match = _STACK_LINE.search(result.stderr)
    if match is not None:
        result.stack_bytes, result.stack_size = int(match.group(1)), int(match.group(2))
        result.stderr = result.stderr[:match.start()] + result.stderr[match.end():]
    return result


def section_sizes(elf: Path) -> dict[str, int]:
    """`arm-none-eabi-size -A` of a linked ELF: bytes per section."""
    size = _require("arm-none-eabi-size", "install gcc-arm-none-eabi (binutils)")
    proc = subprocess.run([size, "-A", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{size} -A {elf} failed", proc.stderr)
    sections = {}
    for line in proc.stdout.splitlines():
        fields = line.split()          # "section  size  addr"
        if len(fields) == 3 and fields[0].startswith(".") and fields[1].isdigit():
            sections[fields[0]] = int(fields[1])
    return sections


def memory_usage(elf: Path) -> dict[str, int]:
    """Flash and SRAM bytes of a linked ELF, with its .text, .rodata, .data and .bss;
    SRAM counts .data, .bss, the heap, the handler stack and the process stack."""
    sections = section_sizes(elf)
    usage = {name.lstrip("."): sections.get(name, 0)
             for name in (".text", ".rodata", ".data", ".bss")}
    usage["flash"] = sum(sections.get(name, 0) for name in FLASH_SECTIONS)
    usage["sram"] = sum(sections.get(name, 0) for name in SRAM_SECTIONS)
    return usage


def run_host(exe: Path, *, cwd: Path, timeout: float = 60) -> RunResult:
    """Runs the host build ``exe`` in ``cwd``; raises TimeoutExpired on timeout."""
    return run_command([str(Path(exe).resolve())], Path(cwd), timeout)


def write_train_data(path: Path, inputs: np.ndarray, labels: np.ndarray,
                     dtype=np.float32) -> None:
    """Writes ``train_data.bin`` for runtime/cortex_m/main.c.

    ``inputs`` is [steps, ...] (each step flattened to input_size values of the
    model's input type ``dtype``: float32, or int8 for an int8 model), ``labels``
    is [steps, batch] int32. Format, little-endian: ``b"TCCD"``, uint32 steps,
    uint32 input_size, uint32 batch, then per step the inputs followed by the
    labels.
    """
    dtype = np.dtype(dtype).newbyteorder("<")
    inputs = np.asarray(inputs)
    labels = np.asarray(labels)
    if inputs.ndim < 1 or labels.ndim != 2 or labels.shape[0] != inputs.shape[0]:
        raise ValueError(f"expected inputs [steps, ...] and labels [steps, batch], "
                         f"got {inputs.shape} and {labels.shape}")
    steps, batch = labels.shape
    x = inputs.reshape(steps, -1).astype(dtype)
    y = labels.astype("<i4")
    with open(path, "wb") as f:
        f.write(b"TCCD" + struct.pack("<III", steps, x.shape[1], batch))
        for i in range(steps):
            f.write(x[i].tobytes())
            f.write(y[i].tobytes())


def parse_losses(stdout: str) -> list[float]:
    """Returns the losses of the ``step <i> loss <value>`` lines, in order."""
    return [float(m.group(2)) for m in _LOSS_LINE.finditer(stdout)]
