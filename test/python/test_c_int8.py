"""The C target's int8 forward (kernels/c/tcc_int8.h through compiler/targets/c_renderer.py)
against TFLite Micro and the reference interpreter, bit for bit.

`CONFIGS` seeded random single-layer configurations (conv with strides, padding and
groups, depthwise with depth multipliers, pointwise, fully connected, add; random
shapes, zero points, per-channel scales, biases, some near the int32 limit so the
accumulator wraps, some with effective scales above 1) are each written as a one-op
`@forward` module (`rounding multiplier_shift`), rendered by the C renderer as one
model per configuration (`tcc_c<i>_infer`), and all of them linked into one program
with a generated harness that reads every input from one file and writes every output
to another. The program's outputs must equal TFLite Micro's (one-op .tflite models of
tflite_models.py) and the interpreter's. All of them are also built with
arm-none-eabi-gcc and run in qemu (a few programs of QEMU_CONFIGS each). Then the three TTE models (../shared/models/tte, skipped when
absent), imported with `--rounding multiplier_shift`, are rendered as inference
projects (runtime/cortex_m/infer_main.c) and their host build must give the
interpreter's logits on seeded images.
"""

from __future__ import annotations

import shutil
import subprocess
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

import tcc

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
pytest.importorskip("flatbuffers", reason="flatbuffers is not installed")

import tflite_models as tfm  # noqa: E402  (test/python, next to this file)
from tflite_models import schema  # noqa: E402

from tcc.compiler.source import new_context, parse_module  # noqa: E402
from tcc.compiler.targets import cortex_m  # noqa: E402
from tcc.compiler.targets.c_renderer import CRenderer  # noqa: E402
from tcc.runtime import cortex_m_runner as runner  # noqa: E402
from tcc.runtime.interpreter import run_function  # noqa: E402

SEED = 6006
KINDS = {"conv": 60, "depthwise": 50, "pointwise": 40, "linear": 30, "add": 30}
QEMU_CONFIGS = 70           # configurations per qemu program
TTE_DIR = Path(tcc.__file__).resolve().parent / ".." / "shared" / "models" / "tte"
TTE_MODELS = ("mcunet-5fps", "mbv2-w0.35", "proxyless-w0.3")
TTE_IMAGES = 3

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                               reason="needs gcc and make")


# ----------------------------------------------------------------------- configurations

@dataclass
class Config:
    """One layer: its kind, geometry, quantization, parameters and inputs."""

    index: int
    kind: str
    inputs: list                                  # int8 arrays, PyTorch layouts
    weight: np.ndarray | None = None              # int8 OIHW / [out, in]
    bias: np.ndarray | None = None                # int32 or None
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    groups: int = 1
    scales: dict = field(default_factory=dict)    # float32-representable scales, zero points

    @property
    def name(self) -> str:
        return f"c{self.index}"


def _zp(rng) -> int:
    return int(rng.integers(-128, 128))


def _bias(rng, o: int, taps: int):
    """None, ordinary biases, or (1 in 6) biases near the int32 limits: the accumulator
    wraps around, as TFLite's does (the TTE models' dead channels)."""
    regime = rng.integers(0, 6)
    if regime == 0:
        return None
    if regime == 1:
        return rng.choice([-(1 << 31), (1 << 31) - 1 - taps * 1000], size=o).astype(np.int32)
    return rng.integers(-40 * taps * 64, 40 * taps * 64, o).astype(np.int32)


def _quantization(rng, o: int, taps: int) -> dict:
    x_scale = tfm.f32(rng.uniform(0.002, 0.05))
    w_scales = tfm.f32(rng.uniform(0.001, 0.03, o))
    # Output scale around the accumulator's spread; 1 in 5 layers gets effective scales
    # above one (a left shift in TFLite's MultiplyByQuantizedMultiplier).
    spread = x_scale * float(np.median(w_scales)) * np.sqrt(taps) * 60.0
    factor = rng.uniform(0.002, 0.02) if rng.integers(0, 5) == 0 else rng.uniform(0.3, 3.0)
    return dict(x_scale=x_scale, x_zp=_zp(rng), w_scales=w_scales,
                y_scale=tfm.f32(spread * factor), y_zp=_zp(rng))


