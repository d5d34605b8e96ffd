"""The Triton GEMM, convolution and int8 kernels (kernels/triton/matmul.py, conv.py,
quantized.py) against the reference ops: float32 within 1e-5 (max error relative to the
largest reference value), int8 bit-exact in both rounding modes.

Kernels run in Triton's interpreter on CPU tensors, which must be switched on before the
kernels are defined: the parent test re-runs this file in a child pytest with
TRITON_INTERPRET=1 (TCC_TRITON_TESTS=interpret); a second child, without the
interpreter, compiles every AOT case of these modules for GPUTarget("cuda", 90, 32)
(TCC_TRITON_TESTS=aot). Shapes are seeded random and mostly not multiples of the blocks.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("triton")
import torch  # noqa: E402

from numerics import rel_error  # noqa: E402
from triton_child import run_child  # noqa: E402

MODE = os.environ.get("TCC_TRITON_TESTS")
interpreted = pytest.mark.skipif(MODE != "interpret", reason="runs in the interpreter child")
compiled = pytest.mark.skipif(MODE != "aot", reason="runs in the AOT child")
MODULES = ("matmul", "conv", "quantized")
TOL = 1e-5
ROUNDINGS = ("float_scale", "multiplier_shift")


@pytest.mark.skipif(MODE is not None, reason="the parent test")
@pytest.mark.parametrize("mode", ["interpret", "aot"])
def test_children(mode):
    run_child(__file__, "TCC_TRITON_TESTS", mode)


# ---------------------------------------------------------------------------------------
# Helpers (child processes only)
# ---------------------------------------------------------------------------------------

def _module(name):
    import importlib
    return importlib.import_module(f"tcc.kernels.triton.{name}")


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def close(actual, expected):
    """A float32 kernel result against the reference: dtype, shape and values."""
    assert actual.dtype == torch.float32
    assert tuple(actual.shape) == np.shape(expected)
    assert rel_error(actual.numpy(), expected) <= TOL


def _ref():
    from tcc.runtime import reference_ops
    return reference_ops


# ---------------------------------------------------------------------------------------
# Float GEMMs
# ---------------------------------------------------------------------------------------

LINEAR_SHAPES = [(1, 1, 1), (37, 45, 19), (64, 32, 96), (5, 130, 33), (70, 3, 65)]


@interpreted
@pytest.mark.parametrize("n,k,m", LINEAR_SHAPES)
def test_linear_and_gradients(n, k, m):
    mm, ref = _module("matmul"), _ref()
    rng = np.random.default_rng(n * 1000 + k * 10 + m)
    x, w, b, dy = _randn(rng, n, k), _randn(rng, m, k), _randn(rng, m), _randn(rng, n, m)
    close(mm.OPS["train.linear"](_t(x), _t(w), _t(b)), ref.linear(x, w, b))
    close(mm.OPS["train.linear"](_t(x), _t(w)), ref.linear(x, w))
    close(mm.OPS["train.linear_grad_input"](_t(dy), _t(w)), ref.linear_grad_input(dy, w))
    close(mm.OPS["train.linear_grad_weight"](_t(dy), _t(x)), ref.linear_grad_weight(dy, x))


@interpreted
@pytest.mark.parametrize("shape_a,shape_b", [((33, 17), (17, 40)), ((3, 33, 17), (3, 17, 9)),
                                             ((2, 3, 5, 47), (2, 3, 47, 34))])
def test_matmul_batched(shape_a, shape_b):
    mm = _module("matmul")
    rng = np.random.default_rng(len(shape_a))
    a, b = _randn(rng, *shape_a), _randn(rng, *shape_b)
    close(mm.OPS["train.matmul"](_t(a), _t(b)), _ref().matmul(a, b))


@interpreted
def test_fused_linear_relu_and_weight_update():
    mm, ref = _module("matmul"), _ref()
    rng = np.random.default_rng(7)
    x, w, b, dy = _randn(rng, 41, 50), _randn(rng, 23, 50), _randn(rng, 23), _randn(rng, 41, 23)
    close(mm.FUSED[("train.linear", "train.relu")](_t(x), _t(w), _t(b)),
          ref.relu(ref.linear(x, w, b)))
    update = mm.FUSED[("train.linear_grad_weight", "train.sgd")]
    for weight_decay in (0.0, 0.01):
        expected = ref.sgd(w, ref.linear_grad_weight(dy, x), lr=0.1, weight_decay=weight_decay)
        close(update(_t(dy), _t(x), _t(w), lr=0.1, weight_decay=weight_decay), expected)
        param = _t(w.copy())                     # in place: out is the parameter itself
        assert update(_t(dy), _t(x), param, lr=0.1, weight_decay=weight_decay,
                      out=param) is param
        close(param, expected)


@interpreted
def test_out_views_of_one_arena():
    """Results land in the given views (as the GPU target's arena) and nowhere else."""
    mm = _module("matmul")
    rng = np.random.default_rng(3)
    x, w = _randn(rng, 9, 20), _randn(rng, 11, 20)
    arena = torch.full((9 * 11 + 16,), 7.0)
    view = arena[8:8 + 99].view(9, 11)
    assert mm.OPS["train.linear"](_t(x), _t(w), out=view) is view
    close(view, _ref().linear(x, w))
    assert (arena[:8] == 7).all() and (arena[8 + 99:] == 7).all()


# ---------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------

# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
CONVS = [
    (2, 3, 9, 11, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (2, 4, 10, 7, 6, 3, 2, (2, 1), (1, 0), (2, 1), 2),      # grouped, dilated, asymmetric
    (1, 34, 6, 5, 40, 1, 1, (1, 1), (0, 0), (1, 1), 1),      # pointwise, K > one block
    (2, 6, 13, 12, 6, 3, 3, (2, 2), (1, 1), (1, 1), 6),      # depthwise, strided
    (1, 3, 8, 9, 6, 3, 3, (1, 2), (2, 1), (2, 1), 3),        # depthwise, multiplier 2
]


@interpreted
@pytest.mark.parametrize("case", CONVS, ids=lambda c: "x".join(map(str, c[:7])))
def test_conv2d_forward_and_gradients(case):
    cv, ref = _module("conv"), _ref()
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = case
    rng = np.random.default_rng(sum(case[:7]))
    x, wt, b = _randn(rng, n, c, h, w), _randn(rng, o, c // groups, kh, kw), _randn(rng, o)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = ref.conv2d(x, wt, b, **geo)
    close(cv.OPS["train.conv2d"](_t(x), _t(wt), _t(b), **geo), y)
    close(cv.OPS["train.conv2d"](_t(x), _t(wt), **geo), ref.conv2d(x, wt, **geo))
    close(cv.FUSED[("train.conv2d", "train.relu")](_t(x), _t(wt), _t(b), **geo), ref.relu(y))
    dy = _randn(rng, *y.shape)
    close(cv.OPS["train.conv2d_grad_input"](_t(dy), _t(wt), input_shape=x.shape, **geo),
          ref.conv2d_grad_input(dy, wt, input_shape=x.shape, **geo))
    dw = ref.conv2d_grad_weight(dy, x, weight_shape=wt.shape, **geo)
    close(cv.OPS["train.conv2d_grad_weight"](_t(dy), _t(x), weight_shape=wt.shape, **geo), dw)
    param = _t(wt.copy())
    update = cv.FUSED[("train.conv2d_grad_weight", "train.sgd")]
    assert update(_t(dy), _t(x), param, weight_shape=wt.shape, lr=0.05, weight_decay=0.01,
                  out=param, **geo) is param
    close(param, ref.sgd(wt, dw, lr=0.05, weight_decay=0.01))


@interpreted
def test_kernels_reject_bad_input():
    from tcc.compiler.errors import InputError, UnsupportedError
    mm, cv = _module("matmul"), _module("conv")
    x, w = torch.zeros(4, 5), torch.zeros(3, 6)
    with pytest.raises(InputError, match="disagree on the input features"):
        mm.OPS["train.linear"](x, w)
    with pytest.raises(UnsupportedError, match="float64"):
        mm.OPS["train.linear"](x.double(), w.double())
    with pytest.raises(InputError, match="out must be"):
        mm.OPS["train.linear"](x, torch.zeros(3, 5), out=torch.zeros(4, 4))
    with pytest.raises(InputError, match="groups=2 must divide"):
        cv.OPS["train.conv2d"](torch.zeros(1, 3, 5, 5), torch.zeros(4, 1, 3, 3), groups=2)
    with pytest.raises(InputError, match="grad_output shape"):
        cv.OPS["train.conv2d_grad_input"](torch.zeros(1, 4, 2, 2), torch.zeros(4, 3, 3, 3),
                                          input_shape=(1, 3, 5, 5))


# ---------------------------------------------------------------------------------------
# int8 kernels (bit-exact)
# ---------------------------------------------------------------------------------------

def _int8(rng, *shape, low=-128):
    return rng.integers(low, 128, shape).astype(np.int8)


def exact(actual, expected):
    assert actual.numpy().dtype == expected.dtype
    np.testing.assert_array_equal(actual.numpy(), expected)


def _quant(rng, count, rounding, **overrides):
    """Random quantization keywords whose requantized outputs spread over the range."""
    params = dict(x_scale=0.02, x_zp=int(rng.integers(-128, 128)),
                  w_scales=rng.uniform(0.002, 0.02, count), y_scale=0.25,
                  y_zp=int(rng.integers(-20, 20)), rounding=rounding)
    return {**params, **overrides}


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("n,k,m", [(37, 70, 19), (3, 200, 33), (64, 5, 1)])
def test_qlinear_bit_exact(rounding, n, k, m):
    from tcc.runtime import quantized_ops as qo
    q = _module("quantized")
    rng = np.random.default_rng(n + k + m)
    x, w = _int8(rng, n, k), _int8(rng, m, k)
    b = rng.integers(-30000, 30000, m).astype(np.int32)
    kw = _quant(rng, m, rounding)
    exact(q.OPS["train.qlinear"](_t(x), _t(w), _t(b), **kw), qo.qlinear(x, w, b, **kw))
    exact(q.OPS["train.qlinear"](_t(x), _t(w), **kw), qo.qlinear(x, w, **kw))


QCONVS = [
    (2, 3, 9, 11, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (2, 4, 10, 7, 6, 3, 2, (2, 1), (1, 0), (2, 1), 2),
    (1, 40, 5, 6, 9, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 6, 13, 12, 6, 3, 3, (2, 2), (1, 1), (1, 1), 6),
    (1, 3, 8, 9, 6, 3, 3, (1, 2), (2, 1), (2, 1), 3),
]


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("case", QCONVS, ids=lambda c: "x".join(map(str, c[:7])))
def test_qconv2d_bit_exact(rounding, case):
    from tcc.runtime import quantized_ops as qo
    q = _module("quantized")
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = case
    rng = np.random.default_rng(sum(case[:7]))
    x, wt = _int8(rng, n, c, h, w), _int8(rng, o, c // groups, kh, kw)
    b = rng.integers(-30000, 30000, o).astype(np.int32)
    kw_ = dict(_quant(rng, o, rounding), stride=stride, padding=padding, dilation=dilation,
               groups=groups)
    exact(q.OPS["train.qconv2d"](_t(x), _t(wt), _t(b), **kw_), qo.qconv2d(x, wt, b, **kw_))


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("depthwise", [False, True])
def test_requantization_corner_cases(rounding, depthwise):
    """Small accumulators with eff = 1/2, 1/4, 3/2 (ties), 3 (a left shift) and 1e-12
    (a flushed multiplier); then int32 wrap-around (biases at the limits, eff = 2**-25
    keeping the wrapped sums inside the range) with x_zp = -128; narrowed output range."""
    from tcc.runtime import quantized_ops as qo
    q = _module("quantized")
    rng = np.random.default_rng(11)
    c = 5
    conv = dict(padding=(1, 1), groups=c if depthwise else 1)
    w_shape = (c, 1 if depthwise else c, 3, 3)
    cases = [
        (rng.integers(0, 3, (2, c, 7, 6)) - 20, rng.integers(-2, 3, w_shape),
         rng.integers(-3, 4, c), dict(x_zp=-20, w_scales=[0.5, 0.25, 1.5, 3.0, 1e-12]), 10),
        (rng.integers(-128, 128, (2, c, 7, 6)), rng.integers(-128, 128, w_shape),
         [2**31 - 40, -(2**31) + 7, 2**31 - 1, 1000, -1000],
         dict(x_zp=-128, w_scales=[2.0**-25] * c), 3),    # -64, 0 and +64 before y_zp
    ]
    for x, wt, b, quant, spread in cases:
        x, wt, b = x.astype(np.int8), wt.astype(np.int8), np.asarray(b, dtype=np.int32)
        kw = dict(quant, x_scale=1.0, y_scale=1.0, y_zp=-3, qmin=-100, qmax=100,
                  rounding=rounding)
        expected = qo.qconv2d(x, wt, b, **kw, **conv)
        assert len(np.unique(expected)) >= spread     # not saturated
        exact(q.OPS["train.qconv2d"](_t(x), _t(wt), _t(b), **kw, **conv), expected)
        xl, wl = x.reshape(14, -1)[:, :30], rng.integers(-2, 3, (c, 30)).astype(np.int8)
        exact(q.OPS["train.qlinear"](_t(xl), _t(wl), _t(b), **kw), qo.qlinear(xl, wl, b, **kw))


@interpreted
def test_quantized_kernels_reject_bad_input():
    from tcc.compiler.errors import InputError, UnsupportedError
    q = _module("quantized")
    x, w = torch.zeros(2, 4, dtype=torch.int8), torch.zeros(3, 4, dtype=torch.int8)
    kw = dict(x_scale=0.1, x_zp=0, w_scales=[0.1], y_scale=0.1, y_zp=0)
    with pytest.raises(InputError, match="unknown rounding"):
        q.OPS["train.qlinear"](x, w, rounding="truncate", **kw)
    with pytest.raises(UnsupportedError, match="torch.float32"):
        q.OPS["train.qlinear"](x.float(), w, rounding="float_scale", **kw)
    with pytest.raises(InputError, match="scales must be positive"):
        q.OPS["train.qlinear"](x, w, rounding="float_scale", **{**kw, "y_scale": 0.0})
    with pytest.raises(InputError, match="bias has 2 values for 3 output channels"):
        q.OPS["train.qlinear"](x, w, torch.zeros(2, dtype=torch.int32),
                               rounding="float_scale", **kw)


def _quantized_module(rounding: str) -> str:
    x = "tensor<2x8x9x9x!quant.uniform<i8:f32, 0.05:-7>>"
    w = "tensor<8x8x3x3x!quant.uniform<i8:f32:0, {0.01,0.02,0.005,0.04,0.01,0.03,0.02,0.01}>>"
    d = "tensor<8x1x3x3x!quant.uniform<i8:f32:0, {0.03,0.01,0.02,0.015,0.1,0.2,0.05,0.04}>>"
    y = "tensor<2x8x5x5x!quant.uniform<i8<-128:100>:f32, 0.0625:-3>>"
    z = "tensor<2x8x9x9x!quant.uniform<i8:f32, 0.125:4>>"
    lx = "tensor<3x20x!quant.uniform<i8:f32, 0.1:2>>"
    lw = "tensor<5x20x!quant.uniform<i8:f32:0, {0.05,0.002,0.01,0.02,0.03}>>"
    ly = "tensor<3x5x!quant.uniform<i8:f32, 0.5:7>>"
    return f"""
func.func @f(%x: {x}, %w: {w}, %b: tensor<8xi32>, %dw: {d}, %lx: {lx}, %lw: {lw},
             %lb: tensor<5xi32>) -> ({y}, {z}, {ly}) {{
  %0 = train.qconv2d %x, %w, %b stride [2, 2] padding [1, 1] rounding {rounding}
      : ({x}, {w}, tensor<8xi32>) -> {y}
  %1 = train.qconv2d %x, %dw padding [2, 2] dilation [2, 2] groups 8 rounding {rounding}
      : ({x}, {d}) -> {z}
  %2 = train.qlinear %lx, %lw, %lb rounding {rounding} : ({lx}, {lw}, tensor<5xi32>) -> {ly}
  return %0, %1, %2 : {y}, {z}, {ly}
}}
"""


@interpreted
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_kwargs_from_mlir_ops_match_the_interpreter(rounding):
    """KWARGS reads each op's keywords from its types as the interpreter's executors do."""
    from tcc._mlir.dialects import func
    from tcc.compiler.source import find_function, new_context, parse_module
    from tcc.runtime.interpreter import run_function
    q = _module("quantized")
    module = parse_module(_quantized_module(rounding), "q.mlir", new_context())
    rng = np.random.default_rng(2)
    args = [_int8(rng, 2, 8, 9, 9), _int8(rng, 8, 8, 3, 3, low=-127),
            rng.integers(-5000, 5000, 8).astype(np.int32), _int8(rng, 8, 1, 3, 3, low=-127),
            _int8(rng, 3, 20), _int8(rng, 5, 20, low=-127),
            rng.integers(-500, 500, 5).astype(np.int32)]
    expected = run_function(module, "f", args)
    function = find_function(module, "f")
    values = dict(zip(function.entry_block.arguments, args))
    ops = [op for op in function.entry_block.operations if not isinstance(op, func.ReturnOp)]
    for op, want in zip(ops, expected):
        got = q.OPS[op.name](*[_t(values[v]) for v in op.operands], **q.KWARGS[op.name](op))
        exact(got, want)


@interpreted
def test_package_merges_these_modules():
    import tcc.kernels.triton as kernels
    for name in MODULES:
        module = _module(name)
        assert module.OPS.items() <= kernels.OPS.items()
        assert module.FUSED.items() <= kernels.FUSED.items()


# ---------------------------------------------------------------------------------------
# Ahead-of-time compilation for an sm_90 GPU
# ---------------------------------------------------------------------------------------

def _aot_cases():
    if MODE != "aot":
        return []
    return [pytest.param(module, index, id=f"{module}-{fn.__name__}-{index}")
            for module in MODULES
            for index, (fn, _, _) in enumerate(_module(module).AOT_CASES)]


@compiled
@pytest.mark.parametrize("module,index", _aot_cases())
def test_kernel_compiles_for_sm90(module, index):
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    fn, signature, constexprs = _module(module).AOT_CASES[index]
    options = {"enable_fp_fusion": False} if module == "quantized" else None
    kernel = triton.compile(ASTSource(fn, signature, constexprs),
                            target=GPUTarget("cuda", 90, 32), options=options)
    assert ".entry " + fn.__name__ in kernel.asm["ptx"]
