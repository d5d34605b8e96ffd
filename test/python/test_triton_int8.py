"""The int8 Triton kernels beyond the GEMMs (kernels/triton/quantized.py: qadd,
qavg_pool2d, qglobal_avg_pool, quant.dcast / qcast / scast, train.qsgd, and
train.conv2d_qsgd through conv2d_grad_weight and qsgd) and int8 models
on the GPU target (compiler/targets/gpu.py), bit-exact with the reference interpreter
(runtime/quantized_ops.py, runtime/quantized_training.py) in both roundings.

Kernels run in Triton's interpreter on CPU tensors, switched on before triton is
imported: the parent test re-runs this file in a child pytest with TRITON_INTERPRET=1
(TCC_TRITON_INT8_TESTS=interpret); a second child, without the interpreter, compiles the
new kernels for GPUTarget("cuda", 90, 32) with the options they launch with and checks
the PTX for what bit-exactness needs. The TTE model tests read ../shared/models/tte and
skip without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("triton")
import torch  # noqa: E402

import tcc  # noqa: E402
from numerics import rel_error  # noqa: E402

MODE = os.environ.get("TCC_TRITON_INT8_TESTS")
interpreted = pytest.mark.skipif(MODE != "interpret", reason="runs in the interpreter child")
compiled = pytest.mark.skipif(MODE != "aot", reason="runs in the AOT child")
ROUNDINGS = ("float_scale", "multiplier_shift")
TTE = Path(tcc.__file__).parent / ".." / "shared" / "models" / "tte"
needs_tte = pytest.mark.skipif(not (TTE / "mcunet-5fps.json").is_file(),
                               reason=f"the TTE models are not available ({TTE} is absent)")


@pytest.mark.skipif(MODE is not None, reason="the parent test")
@pytest.mark.parametrize("mode", ["interpret", "aot"])
def test_children(mode):
    from triton_child import run_child
    run_child(__file__, "TCC_TRITON_INT8_TESTS", mode)


# ---------------------------------------------------------------------------------------
# Helpers (child processes only)
# ---------------------------------------------------------------------------------------

def _q():
    from tcc.kernels.triton import quantized
    return quantized


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _int8(rng, *shape):
    return rng.integers(-128, 128, shape).astype(np.int8)


def exact(actual, expected):
    """An int8 kernel result equals the reference: dtype, shape and every value."""
    expected = np.asarray(expected)
    assert actual.dtype == getattr(torch, expected.dtype.name), (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual.numpy(), expected)


# ---------------------------------------------------------------------------------------
# Kernels on seeded random shapes (not multiples of the blocks)
# ---------------------------------------------------------------------------------------

@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("shape", [(3, 5, 7, 9), (4097,), (2, 33)], ids=str)
def test_qadd_bit_exact(rounding, shape):
    from tcc.runtime import quantized_ops as qo
    rng = np.random.default_rng(sum(shape))
    for trial in range(3):
        a, b = _int8(rng, *shape), _int8(rng, *shape)
        kw = dict(a_scale=float(rng.uniform(1e-3, 0.05)), a_zp=int(rng.integers(-128, 128)),
                  b_scale=float(rng.uniform(1e-3, 0.05)), b_zp=int(rng.integers(-128, 128)),
                  y_scale=float(rng.uniform(1e-3, 0.08)), y_zp=int(rng.integers(-20, 20)),
                  rounding=rounding)
        if trial == 2:      # equal scales: exact halves, the ties of both roundings
            kw.update(a_scale=0.5, b_scale=0.5, y_scale=2.0, qmin=-100, qmax=90)
        expected = qo.qadd(a, b, **kw)
        assert len(np.unique(expected)) > 20          # not saturated
        exact(_q().qadd(_t(a), _t(b), **kw), expected)


POOLS = [  # input shape, kernel, stride, padding, count_include_pad
    ((2, 3, 11, 13), (3, 3), (2, 2), (1, 1), True),
    ((2, 3, 11, 13), (3, 2), (1, 2), (1, 1), False),
    ((1, 5, 7, 7), (7, 7), None, (0, 0), True),
    ((3, 70, 9, 10), (2, 2), (2, 2), (0, 0), True),
    ((1, 4, 6, 5), (5, 5), (1, 1), (2, 2), False),
]


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("case", POOLS, ids=lambda c: "x".join(map(str, c[0] + c[1])))
def test_qavg_pool2d_bit_exact(rounding, case):
    from tcc.runtime import quantized_ops as qo
    shape, kernel, stride, padding, include = case
    rng = np.random.default_rng(sum(shape))
    x = _int8(rng, *shape)
    kw = dict(kernel=kernel, stride=stride, padding=padding, count_include_pad=include,
              rounding=rounding, zp=int(rng.integers(-40, 40)), qmin=-120, qmax=125)
    exact(_q().qavg_pool2d(_t(x), **kw), qo.qavg_pool2d(x, **kw))


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_qglobal_avg_pool_bit_exact(rounding):
    from tcc.runtime import quantized_ops as qo
    rng = np.random.default_rng(3)
    for shape in [(2, 5, 3, 3), (3, 40, 17, 19), (1, 7, 1, 1), (2, 3, 30, 30)]:
        x = _int8(rng, *shape)
        exact(_q().qglobal_avg_pool(_t(x), rounding=rounding),
              qo.qglobal_avg_pool(x, rounding=rounding))
    # Means k + 1/2 of both signs: to even (float_scale) or away from zero.
    ties = np.array([2, 3, -2, -3, 4, 5, -4, -5, 0, 1, 0, -1], np.int8).reshape(1, 6, 1, 2)
    expected = qo.qglobal_avg_pool(ties, rounding=rounding)
    exact(_q().qglobal_avg_pool(_t(ties), rounding=rounding), expected)
    assert expected.reshape(-1).tolist() == ([2, -2, 4, -4, 0, 0] if rounding == "float_scale"
                                             else [3, -3, 5, -5, 1, -1])


@interpreted
@pytest.mark.parametrize("shape, axis", [((5, 3, 4), None), ((5, 3, 4), 1), ((6, 2), 0),
                                          ((4, 3, 2, 5), 3)], ids=str)
def test_casts_bit_exact(shape, axis):
    from tcc.runtime import quantized_ops as qo
    rng = np.random.default_rng(len(shape) * 10 + (axis or 0))
    q = _int8(rng, *shape)
    if axis is None:
        scale, zp = 0.037, 5
    else:
        scale = [float(s) for s in rng.uniform(1e-3, 0.1, shape[axis])]
        zp = [int(z) for z in rng.integers(-10, 10, shape[axis])]
    kw = dict(scale=scale, zp=zp, axis=axis)
    for dtype in (torch.float32, torch.float64):
        exact(_q().dcast(_t(q), dtype=dtype, **kw),
              qo.dequantize(q, dtype=getattr(np, str(dtype)[6:]), **kw))
    # Quantize values around the grid: halves (ties to even), NaN, infinities, and a
    # narrowed storage range.
    real = qo.dequantize(q, **kw, dtype=np.float64)
    step = np.broadcast_to(np.asarray(scale, np.float64).reshape(
        [-1 if d == axis else 1 for d in range(len(shape))]), shape)
    x = (real + step * rng.choice([-0.5, 0.5, 0.25, 3.0], shape)).astype(np.float32)
    x.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
    for qmin, qmax in ((-128, 127), (-127, 100)):
        exact(_q().qcast(_t(x), qmin=qmin, qmax=qmax, **kw),
              qo.quantize(x, qmin=qmin, qmax=qmax, **kw))
    copy = _q().scast(_t(q))
    assert copy.data_ptr() != _t(q).data_ptr()
    exact(copy, q)


QSGD = [  # storage, shape, qas, weight decay, lr
    ("int8", (6, 3, 3, 3), True, 0.0, 0.05),
    ("int8", (7, 5), False, 0.01, 2e3),
    ("int8", (5, 4, 1, 1), True, 1e-3, 0.5),
    ("int32", (6,), True, 1e-3, 0.05),
    ("int32", (9,), False, 0.0, 1e6),
]


@interpreted
@pytest.mark.parametrize("case", QSGD, ids=lambda c: f"{c[0]}-{c[1]}-qas{c[2]}-wd{c[3]}")
def test_qsgd_bit_exact(case):
    """Updates with and without QAS and weight decay: rounding, saturation (int32 biases
    at the limits), a dead channel (scale 1e-9 << the median), NaN gradients, per-tensor
    and per-channel scales; in place through out=param."""
    from tcc.runtime import quantized_training as qt
    storage, shape, qas, decay, lr = case
    rng = np.random.default_rng(len(shape) + int(qas))
    if storage == "int8":
        param, qmin, qmax = _int8(rng, *shape), -128, 127
    else:
        param = rng.integers(-2**31, 2**31, shape, dtype=np.int64).astype(np.int32)
        param[:2] = [2**31 - 1, -2**31]
        qmin, qmax = -2**31, 2**31 - 1
    grad = rng.standard_normal(shape).astype(np.float32)
    grad.reshape(-1)[3] = np.nan
    scales = [float(s) for s in rng.uniform(1e-3, 2e-2, shape[0])]
    scales[2] = 1e-9
    for s in (scales, 0.01):
        kw = dict(lr=float(np.float32(lr)), scales=s, qas=qas,
                  weight_decay=float(np.float32(decay)), qmin=qmin, qmax=qmax)
        expected = qt.qsgd(param, grad, **kw)
        assert (expected != param).sum() > param.size // 4       # the step moves values
        exact(_q().qsgd(_t(param), _t(grad), **kw), expected)
        in_place = _t(param.copy())
        _q().qsgd(in_place, _t(grad), out=in_place, **kw)
        exact(in_place, expected)
    zp = [int(z) for z in rng.integers(-3, 4, shape[0])]
    if storage == "int8":          # zero points (weight decay acts on q - z)
        kw = dict(kw, scales=scales, zero_points=zp, weight_decay=0.25)
        exact(_q().qsgd(_t(param), _t(grad), **kw), qt.qsgd(param, grad, **kw))


@interpreted
def test_kernels_reject_bad_input():
    from tcc.compiler.errors import InputError, UnsupportedError
    q = _q()
    a = torch.zeros(2, 3, dtype=torch.int8)
    add = dict(a_scale=0.1, a_zp=0, b_scale=0.1, b_zp=0, y_scale=0.1, y_zp=0)
    with pytest.raises(UnsupportedError, match="equal shapes"):
        q.qadd(a, torch.zeros(3, dtype=torch.int8), rounding="float_scale", **add)
    with pytest.raises(InputError, match="unknown rounding"):
        q.qadd(a, a, rounding="ceil", **add)
    with pytest.raises(InputError, match="scales must be positive"):
        q.qadd(a, a, rounding="float_scale", **{**add, "y_scale": 0.0})
    with pytest.raises(InputError, match="exceeds half the kernel"):
        q.qavg_pool2d(torch.zeros(1, 1, 4, 4, dtype=torch.int8), kernel=2, padding=2,
                      rounding="float_scale")
    with pytest.raises(InputError, match="rank 4"):
        q.qglobal_avg_pool(a, rounding="float_scale")
    with pytest.raises(InputError, match="2 scales and 2 zero points for 3 channels"):
        q.dcast(a, scale=[0.1, 0.2], zp=[0, 0], axis=1)
    with pytest.raises(InputError, match="scales must be positive and finite"):
        q.qcast(torch.zeros(3), scale=0.0, zp=0)
    with pytest.raises(UnsupportedError, match="torch.float32"):
        q.qsgd(a, a, lr=0.1, scales=0.1, qas=True, qmin=-128, qmax=127)
    with pytest.raises(InputError, match="learning rate"):
        q.qsgd(a, torch.zeros(2, 3), lr=0.0, scales=0.1, qas=True, qmin=-128, qmax=127)
    with pytest.raises(InputError, match="does not fit torch.int8"):
        q.qsgd(a, torch.zeros(2, 3), lr=0.1, scales=0.1, qas=True, qmin=-2**31, qmax=127)
    with pytest.raises(InputError, match="out must be a torch.int8 tensor of shape"):
        q.qcast(torch.zeros(3), scale=0.1, zp=0, out=torch.zeros(4, dtype=torch.int8))


# ---------------------------------------------------------------------------------------
# The ops' keywords from MLIR, through the GPU target
# ---------------------------------------------------------------------------------------

def _qt(scale, zp, storage="i8"):
    return f"!quant.uniform<{storage}:f32, {scale!r}:{zp}>"


WS = "!quant.uniform<i8:f32:0, {0.01,0.02,0.005,4.0e-12}>"
OPS_MODULE = f"""
func.func @f(%x: tensor<2x4x7x6xf32>, %y: tensor<2x4x7x6x{_qt(0.05, 3)}>,
             %w: tensor<4x3x2x2x{WS}>, %gw: tensor<4x3x2x2xf32>,
             %b: tensor<4xi32>, %gb: tensor<4xf32>)
    -> (tensor<2x4x1x1xf32>, tensor<2x4x4x4xf32>, tensor<4x3x2x2xf32>,
        tensor<4x3x2x2x{WS}>, tensor<4xi32>) {{
  %q = quant.qcast %x : tensor<2x4x7x6xf32> to tensor<2x4x7x6x{_qt(0.04, -5)}>
  %s = train.qadd %q, %y rounding ROUNDING
      : (tensor<2x4x7x6x{_qt(0.04, -5)}>, tensor<2x4x7x6x{_qt(0.05, 3)}>)
      -> tensor<2x4x7x6x{_qt(0.07, 2, "i8<-100:100>")}>
  %p = train.qavg_pool2d %s kernel [3, 2] stride [2, 2] padding [1, 1] rounding ROUNDING
      : (tensor<2x4x7x6x{_qt(0.07, 2, "i8<-100:100>")}>)
      -> tensor<2x4x4x4x{_qt(0.07, 2, "i8<-100:100>")}>
  %g = train.qglobal_avg_pool %s rounding ROUNDING
      : tensor<2x4x7x6x{_qt(0.07, 2, "i8<-100:100>")}>
      -> tensor<2x4x1x1x{_qt(0.07, 2, "i8<-100:100>")}>
  %gf = quant.dcast %g : tensor<2x4x1x1x{_qt(0.07, 2, "i8<-100:100>")}> to tensor<2x4x1x1xf32>
  %pf = quant.dcast %p : tensor<2x4x4x4x{_qt(0.07, 2, "i8<-100:100>")}> to tensor<2x4x4x4xf32>
  %wf = quant.dcast %w : tensor<4x3x2x2x{WS}> to tensor<4x3x2x2xf32>
  %w2 = train.qsgd %w, %gw lr 0.5 weight_decay 0.25 qas
      : (tensor<4x3x2x2x{WS}>, tensor<4x3x2x2xf32>) -> tensor<4x3x2x2x{WS}>
  %b2 = train.qsgd %b, %gb lr 2.0e-3 scales [2.0e-4, 4.0e-4, 6.0e-4, 8.0e-4] qas
      : (tensor<4xi32>, tensor<4xf32>) -> tensor<4xi32>
  return %gf, %pf, %wf, %w2, %b2 : tensor<2x4x1x1xf32>, tensor<2x4x4x4xf32>,
      tensor<4x3x2x2xf32>, tensor<4x3x2x2x{WS}>, tensor<4xi32>
}}
"""


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_gpu_target_runs_the_int8_ops_like_the_interpreter(rounding):
    """Every new op's KWARGS(op) on a planned function: qcast -> qadd (narrowed range) ->
    pools -> dcasts, and qsgd of a per-axis int8 weight (a dead channel) and an int32
    bias, bit-exact."""
    from tcc.compiler.source import new_context, parse_module
    from tcc.compiler.targets import gpu
    from tcc.runtime.interpreter import run_function
    module = parse_module(OPS_MODULE.replace("ROUNDING", rounding), "ops.mlir", new_context())
    rng = np.random.default_rng(8)
    args = [(rng.standard_normal((2, 4, 7, 6)) * 2).astype(np.float32),
            _int8(rng, 2, 4, 7, 6), _int8(rng, 4, 3, 2, 2),
            rng.standard_normal((4, 3, 2, 2)).astype(np.float32),
            rng.integers(-10**6, 10**6, 4).astype(np.int32),
            rng.standard_normal(4).astype(np.float32)]
    expected = run_function(module, "f", args)
    executor = gpu.compile_functions(module, ["f"])
    got = executor.call("f", [_t(a) for a in args])
    assert {launch.ops[0] for launch in executor.launches("f")} >= {
        "quant.qcast", "train.qadd", "train.qavg_pool2d", "train.qglobal_avg_pool",
        "quant.dcast", "train.qsgd"}
    for g, e in zip(got, expected):
        exact(g, e)
    assert (expected[3] != args[2]).any() and (expected[4] != args[4]).any()


# ---------------------------------------------------------------------------------------
# TTE models
# ---------------------------------------------------------------------------------------

def _tte(name: str, rounding: str, size: int, scheme: str | None = None):
    """A TTE model with a fresh 10-class head at a `size` x `size` input (the importer's
    layer tree emitted at a smaller resolution), @train_step derived with a paper
    scheme if given; and its weights."""
    from tcc.compiler.frontends import tte
    from tcc.compiler.pipeline import run_pipeline
    from tcc.compiler.source import new_context, parse_module
    model = tte.load_tte(TTE / f"{name}.json")
    model.classifier = tte.fresh_head(model.classifier, 10, seed=0)
    model.input_size = size
    text, weights = tte.emit_mlir(model, rounding)
    module = parse_module(text, f"{name}.mlir", new_context())
    if scheme is not None:
        run_pipeline(module, [f'train-autodiff{{scheme="{TTE / "schemes.json"}#{scheme}" '
                              f'lr=0.05}}', "train-prune"])
    return module, weights


def _inputs(function, weights, seed: int) -> list:
    """The weights by name; a seeded int8 input and labels in [0, 10)."""
    from tcc._mlir import ir
    from tcc.dialects import train
    rng = np.random.default_rng(seed)
    args = []
    for i, arg in enumerate(function.entry_block.arguments):
        name = train.arg_name(function, i)
        shape = list(ir.RankedTensorType(arg.type).shape)
        args.append(weights[name] if name in weights else
                    rng.integers(0, 10, shape).astype(np.int32) if name == "labels" else
                    _int8(rng, *shape))
    return args


@interpreted
@needs_tte
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_tte_forward_is_bit_exact(rounding):
    """MCUNet-5FPS's int8 @forward (43 qconv2d incl. depthwise, 7 qadd, the global pool,
    dcast) on the GPU target equals the interpreter at a 24x24 input."""
    from tcc.compiler.source import find_function
    from tcc.compiler.targets import gpu
    from tcc.runtime.interpreter import run_function
    module, weights = _tte("mcunet-5fps", rounding, 24)
    args = _inputs(find_function(module, "forward"), weights, 1)
    expected = run_function(module, "forward", args)
    got = gpu.run_function(module, "forward", args)
    np.testing.assert_array_equal(got[0], expected[0])
    assert len(np.unique(expected[0])) > 5


@interpreted
@needs_tte
@pytest.mark.parametrize("fuse_update", [False, True], ids=["qsgd", "conv2d_qsgd"])
def test_tte_train_step_with_a_paper_scheme(fuse_update):
    """One training step of MCUNet-5FPS with the paper's 49 KB scheme (biases of the last
    20 convs, weights of 4 layers, 2 of them on a fraction of their channels, QAS): every
    updated int8 weight and int32 bias equals the interpreter's, the loss within 1e-5;
    also with the weight updates fused with their gradients (--train-fuse-update)."""
    from tcc.compiler.pipeline import run_pipeline
    from tcc.compiler.source import find_function
    from tcc.compiler.targets import gpu
    from tcc.dialects import train
    from tcc.runtime.interpreter import run_function
    module, weights = _tte("mcunet-5fps", "float_scale", 16, scheme="mcunet-5fps/49kb")
    if fuse_update:
        run_pipeline(module, ["train-fuse-update"], "mcunet-5fps")
    step = find_function(module, "train_step")
    args = _inputs(step, weights, 2)
    expected = run_function(module, "train_step", args)
    executor = gpu.compile_functions(module, ["train_step"])
    got = executor.call("train_step", [_t(a) for a in args])
    assert rel_error(got[0].numpy(), expected[0]) <= 1e-5
    updated = 0
    for position in range(1, len(expected)):
        target = train.updated_arg(step, position)
        assert target is not None
        exact(got[position], expected[position])
        updated += int((expected[position] != args[target]).sum())
    assert updated > 5000
    names = {launch.ops[0] for launch in executor.launches("train_step")}
    assert {"train.qsgd", "train.qadd", "train.qglobal_avg_pool", "quant.dcast"} <= names
    assert ("train.conv2d_qsgd" in names) == fuse_update


# ---------------------------------------------------------------------------------------
# Ahead-of-time compilation for sm_90
# ---------------------------------------------------------------------------------------

NEW_KERNELS = ("qadd_kernel", "qavg_pool2d_kernel", "qglobal_avg_pool_kernel", "dcast_kernel",
               "qcast_kernel", "qsgd_kernel", "depthwise_qconv2d_kernel")


def _aot_cases():
    if MODE != "aot":
        return []
    return [pytest.param(i, id=f"{fn.__name__}-{i}") for i, (fn, _, _) in
            enumerate(_q().AOT_CASES) if fn.__name__ in NEW_KERNELS]


@compiled
@pytest.mark.parametrize("index", _aot_cases())
def test_new_kernels_compile_for_sm90(index):
    """Each case compiles to PTX with the options it launches with; float64 arithmetic
    stays unfused (no fma.rn.f64) and divides with div.rn.f64 (IEEE, as numpy)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    fn, signature, constexprs = _q().AOT_CASES[index]
    kernel = triton.compile(ASTSource(fn, signature, constexprs),
                            target=GPUTarget("cuda", 90, 32),
                            options={"enable_fp_fusion": False})
    ptx = kernel.asm["ptx"]
    assert ".entry" in ptx and "fma.rn.f64" not in ptx
    divides = fn.__name__ == "qcast_kernel" or constexprs.get("QAS") or (
        fn.__name__ == "qadd_kernel" and constexprs["ROUNDING"] == 0)
    assert ("div.rn.f64" in ptx) == bool(divides), fn.__name__
    assert "div.full" not in ptx and "div.approx" not in ptx
