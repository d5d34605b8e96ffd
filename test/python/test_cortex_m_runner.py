"""Tests of the Cortex-M runtime (runtime/cortex_m) and its Python runner.

Builds tiny hand-written projects in tmp_path: a linear 8->3 softmax
cross-entropy model trained with SGD on the C kernels, run on the host and
under qemu (Cortex-M7 and Cortex-M4), plus programs that fault, exit with a
given code or overflow RAM.
"""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tcc.kernels
import tcc.runtime
from tcc.runtime.cortex_m_runner import (
    BuildError, ToolchainError, build, parse_losses, run_host, run_qemu, write_train_data)

RUNTIME_DIR = Path(tcc.runtime.__file__).parent / "cortex_m"
KERNELS_DIR = Path(tcc.kernels.__file__).parent / "c"

needs_host = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("make") is None, reason="needs gcc and make")
needs_arm_gcc = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("make") is None,
    reason="needs arm-none-eabi-gcc and make")
needs_qemu = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("make") is None
    or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc, make and qemu-system-arm")

BATCH, FEATURES, CLASSES, STEPS = 4, 8, 3, 24

MODEL_H = f"""\
#ifndef MODEL_H
#define MODEL_H
#include <stdint.h>
#define TCC_BATCH {BATCH}
#define TCC_INPUT_SIZE {BATCH * FEATURES}
#define TCC_NUM_CLASSES {CLASSES}
typedef float tcc_input_t;
typedef struct {{ const char *name; void *data; int32_t size; int32_t bytes; }} tcc_param;
int32_t tcc_model_num_params(void);
tcc_param tcc_model_param(int32_t index);
void tcc_model_init(void);
void tcc_model_infer(const float *input, float *logits);
float tcc_model_train_step(const float *input, const int32_t *labels);
#endif
"""

MODEL_C = f"""\
/* Linear {FEATURES}->{CLASSES} classifier, softmax cross-entropy, SGD. */
#include "model.h"
#include "tcc_kernels.h"

#define TCC_FEATURES {FEATURES}
#define TCC_LR 0.2f

static float tcc_w[TCC_NUM_CLASSES * TCC_FEATURES], tcc_b[TCC_NUM_CLASSES];
static float tcc_dw[TCC_NUM_CLASSES * TCC_FEATURES], tcc_db[TCC_NUM_CLASSES];
static float tcc_logits[TCC_BATCH * TCC_NUM_CLASSES];
static float tcc_dlogits[TCC_BATCH * TCC_NUM_CLASSES];

void tcc_model_init(void) {{
  for (int32_t i = 0; i < TCC_NUM_CLASSES * TCC_FEATURES; ++i)
    tcc_w[i] = 0.05f * (float)((i * 7) % 11 - 5);
  for (int32_t i = 0; i < TCC_NUM_CLASSES; ++i) tcc_b[i] = 0.0f;
}}

void tcc_model_infer(const float *input, float *logits) {{
  tcc_linear_f32(input, tcc_w, tcc_b, logits, TCC_BATCH, TCC_FEATURES, TCC_NUM_CLASSES);
}}

int32_t tcc_model_num_params(void) {{ return 2; }}

tcc_param tcc_model_param(int32_t index) {{
  tcc_param p = {{"weight", tcc_w, TCC_NUM_CLASSES * TCC_FEATURES, 4}};
  if (index == 1) {{ p.name = "bias"; p.data = tcc_b; p.size = TCC_NUM_CLASSES; }}
  return p;
}}

float tcc_model_train_step(const float *input, const int32_t *labels) {{
  float loss;
  tcc_model_infer(input, tcc_logits);
  tcc_cross_entropy_f32(tcc_logits, labels, &loss, TCC_BATCH, TCC_NUM_CLASSES);
  tcc_cross_entropy_grad_f32(tcc_logits, labels, tcc_dlogits, TCC_BATCH, TCC_NUM_CLASSES);
  tcc_linear_grad_weight_f32(tcc_dlogits, input, tcc_dw, TCC_BATCH, TCC_FEATURES,
                             TCC_NUM_CLASSES);
  tcc_bias_grad_f32(tcc_dlogits, tcc_db, TCC_BATCH, TCC_NUM_CLASSES, 1);
  tcc_sgd_f32(tcc_w, tcc_dw, TCC_LR, 1e-4f, TCC_NUM_CLASSES * TCC_FEATURES);
  tcc_sgd_f32(tcc_b, tcc_db, TCC_LR, 0.0f, TCC_NUM_CLASSES);
  return loss;
}}
"""


def make_project(project_dir: Path, sources: dict[str, str], *, harness: bool) -> Path:
    """Populates project_dir with the runtime files and `sources`.

    With `harness`, also adds main.c and the kernels (a training project).
    """
    project_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(RUNTIME_DIR / "Makefile.in", project_dir / "Makefile")
    for name in ("startup.c", "semihost.c", "semihost.h", "stm32f746.ld"):
        shutil.copy(RUNTIME_DIR / name, project_dir)
    if harness:
        shutil.copy(RUNTIME_DIR / "main.c", project_dir)
        for name in ("tcc_kernels.c", "tcc_kernels.h"):
            shutil.copy(KERNELS_DIR / name, project_dir)
    for name, text in sources.items():
        (project_dir / name).write_text(text)
    return project_dir


def training_data(steps: int = STEPS):
    """Separable data: each class has a fixed prototype plus small noise."""
    rng = np.random.default_rng(0)
    prototypes = rng.standard_normal((CLASSES, FEATURES))
    labels = rng.integers(0, CLASSES, (steps, BATCH)).astype(np.int32)
    inputs = prototypes[labels] + 0.1 * rng.standard_normal((steps, BATCH, FEATURES))
    return inputs.astype(np.float32), labels