def _int8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, shape).astype(np.int8)


def _weights(rng, shape) -> np.ndarray:
    return rng.integers(-127, 128, shape).astype(np.int8)


def _conv_config(index: int, kind: str, rng) -> Config:
    n = int(rng.choice([1, 1, 2]))
    if kind == "pointwise":
        c, o = (int(v) for v in rng.integers(1, 33, 2))
        kh = kw = 1
        stride, padding, groups, m = (1, 1), (0, 0), 1, 0
    else:
        kh = int(rng.choice([1, 2, 3, 3, 5]))
        kw = kh if rng.integers(0, 4) else int(rng.choice([1, 3]))
        stride = tuple(int(v) for v in rng.choice([1, 1, 2, 3], 2))
        padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)))
        if kind == "depthwise":
            c, m = int(rng.integers(2, 9)), int(rng.choice([1, 1, 2, 3]))
            o, groups = c * m, c
        else:
            c, o, groups = int(rng.integers(1, 7)), int(rng.integers(1, 9)), 1
    h = int(rng.integers(max(kh - 2 * padding[0], 1), 11))
    w = int(rng.integers(max(kw - 2 * padding[1], 1), 11))
    cg = c // groups
    return Config(index, kind, [_int8(rng, (n, c, h, w))], _weights(rng, (o, cg, kh, kw)),
                  _bias(rng, o, cg * kh * kw), stride, padding, groups,
                  _quantization(rng, o, cg * kh * kw))


def _linear_config(index: int, rng) -> Config:
    n, k, m = int(rng.integers(1, 4)), int(rng.integers(1, 65)), int(rng.integers(1, 21))
    return Config(index, "linear", [_int8(rng, (n, k))], _weights(rng, (m, k)),
                  _bias(rng, m, k), scales=_quantization(rng, m, k))


def _add_config(index: int, rng) -> Config:
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 8)),
             int(rng.integers(1, 8)))
    scales = dict(a_scale=tfm.f32(rng.uniform(0.005, 0.2)), a_zp=_zp(rng),
                  b_scale=tfm.f32(rng.uniform(0.005, 0.2)), b_zp=_zp(rng),
                  y_scale=tfm.f32(rng.uniform(0.01, 0.3)), y_zp=_zp(rng))
    return Config(index, "add", [_int8(rng, shape), _int8(rng, shape)], scales=scales)


def make_configs() -> list[Config]:
    rng = np.random.default_rng(SEED)
    kinds = [k for k, count in KINDS.items() for _ in range(count)]
    rng.shuffle(kinds)
    configs = []
    for index, kind in enumerate(kinds):
        if kind == "linear":
            configs.append(_linear_config(index, rng))
        elif kind == "add":
            configs.append(_add_config(index, rng))
        else:
            configs.append(_conv_config(index, kind, rng))
    return configs


# ------------------------------------------------------------------------- TFLite Micro

def _linear_model(cfg: Config) -> bytes:
    """A one-op int8 FULLY_CONNECTED model (per-channel weights, [out, in])."""
    q = cfg.scales
    (n, k), m = cfg.inputs[0].shape, cfg.weight.shape[0]
    wr = tfm._ModelWriter()
    x = wr.tensor("x", (n, k), schema.TensorType.INT8, scales=[q["x_scale"]],
                  zero_points=[q["x_zp"]])
    w = wr.tensor("w", (m, k), schema.TensorType.INT8, data=cfg.weight,
                  scales=q["w_scales"], zero_points=np.zeros(m, np.int64))
    b = -1
    if cfg.bias is not None:
        b = wr.tensor("b", (m,), schema.TensorType.INT32, data=cfg.bias,
                      scales=np.float32(q["x_scale"]) * q["w_scales"].astype(np.float32),
                      zero_points=np.zeros(m, np.int64))
    y = wr.tensor("y", (n, m), schema.TensorType.INT8, scales=[q["y_scale"]],
                  zero_points=[q["y_zp"]])
    opts = schema.FullyConnectedOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
    wr.operator(schema.BuiltinOperator.FULLY_CONNECTED, [x, w, b], [y],
                schema.BuiltinOptions.FullyConnectedOptions, opts)
    return wr.finish([x], [y], "tcc single-op int8 fully connected")


