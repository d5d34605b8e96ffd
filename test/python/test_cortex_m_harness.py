"""Tests of the Cortex-M run harness: exact instruction counts through the qemu plugin
(runtime/instruction_count.py), stack high-water mark and guard, `size -A` sections,
and `tcc run --target=cortex-m7`."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tcc.compiler.source
import tcc.runtime
from tcc.compiler import driver
from tcc.runtime.cortex_m_runner import build, memory_usage, run_qemu, section_sizes
from tcc.runtime.instruction_count import (
    InstructionCountError, count_instructions, parse_counts)

RUNTIME_DIR = Path(tcc.runtime.__file__).parent
needs_qemu = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "make", "qemu-system-arm", "gcc")),
    reason="needs arm-none-eabi-gcc, make, gcc and qemu-system-arm")

# Regions of hand-written loops whose instruction counts are known exactly:
# `movs/movw r0, #N` + N x (subs, bne) = 1 + 2N instructions.
COUNTED_MAIN = r"""
#include <stdio.h>
#include "tcc_count.h"
#define LOOP(n) __asm__ volatile("movw r0, #" #n "\n1:\tsubs r0, r0, #1\n\tbne 1b" ::: "r0", "cc")
static void __attribute__((noinline)) short_loop(void) {
  TCC_COUNT_BEGIN(2);
  LOOP(7);
  TCC_COUNT_END(2);
}
int main(void) {
  TCC_COUNT_BEGIN(0);
  LOOP(100);
  TCC_COUNT_END(0);
  TCC_COUNT_BEGIN(1);
  LOOP(1000);
  TCC_COUNT_BEGIN(3);          /* nested inside region 1 */
  LOOP(10);
  TCC_COUNT_END(3);
  TCC_COUNT_END(1);
  for (volatile int i = 0; i < 3; ++i) short_loop();
  printf("counted\n");
  return EXIT_CODE;
}
"""


def write_program(directory: Path, main: str, exit_code: int = 0) -> Path:
    """A project of the Cortex-M runtime files and `main`; returns its built ELF."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("startup.c", "semihost.c", "semihost.h", "stm32f746.ld"):
        shutil.copy(RUNTIME_DIR / "cortex_m" / name, directory / name)
    shutil.copy(RUNTIME_DIR / "cortex_m" / "Makefile.in", directory / "Makefile")
    shutil.copy(RUNTIME_DIR / "qemu_plugin" / "tcc_count.h", directory / "tcc_count.h")
    (directory / "main.c").write_text(main.replace("EXIT_CODE", str(exit_code)))
    return build(directory)


@pytest.fixture(scope="module")
def counted_elf(tmp_path_factory) -> Path:
    return write_program(tmp_path_factory.mktemp("counted"), COUNTED_MAIN)


@needs_qemu
def test_counts_known_loops_exactly(counted_elf):
    counts = count_instructions(counted_elf, cwd=counted_elf.parent)
    assert counts["stdout"] == "counted\n"
    regions = counts["regions"]
    assert regions[0] == {"instructions": 1 + 2 * 100, "entries": 1}
    assert regions[3] == {"instructions": 1 + 2 * 10, "entries": 1}
    # Region 1 holds its own loop and the nested one; the markers are never counted.
    assert regions[1] == {"instructions": (1 + 2 * 1000) + (1 + 2 * 10), "entries": 1}
    assert regions[2] == {"instructions": 3 * (1 + 2 * 7), "entries": 3}
    assert counts["events"] == [(0, 201), (3, 21), (1, 2022), (2, 15), (2, 15), (2, 15)]
    assert counts["total"] > regions[0]["instructions"] + regions[1]["instructions"]


@needs_qemu
def test_counts_are_repeatable_and_markers_are_not_counted(counted_elf):
    first = count_instructions(counted_elf, cwd=counted_elf.parent)
    second = count_instructions(counted_elf, cwd=counted_elf.parent)
    assert first["total"] == second["total"]
    assert first["events"] == second["events"]
    # Without marker handling each executed DBG is one more instruction: 2 per entry.
    plain = count_instructions(counted_elf, cwd=counted_elf.parent, markers=False)
    assert plain["regions"] == {}
    assert plain["total"] == first["total"] + 2 * len(first["events"])