@pytest.fixture
def train_project(tmp_path):
    project = make_project(tmp_path / "proj", {"model.h": MODEL_H, "model.c": MODEL_C},
                           harness=True)
    write_train_data(project / "train_data.bin", *training_data())
    return project


def assert_trained(result, steps: int = STEPS) -> list[float]:
    assert result.exit_code == 0, result.stderr
    losses = parse_losses(result.stdout)
    assert len(losses) == steps
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])
    return losses


# ------------------------------------------------------- pure python API ---

def test_write_train_data_format(tmp_path):
    inputs, labels = training_data(steps=2)
    path = tmp_path / "train_data.bin"
    write_train_data(path, inputs, labels)
    data = path.read_bytes()
    assert data[:4] == b"TCCD"
    assert np.frombuffer(data[4:16], "<u4").tolist() == [2, BATCH * FEATURES, BATCH]
    step = BATCH * FEATURES * 4 + BATCH * 4
    assert len(data) == 16 + 2 * step
    second = data[16 + step:16 + 2 * step]
    np.testing.assert_array_equal(
        np.frombuffer(second[:BATCH * FEATURES * 4], "<f4"), inputs[1].ravel())
    np.testing.assert_array_equal(np.frombuffer(second[BATCH * FEATURES * 4:], "<i4"), labels[1])


def test_parse_losses():
    out = "step 0 loss 1.5e+00\nnoise\nstep 1 loss 1.25e+00\n"
    assert parse_losses(out) == [1.5, 1.25]


def test_missing_toolchain_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="make"):
        build(tmp_path)


# ------------------------------------------------------------------ host ---

@needs_host
def test_host_training(train_project):
    assert_trained(run_host(build(train_project, host=True), cwd=train_project))


@needs_host
@pytest.mark.parametrize("corrupt", ["missing", "magic", "input_size", "batch", "short"])
def test_host_bad_data_exits_2(train_project, corrupt):
    data_file = train_project / "train_data.bin"
    data = data_file.read_bytes()
    if corrupt == "missing":
        data_file.unlink()
    else:
        data_file.write_bytes({
            "magic": b"TCCX" + data[4:],
            "input_size": data[:8] + (7).to_bytes(4, "little") + data[12:],
            "batch": data[:12] + (5).to_bytes(4, "little") + data[16:],
            "short": data[:-3],
        }[corrupt])
    result = run_host(build(train_project, host=True), cwd=train_project)
    assert result.exit_code == 2
    assert "train_data.bin" in result.stderr


# ------------------------------------------------------------------ qemu ---

@needs_qemu
def test_host_and_cortex_m7_losses_match(train_project):
    host = assert_trained(run_host(build(train_project, host=True), cwd=train_project))
    elf = build(train_project, cpu="cortex-m7")
    target = assert_trained(run_qemu(elf, cwd=train_project, cpu="cortex-m7"))
    np.testing.assert_allclose(target, host, rtol=1e-6)


def fp_arch(elf: Path) -> str:
    """Tag_FP_arch of an ELF: FPv5 for Cortex-M7, VFPv4 for Cortex-M4 builds."""
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], check=True,
                           capture_output=True, text=True, timeout=60).stdout
    return next(line.split(":", 1)[1].strip() for line in attrs.splitlines()
                if "Tag_FP_arch" in line)


@needs_qemu
def test_cortex_m4_after_m7_in_same_project(train_project):
    """Switching CPU rebuilds everything; Cortex-M4 and -M7 losses agree."""
    elf = build(train_project, cpu="cortex-m7")
    m7 = assert_trained(run_qemu(elf, cwd=train_project, cpu="cortex-m7"))
    check_fp = shutil.which("arm-none-eabi-readelf") is not None
    if check_fp:
        assert fp_arch(elf).startswith("FPv5")
    elf = build(train_project, cpu="cortex-m4")
    if check_fp:
        assert fp_arch(elf).startswith("VFPv4")
    m4 = assert_trained(run_qemu(elf, cwd=train_project, cpu="cortex-m4"))
    assert m4 == m7  # same newlib libm and summation order: bit-identical


@needs_qemu
def test_qemu_missing_train_data_exits_2(train_project):
    (train_project / "train_data.bin").unlink()
    result = run_qemu(build(train_project), cwd=train_project)
    assert result.exit_code == 2
    assert "train_data.bin" in result.stdout + result.stderr


@needs_qemu
def test_qemu_exit_code_is_exact(tmp_path):
    project = make_project(tmp_path, {"app.c": "int main(void) { return 42; }\n"},
                           harness=False)
    assert run_qemu(build(project), cwd=project, timeout=30).exit_code == 42


@needs_qemu
def test_hardfault_exits_nonzero(tmp_path):
    source = ("#include <stdint.h>\n"
              "int main(void) { return (int)*(volatile uint32_t *)0xFFFFFFF0u; }\n")
    project = make_project(tmp_path, {"fault.c": source}, harness=False)
    result = run_qemu(build(project), cwd=project, timeout=30)
    assert result.exit_code == 0x7F
    assert "HardFault" in result.stdout + result.stderr


@needs_arm_gcc
def test_ram_overflow_is_link_error(tmp_path):
    source = ("static volatile float tcc_big[90 * 1024]; /* 360 KB > 320 KB */\n"
              "int main(void) { tcc_big[0] = 1.0f; return (int)tcc_big[0]; }\n")
    project = make_project(tmp_path, {"big.c": source}, harness=False)
    with pytest.raises(BuildError) as err:
        build(project)
    assert "overflow" in err.value.output
    assert not (project / "app.elf").exists()