def tflite_micro(cfg: Config) -> np.ndarray:
    """TFLite Micro's output for `cfg`, in PyTorch layout. A layer without bias gets
    zero biases there (TFLite Micro's DEPTHWISE_CONV_2D crashes on an absent one)."""
    if cfg.weight is not None and cfg.bias is None:
        cfg = replace(cfg, bias=np.zeros(cfg.weight.shape[0], np.int32))
    if cfg.kind == "linear":
        return tfm.run_tflite_micro(_linear_model(cfg), cfg.inputs)
    if cfg.kind == "add":
        model = tfm.add_model(tfm.nchw_to_nhwc(cfg.inputs[0]).shape, **cfg.scales)
        return tfm.nhwc_to_nchw(tfm.run_tflite_micro(
            model, [tfm.nchw_to_nhwc(a) for a in cfg.inputs]))
    model = tfm.conv2d_model(cfg.weight, cfg.bias, input_shape=cfg.inputs[0].shape,
                             stride=cfg.stride, padding=cfg.padding,
                             depthwise=cfg.kind == "depthwise", **cfg.scales)
    return tfm.nhwc_to_nchw(tfm.run_tflite_micro(model, [tfm.nchw_to_nhwc(cfg.inputs[0])]))


# --------------------------------------------------------------------- one-op modules

def _float(value: float) -> str:
    """An MLIR float literal that parses back to exactly `value`."""
    text = repr(float(value))
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def _tensor(shape, element: str) -> str:
    return "tensor<" + "x".join(str(int(d)) for d in shape) + "x" + element + ">"


def _act(scale: float, zp: int) -> str:
    return f"!quant.uniform<i8:f32, {_float(scale)}:{zp}>"


def _frozen(name: str) -> str:
    return f'{{train.name = "{name}", train.role = #train.role<frozen>}}'