@needs_qemu
def test_failures_are_reported(tmp_path):
    elf = write_program(tmp_path / "exit", COUNTED_MAIN, exit_code=5)
    with pytest.raises(InstructionCountError, match="exited with code 5"):
        count_instructions(elf, cwd=elf.parent)
    counts = count_instructions(elf, cwd=elf.parent, check=False)
    assert counts["exit_code"] == 5 and counts["regions"][0]["instructions"] == 201

    unmatched = "#include \"tcc_count.h\"\nint main(void) { TCC_COUNT_END(4); return 0; }\n"
    elf = write_program(tmp_path / "unmatched", unmatched)
    with pytest.raises(InstructionCountError, match=r"ended without a begin \(region 4\)"):
        count_instructions(elf, cwd=elf.parent)


def test_parse_counts_rejects_output_without_total():
    assert parse_counts("total 12\nregion 1 5 2\nevent 1 2\nevent 1 3\n")["regions"] == {
        1: {"instructions": 5, "entries": 2}}
    with pytest.raises(InstructionCountError):
        parse_counts("region 1 5 2\n")


# Recursion through DEPTH frames of a 1000-byte buffer: a known lower bound on the stack.
RECURSIVE_MAIN = r"""
#include <stdio.h>
#include <string.h>
static int depth(int n) {
  volatile char buf[1000];
  memset((char *)buf, n, sizeof buf);
  return n ? depth(n - 1) + buf[3] : 0;
}
int main(void) { printf("%d\n", depth(DEPTH)); return 0; }
"""


@needs_qemu
@pytest.mark.parametrize("depth", [2, 8])
def test_stack_high_water_mark(tmp_path, depth):
    elf = write_program(tmp_path, RECURSIVE_MAIN.replace("DEPTH", str(depth)))
    result = run_qemu(elf, cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stack_size == 16 * 1024
    assert (depth + 1) * 1000 < result.stack_bytes < (depth + 1) * 1000 + 3000
    assert "tcc: stack" not in result.stderr      # moved into the result


@needs_qemu
def test_stack_overflow_hits_the_guard(tmp_path):
    elf = write_program(tmp_path, RECURSIVE_MAIN.replace("DEPTH", "40"))
    result = run_qemu(elf, cwd=tmp_path)
    assert result.exit_code == 0x7E and result.describe_exit().startswith("stack overflow")
    assert "stack overflow" in result.stderr and result.stack_bytes is None


@needs_qemu
def test_section_sizes(counted_elf):
    sections = section_sizes(counted_elf)
    assert sections[".stack"] == 16 * 1024 + 32 and 8 * 1024 <= sections[".heap"] < 8 * 1024 + 8
    usage = memory_usage(counted_elf)
    assert usage["text"] == sections[".text"] and usage["bss"] == sections[".bss"]
    assert usage["flash"] >= usage["text"] + usage["rodata"] + usage["data"]
    assert usage["sram"] == sum(sections[s] for s in (
        ".data", ".bss", ".heap", ".handler_stack", ".stack"))


# ------------------------------------------------ tcc run --target=cortex-m7 (qemu)

INT8_MODEL = """
!x = !quant.uniform<i8:f32, 0.0173:3>
!c = !quant.uniform<i8:f32, 0.0391:-5>
!w = !quant.uniform<i8:f32:0, {0.011, 0.0052, 0.0236, 0.0087}>
func.func @forward(%x: tensor<1x3x9x9x!x> {train.name = "x"},
                   %w: tensor<4x3x3x3x!w> {train.name = "w", train.role = #train.role<frozen>},
                   %b: tensor<4xi32> {train.name = "b", train.role = #train.role<frozen>})
    -> tensor<1x4x!c> {
  %c = train.qconv2d %x, %w, %b stride [2, 2] padding [1, 1] rounding multiplier_shift
      : (tensor<1x3x9x9x!x>, tensor<4x3x3x3x!w>, tensor<4xi32>) -> tensor<1x4x5x5x!c>
  %g = train.qglobal_avg_pool %c rounding multiplier_shift
      : tensor<1x4x5x5x!c> -> tensor<1x4x1x1x!c>
  %r = train.reshape %g : tensor<1x4x1x1x!c> -> tensor<1x4x!c>
  return %r : tensor<1x4x!c>
}
"""


def tcc_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcc.compiler.cli", *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


@needs_qemu
def test_run_int8_forward_is_bit_exact_with_the_interpreter(tmp_path):
    model = tmp_path / "int8.mlir"
    model.write_text(INT8_MODEL)
    rng = np.random.default_rng(6)
    np.savez(tmp_path / "in.npz", x=rng.integers(-128, 128, (1, 3, 9, 9)).astype(np.int8),
             w=rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8),
             b=rng.integers(-3000, 3000, 4).astype(np.int32))
    outputs = {}
    for target in ("reference", "cortex-m7"):
        result = tcc_cli("run", model, "--function", "forward", "--inputs", tmp_path / "in.npz",
                         "-o", tmp_path / f"{target}.npz", "--target", target)
        assert result.returncode == 0, result.stderr
        with np.load(tmp_path / f"{target}.npz") as out:
            outputs[target] = out["result0"]
    assert outputs["cortex-m7"].dtype == np.int8
    assert np.array_equal(outputs["cortex-m7"], outputs["reference"])
    assert len(np.unique(outputs["reference"])) > 1