def output_shape(cfg: Config) -> tuple:
    if cfg.kind == "add":
        return cfg.inputs[0].shape
    if cfg.kind == "linear":
        return (cfg.inputs[0].shape[0], cfg.weight.shape[0])
    n, _, h, w = cfg.inputs[0].shape
    kh, kw = cfg.weight.shape[2:]
    return (n, cfg.weight.shape[0], (h + 2 * cfg.padding[0] - kh) // cfg.stride[0] + 1,
            (w + 2 * cfg.padding[1] - kw) // cfg.stride[1] + 1)


def mlir_text(cfg: Config) -> str:
    """`@forward` holding the one quantized op of `cfg` (rounding multiplier_shift)."""
    q = cfg.scales
    if cfg.kind == "add":
        a_t = _tensor(cfg.inputs[0].shape, _act(q["a_scale"], q["a_zp"]))
        b_t = _tensor(cfg.inputs[1].shape, _act(q["b_scale"], q["b_zp"]))
        y_t = _tensor(output_shape(cfg), _act(q["y_scale"], q["y_zp"]))
        args = f'%a: {a_t} {{train.name = "a"}}, %b: {b_t} {{train.name = "b"}}'
        body = f"%y = train.qadd %a, %b rounding multiplier_shift : ({a_t}, {b_t}) -> {y_t}"
    else:
        x_t = _tensor(cfg.inputs[0].shape, _act(q["x_scale"], q["x_zp"]))
        w_t = _tensor(cfg.weight.shape, "!quant.uniform<i8:f32:0, {"
                      + ", ".join(_float(s) for s in q["w_scales"]) + "}>")
        y_t = _tensor(output_shape(cfg), _act(q["y_scale"], q["y_zp"]))
        operands, types = "%x, %w", f"{x_t}, {w_t}"
        args = f'%x: {x_t} {{train.name = "x"}}, %w: {w_t} {_frozen("w")}'
        if cfg.bias is not None:
            b_t = _tensor(cfg.bias.shape, "i32")
            operands, types = operands + ", %b", types + f", {b_t}"
            args += f", %b: {b_t} {_frozen('b')}"
        if cfg.kind == "linear":
            body = f"%y = train.qlinear {operands} rounding multiplier_shift"
        else:
            body = (f"%y = train.qconv2d {operands} stride [{cfg.stride[0]}, {cfg.stride[1]}]"
                    f" padding [{cfg.padding[0]}, {cfg.padding[1]}] groups {cfg.groups}"
                    " rounding multiplier_shift")
        body += f" : ({types}) -> {y_t}"
    return (f"func.func @forward({args}) -> {y_t} {{\n  {body}\n  return %y : {y_t}\n}}\n")


def arguments(cfg: Config) -> list[np.ndarray]:
    """@forward's arguments: the inputs, then the weight and the bias if any."""
    params = [] if cfg.kind == "add" else [cfg.weight] + \
        ([cfg.bias] if cfg.bias is not None else [])
    return list(cfg.inputs) + params


def module_of(cfg: Config):
    return parse_module(mlir_text(cfg), f"{cfg.name}.mlir", new_context())


def interpreter(cfg: Config) -> np.ndarray:
    (y,) = run_function(module_of(cfg), "forward", arguments(cfg))
    return np.asarray(y)


# ------------------------------------------------------------------ the C program

def render(cfg: Config, renderer=CRenderer) -> dict[str, str]:
    """`c<i>.h` / `c<i>.c`: the configuration as an inference-only model."""
    args = arguments(cfg)
    parameters = {i: a for i, a in enumerate(args) if i >= len(cfg.inputs)}
    return renderer(module_of(cfg), parameters, step=None, name=cfg.name).render()


def harness(configs: list[Config]) -> str:
    """main.c: reads every configuration's inputs from inputs.bin, in order, runs
    tcc_c<i>_infer and appends its output to outputs.bin."""
    largest = max(a.size for cfg in configs for a in cfg.inputs)
    out_largest = max(int(np.prod(output_shape(cfg))) for cfg in configs)
    lines = ["/* Generated by test_c_int8.py: runs every configuration once. */",
             "#include <stdint.h>", "#include <stdio.h>", ""]
    for cfg in configs:
        inputs = ", ".join("const int8_t *" for _ in cfg.inputs)
        lines += [f"void tcc_{cfg.name}_init(void);",
                  f"void tcc_{cfg.name}_infer({inputs}, int8_t *);"]
    lines += ["", f"static int8_t in0[{largest}], in1[{largest}], out[{out_largest}];", "",
              "/* Reads the a (and b) bytes of one configuration's inputs. */",
              "static int read_inputs(FILE *in, size_t a, size_t b) {",
              "  return fread(in0, 1, a, in) != a || (b && fread(in1, 1, b, in) != b);",
              "}", "",
              "int main(void) {",
              '  FILE *in = fopen("inputs.bin", "rb");',
              '  FILE *o = fopen("outputs.bin", "wb");',
              "  if (in == NULL || o == NULL) return 2;"]
    for cfg in configs:
        sizes = [a.size for a in cfg.inputs] + [0]
        y = int(np.prod(output_shape(cfg)))
        call = ", ".join(["in0", "in1"][:len(cfg.inputs)] + ["out"])
        lines += [f"  if (read_inputs(in, {sizes[0]}, {sizes[1]})) return 3;",
                  f"  tcc_{cfg.name}_init();", f"  tcc_{cfg.name}_infer({call});",
                  f"  if (fwrite(out, 1, {y}, o) != {y}) return 4;"]
    lines += ["  fclose(in);", "  fclose(o);", "  return 0;", "}", ""]
    return "\n".join(lines)


def write_program(configs: list[Config], directory: Path) -> None:
    """A Cortex-M project holding every configuration's model and the harness."""
    runtime = Path(tcc.__file__).parent / "runtime" / "cortex_m"
    kernels = Path(tcc.__file__).parent / "kernels" / "c"
    directory.mkdir(parents=True)
    for name in cortex_m.RUNTIME_FILES:
        shutil.copy(runtime / name, directory / name)
    shutil.copy(runtime / "Makefile.in", directory / "Makefile")
    for name in cortex_m.KERNEL_FILES:
        shutil.copy(kernels / name, directory / name)
    for cfg in configs:
        for name, text in render(cfg, cortex_m.CortexMRenderer).items():
            (directory / name).write_text(text)
    (directory / "main.c").write_text(harness(configs))
    with open(directory / "inputs.bin", "wb") as f:
        for cfg in configs:
            for a in cfg.inputs:
                f.write(np.ascontiguousarray(a, np.int8).tobytes())


def read_outputs(configs: list[Config], path: Path) -> list[np.ndarray]:
    data = np.fromfile(path, np.int8)
    sizes = [int(np.prod(output_shape(cfg))) for cfg in configs]
    assert data.size == sum(sizes), f"{data.size} output bytes, expected {sum(sizes)}"
    starts = np.cumsum([0] + sizes)
    return [data[s:s + n].reshape(output_shape(cfg))
            for cfg, s, n in zip(configs, starts, sizes)]


def build_and_run(configs: list[Config], directory: Path, *, host: bool) -> list[np.ndarray]:
    write_program(configs, directory)
    if host:
        # One gcc call for every translation unit (the Makefile would start one per file).
        sources = sorted(str(p.name) for p in directory.glob("*.c")
                         if p.name not in ("startup.c", "semihost.c"))
        subprocess.run(["gcc", "-std=c99", "-O1", "-ffp-contract=off", "-Wall", "-Wextra",
                        "-Werror", "-Wdouble-promotion", *sources, "-o", "app_host", "-lm"],
                       cwd=directory, check=True, capture_output=True, text=True, timeout=600)
        result = runner.run_host(directory / "app_host", cwd=directory)
    else:
        elf = runner.build(directory, cpu="cortex-m7")
        result = runner.run_qemu(elf, cwd=directory, timeout=120)
    assert result.exit_code == 0, result.stderr
    return read_outputs(configs, directory / "outputs.bin")


def _mismatch(cfg: Config, got: np.ndarray, expected: np.ndarray, what: str) -> str | None:
    if got.shape == expected.shape and np.array_equal(got, expected):
        return None
    if got.shape != expected.shape:
        return f"{cfg.name} ({cfg.kind}): shape {got.shape}, {what} {expected.shape}"
    bad = np.argwhere(got != expected)
    first = tuple(int(v) for v in bad[0])
    return (f"{cfg.name} ({cfg.kind}, input {cfg.inputs[0].shape}, stride {cfg.stride}, "
            f"padding {cfg.padding}): {len(bad)} of {got.size} differ from {what}, first at "
            f"{first}: C {int(got[first])}, {what} {int(expected[first])}")


# ----------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def configs() -> list[Config]:
    return make_configs()


@pytest.fixture(scope="module")
def expected(configs) -> list[np.ndarray]:
    """TFLite Micro's outputs, checked against the interpreter's first."""
    outputs = [tflite_micro(cfg) for cfg in configs]
    bad = [m for cfg, y in zip(configs, outputs)
           if (m := _mismatch(cfg, interpreter(cfg), y, "TFLite Micro")) is not None]
    assert not bad, "interpreter != TFLite Micro:\n" + "\n".join(bad)
    return outputs


def test_configurations_cover_the_layer_kinds(configs):
    assert len(configs) >= 200
    convs = [c for c in configs if c.kind in ("conv", "depthwise")]
    assert {c.kind for c in configs} == set(KINDS)
    assert any(c.stride != (1, 1) for c in convs) and any(c.padding != (0, 0) for c in convs)
    assert any(c.kind == "depthwise" and c.weight.shape[0] > c.inputs[0].shape[1]
               for c in configs)                                   # depth multiplier > 1
    assert any(c.bias is not None and np.abs(c.bias.astype(np.int64)).max() >= 1 << 30
               for c in configs)                                   # the accumulator wraps
    assert any(c.kind != "add" and c.scales["x_scale"] * c.scales["w_scales"].max()
               > c.scales["y_scale"] for c in configs)             # effective scale > 1


def test_renderer_specialises_the_conv_kinds(configs):
    """Depthwise and pointwise layers call their own kernels, with constant shapes and
    QuantizeMultiplier's tables."""
    from tcc.runtime import quantized_ops as qo

    cfg = next(c for c in configs if c.kind == "depthwise")
    source = render(cfg)[f"{cfg.name}.c"]
    assert "tcc_q_depthwise_conv2d_s8_inline(" in source
    eff = np.float64(cfg.scales["x_scale"]) * cfg.scales["w_scales"] / cfg.scales["y_scale"]
    multipliers = ", ".join(str(qo.quantize_multiplier(e)[0]) for e in eff)
    assert f"multiplier[{len(eff)}] = {{{multipliers}}};" in source
    cfg = next(c for c in configs if c.kind == "pointwise")
    assert "tcc_q_pointwise_conv2d_s8_inline(" in render(cfg)[f"{cfg.name}.c"]
    cfg = next(c for c in configs if c.kind == "conv" and c.weight.shape[2] == 3)
    source = render(cfg)[f"{cfg.name}.c"]
    assert "tcc_q_conv2d_im2col_s8_inline(" in source
    assert "const tcc_q_conv_shape s = {" in source


@needs_gcc
def test_host_build_equals_tflite_micro(configs, expected, tmp_path):
    outputs = build_and_run(configs, tmp_path / "host", host=True)
    bad = [m for cfg, got, want in zip(configs, outputs, expected)
           if (m := _mismatch(cfg, got, want, "TFLite Micro")) is not None]
    assert not bad, f"{len(bad)} of {len(configs)} configurations:\n" + "\n".join(bad)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or
                    shutil.which("qemu-system-arm") is None or shutil.which("make") is None,
                    reason="needs arm-none-eabi-gcc, qemu-system-arm and make")
def test_qemu_build_equals_tflite_micro(configs, expected, tmp_path):
    """Every configuration, in qemu: one Cortex-M7 program per QEMU_CONFIGS of them (so
    each fits the board's memory)."""
    pairs = list(zip(configs, expected))
    bad = []
    for start in range(0, len(pairs), QEMU_CONFIGS):
        chunk = pairs[start:start + QEMU_CONFIGS]
        outputs = build_and_run([cfg for cfg, _ in chunk], tmp_path / f"qemu{start}",
                                host=False)
        bad += [m for (cfg, want), got in zip(chunk, outputs)
                if (m := _mismatch(cfg, got, want, "TFLite Micro")) is not None]
    assert not bad, f"{len(bad)} of {len(pairs)} configurations:\n" + "\n".join(bad)


# ------------------------------------------------------------------- the TTE models

requires_models = pytest.mark.skipif(
    not all((TTE_DIR / f"{m}.json").is_file() and (TTE_DIR / f"{m}.npz").is_file()
            for m in TTE_MODELS), reason=f"the TTE models are not in {TTE_DIR}")


@needs_gcc
@requires_models
@pytest.mark.parametrize("name", TTE_MODELS)
def test_tte_model_host_build_equals_interpreter(name, tmp_path):
    from tcc.compiler.frontends.tte import import_tte
    from tcc.compiler.parameters import select_parameters
    from tcc.compiler.source import find_function

    path = TTE_DIR / f"{name}.json"
    model = import_tte(path, rounding="multiplier_shift")
    forward = find_function(model.module, "forward")
    parameters = select_parameters(forward, model.weights, str(path))
    renderer = cortex_m.CortexMRenderer(model.module, parameters, step=None)
    project = tmp_path / name
    # The host build checks the numbers, not the fit (MCUNet's forward-only arena exceeds
    # the F746's 320 KB): a target with room to spare.
    roomy = replace(cortex_m.TARGETS["cortex-m7"], ram_bytes=4 << 20)
    cortex_m.write_project(renderer, roomy, project)
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    shape = [TTE_IMAGES] + [int(d) for d in renderer.input_value.type.shape]
    images = rng.integers(-128, 128, shape).astype(np.int8)
    images.tofile(project / "infer_input.bin")
    result = runner.run_host(runner.build(project, host=True), cwd=project)
    assert result.exit_code == 0, result.stderr
    logits = np.fromfile(project / "infer_output.bin", np.float32).reshape(TTE_IMAGES, -1)
    for image, got in zip(images, logits):
        inputs = [image if i == renderer.input_index else parameters[i]
                  for i in range(len(forward.entry_block.arguments))]
        (want,) = run_function(model.module, "forward", inputs)
        assert want.dtype == np.float32 and np.array_equal(got, want.reshape(-1)), \
            f"{name}: {int(np.count_nonzero(got != want.reshape(-1)))} logits differ"