@needs_qemu
def test_run_reports_a_failing_program_in_one_line(tmp_path):
    """The harness' own input check (wrong parameter count) surfaces as a RunError."""
    from tcc.compiler.errors import RunError
    from tcc.compiler.targets import cortex_m
    module = tcc.compiler.source.parse_module(INT8_MODEL, "int8.mlir",
                                              tcc.compiler.source.new_context())
    renderer = cortex_m.CortexMRenderer(module, {1: np.zeros((4, 3, 3, 3), np.int8),
                                                 2: np.zeros(4, np.int32)}, step=None)
    cortex_m.write_project(renderer, cortex_m.TARGETS["cortex-m7"], tmp_path)
    with pytest.raises(RunError, match=r"exited with code 2 \(bad input data.*infer_input"):
        driver.build_and_run(tmp_path, "cortex-m7")


# ------------------------------------------------------------- models that cannot fit

@needs_qemu
def test_linker_overflow_gives_needed_and_available_bytes(tmp_path):
    from tcc.compiler.errors import InputError
    big = "#include <stdint.h>\nvolatile uint8_t big[400000];\n" \
          "int main(void) { big[7] = 1; return big[7] - 1; }\n"
    with pytest.raises(Exception):
        write_program(tmp_path, big)
    with pytest.raises(InputError) as error:
        driver.build_and_run(tmp_path, "cortex-m7")
    message = str(error.value)
    assert "SRAM" in message and "327,680 B available (linker)" in message
    needed = int(message.split("needs ")[1].split(" B")[0].replace(",", ""))
    assert 400000 < needed < 400000 + 40 * 1024


BIG_MODEL = """
func.func @forward(%x: tensor<8x4096xf32> {train.name = "x"},
                   %w: tensor<10x4096xf32> {train.name = "w", train.role = #train.role<trainable>},
                   %b: tensor<10xf32> {train.name = "b", train.role = #train.role<trainable>})
    -> tensor<8x10xf32> {
  %y = train.linear %x, %w, %b : (tensor<8x4096xf32>, tensor<10x4096xf32>, tensor<10xf32>)
      -> tensor<8x10xf32>
  return %y : tensor<8x10xf32>
}
"""


def test_model_larger_than_sram_fails_at_compile_time(tmp_path):
    model = tmp_path / "big.mlir"
    model.write_text(BIG_MODEL)
    result = tcc_cli("--target=cortex-m7", model, "-o", tmp_path / "out")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "does not fit the cortex-m7's SRAM: it needs at least" in lines[0]
    assert "327,680 B available" in lines[0]
    assert not (tmp_path / "out" / "model.c").exists()


@needs_qemu
@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
def test_cmake_project_builds_the_same_program(tmp_path):
    from tcc.compiler.targets import cortex_m
    module = tcc.compiler.source.parse_module(INT8_MODEL, "int8.mlir",
                                              tcc.compiler.source.new_context())
    rng = np.random.default_rng(7)
    parameters = {1: rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8),
                  2: rng.integers(-3000, 3000, 4).astype(np.int32)}
    renderer = cortex_m.CortexMRenderer(module, parameters, step=None)
    project = tmp_path / "project"
    cortex_m.write_project(renderer, cortex_m.TARGETS["cortex-m4"], project)
    assert 'set(TCC_CPU "cortex-m4"' in (project / "CMakeLists.txt").read_text()
    rng.integers(-128, 128, (3, 1, 3, 9, 9)).astype(np.int8).tofile(project / "infer_input.bin")
    make_result = run_qemu(build(project, cpu="cortex-m4"), cwd=project, cpu="cortex-m4")
    assert make_result.exit_code == 0, make_result.stderr
    expected = (project / "infer_output.bin").read_bytes()
    (project / "infer_output.bin").unlink()
    for args in (["-S", project, "-B", tmp_path / "build"], ["--build", tmp_path / "build"]):
        done = subprocess.run(["cmake", *map(str, args)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    result = run_qemu(tmp_path / "build" / "app.elf", cwd=project, cpu="cortex-m4")
    assert result.exit_code == 0, result.stderr
    assert (project / "infer_output.bin").read_bytes() == expected and len(expected) == 12