# ------------------------------------------- quantize, pools and dequantize, both roundings

PIPELINE = """
!x = !quant.uniform<i8:f32, 0.0173:3>
!c = !quant.uniform<i8:f32, 0.0391:-5>
!w = !quant.uniform<i8:f32:0, {{0.011, 0.0052, 0.0236, 0.0087}}>
func.func @forward(%x: tensor<1x3x9x9xf32> {{train.name = "x"}},
                   %w: tensor<4x3x3x3x!w> {{train.name = "w", train.role = #train.role<frozen>}},
                   %b: tensor<4xi32> {{train.name = "b", train.role = #train.role<frozen>}})
    -> tensor<1x4xf32> {{
  %q = quant.qcast %x : tensor<1x3x9x9xf32> to tensor<1x3x9x9x!x>
  %c = train.qconv2d %q, %w, %b padding [1, 1] rounding {r}
      : (tensor<1x3x9x9x!x>, tensor<4x3x3x3x!w>, tensor<4xi32>) -> tensor<1x4x9x9x!c>
  %p = train.qavg_pool2d %c kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad
      rounding {r} : (tensor<1x4x9x9x!c>) -> tensor<1x4x5x5x!c>
  %s = train.qavg_pool2d %p kernel [2, 2] stride [1, 1] padding [1, 1] rounding {r}
      : (tensor<1x4x5x5x!c>) -> tensor<1x4x6x6x!c>
  %g = train.qglobal_avg_pool %s rounding {r} : tensor<1x4x6x6x!c> -> tensor<1x4x1x1x!c>
  %r = train.reshape %g : tensor<1x4x1x1x!c> -> tensor<1x4x!c>
  %y = quant.dcast %r : tensor<1x4x!c> to tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}}
"""


@needs_gcc
@pytest.mark.parametrize("rounding", ["multiplier_shift", "float_scale"])
def test_quantize_pools_dequantize_project_equals_interpreter(rounding, tmp_path):
    """qcast -> qconv2d -> both average pools -> global pool -> dcast as an inference
    project (runtime/cortex_m/infer_main.c), on the host, under both roundings."""
    module = parse_module(PIPELINE.format(r=rounding), "pipeline.mlir", new_context())
    rng = np.random.default_rng(SEED)
    parameters = {1: _weights(rng, (4, 3, 3, 3)),
                  2: rng.integers(-3000, 3000, 4).astype(np.int32)}
    renderer = cortex_m.CortexMRenderer(module, parameters, step=None)
    project = tmp_path / "pipeline"
    cortex_m.write_project(renderer, cortex_m.TARGETS["cortex-m7"], project)
    source = (project / "model.c").read_text()
    assert "tcc_quantize_s8_inline(" in source and "tcc_dequantize_s8_inline(" in source
    # Inputs on a 0.0173 / 4 grid put many values on exact .5 ties of the quantizer.
    images = (rng.integers(-400, 400, (16, 1, 3, 9, 9)) * np.float32(0.0173 / 4))
    images = images.astype(np.float32)
    images.tofile(project / "infer_input.bin")
    result = runner.run_host(runner.build(project, host=True), cwd=project)
    assert result.exit_code == 0, result.stderr
    logits = np.fromfile(project / "infer_output.bin", np.float32).reshape(16, 1, 4)
    for image, got in zip(images, logits):
        (want,) = run_function(module, "forward", [image, parameters[1], parameters[2]])
        assert np.array_equal(got, want), (got, want)


def test_layer_whose_sums_leave_int32_is_refused():
    """More than 2**31 / (255 * 128) products per output could overflow the int32
    accumulator before the bias: a compile-time error naming the op's location."""
    from tcc.compiler.errors import UnsupportedError

    k = 70000
    cfg = Config(0, "linear", [np.zeros((1, k), np.int8)], np.ones((1, k), np.int8), None,
                 scales=dict(x_scale=0.01, x_zp=0, w_scales=np.array([0.01]), y_scale=0.1,
                             y_zp=0))
    with pytest.raises(UnsupportedError,
                       match=r":2:\d+: error: 'train.qlinear' sums 70000 products"):
        render(cfg)


# ------------------------------------------------- the kernels' fixed-point shortcuts

FIXED_POINT_MAIN = r"""
#include <stdio.h>
#include "tcc_int8.h"
/* Per line of fixed_in.txt "x multiplier shift": the generic tcc_mbqm, and (if the
 * shift is a right shift) the kernels' short path tcc_rdbpot1(tcc_srdhm_pos(...)). */
int main(void) {
  FILE *in = fopen("fixed_in.txt", "r");
  long x, m, sh;
  if (in == NULL) return 2;
  while (fscanf(in, "%ld %ld %ld", &x, &m, &sh) == 3) {
    const int32_t generic = tcc_mbqm((int32_t)x, (int32_t)m, (int32_t)sh);
    const int32_t fast = sh <= -1 ? tcc_rdbpot1(tcc_srdhm_pos((int32_t)x, (int32_t)m),
                                                (int32_t)(-sh - 1)) : generic;
    printf("%ld %ld\n", (long)generic, (long)fast);
  }
  return 0;
}
"""


@needs_gcc
def test_fixed_point_shortcuts_equal_gemmlowp(tmp_path):
    """tcc_srdhm's nudge-free form and tcc_rdbpot1 (the kernels' requantization path)
    equal runtime/quantized_ops.py's gemmlowp functions at the int32 extremes, on exact
    ties of both roundings and on random values, for every shift from -31 to 7."""
    from tcc.runtime import quantized_ops as qo

    rng = np.random.default_rng(SEED)
    edges = np.array([-(1 << 31), -(1 << 31) + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3,
                      (1 << 30), (1 << 31) - 1], np.int64)
    xs, ms, shifts = [], [], []
    for shift in range(-31, 8):
        # Exact ties: x * m / 2^31 an odd multiple of 1/2, then of 2^(e-1) after srdhm.
        tie = np.array([(2 * k + 1) << max(-shift - 1, 0) for k in range(-3, 3)], np.int64)
        for m in [0, 1 << 30, (1 << 31) - 1, *rng.integers(1 << 30, 1 << 31, 4)]:
            x = np.concatenate([edges, rng.integers(-(1 << 31), 1 << 31, 40),
                                rng.integers(-5000, 5000, 20), (tie << 1) if m == 1 << 30
                                else tie])
            x = np.clip(x, -(1 << 31), (1 << 31) - 1)
            xs.append(x)
            ms.append(np.full(x.size, m))
            shifts.append(np.full(x.size, shift))
    x, m, shift = (np.concatenate(v) for v in (xs, ms, shifts))
    np.savetxt(tmp_path / "fixed_in.txt", np.stack([x, m, shift], 1), fmt="%d")
    (tmp_path / "main.c").write_text(FIXED_POINT_MAIN)
    kernels = Path(tcc.__file__).parent / "kernels" / "c"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=undefined", "-fno-sanitize-recover", f"-I{kernels}",
                    "main.c", "-o", "fixed", "-lm"], cwd=tmp_path, check=True,
                   capture_output=True, text=True)
    result = subprocess.run(["./fixed"], cwd=tmp_path, capture_output=True, text=True,
                            check=True)
    got = np.loadtxt(result.stdout.splitlines(), dtype=np.int64).reshape(-1, 2)
    want = qo.multiply_by_quantized_multiplier(x, m, shift)
    assert np.array_equal(got[:, 0], want), "tcc_mbqm differs from gemmlowp"
    assert np.array_equal(got[:, 1], want), "the short path differs from gemmlowp"
