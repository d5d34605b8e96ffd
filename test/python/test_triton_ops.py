"""The Triton kernels of element-wise, layout, reduction, pooling, normalization, loss
and optimizer ops against the reference ops (kernels/triton/, runtime/reference_ops.py).

The kernels run in Triton's interpreter on CPU tensors, which must be switched on
before triton is imported: the outer test re-runs this file in a child pytest with
TRITON_INTERPRET=1 (TCC_TRITON_TESTS=interpret); a second child, without the
interpreter, compiles every kernel of these modules ahead of time for an sm_90 GPU
(TCC_TRITON_TESTS=aot). Shapes are seeded random, most not multiples of the blocks.
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
MODULES = ("elementwise", "layout", "reduce", "pool", "norm", "loss", "optim")


@pytest.mark.skipif(MODE is not None, reason="the parent test")
@pytest.mark.parametrize("mode", ["interpret", "aot"])
def test_children(mode):
    run_child(__file__, "TCC_TRITON_TESTS", mode)


# ---------------------------------------------------------------------------------------
# Helpers (child processes only)
# ---------------------------------------------------------------------------------------

TOL = 1e-5


def _ref(name):
    from tcc.runtime import reference_ops
    return reference_ops.OPS[name]


def _ops():
    import tcc.kernels.triton as kernels
    return kernels.OPS


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def check(name, args, kwargs=None, tol=TOL, use_out=False):
    """The kernel's result (into a fresh `out` too if `use_out`) equals the reference's."""
    kwargs = kwargs or {}
    expected = _ref(name)(*args, **kwargs)
    tensors = [_t(a) for a in args]
    actual = _ops()[name](*tensors, **kwargs)
    pairs = zip(actual, expected) if isinstance(expected, tuple) else [(actual, expected)]
    for a, e in pairs:
        assert a.dtype == _t(np.asarray(e)).dtype, name
        assert tuple(a.shape) == np.shape(e), name
        if np.issubdtype(np.asarray(e).dtype, np.integer):
            np.testing.assert_array_equal(a.numpy(), e)
        else:
            assert rel_error(a.numpy(), e) <= tol, (name, rel_error(a.numpy(), e))
    if use_out:
        out = torch.full(np.shape(expected), float("nan"))
        result = _ops()[name](*tensors, **kwargs, out=out)
        assert result is out
        assert rel_error(out.numpy(), expected) <= tol


RNG = np.random.default_rng(7)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------
# Interpreted kernels vs the reference
# ---------------------------------------------------------------------------------------

@interpreted
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (2, 1029)])
def test_elementwise(shape):
    x, y = rand(*shape) * 4, rand(*shape)
    for name in ("train.relu", "train.hardswish", "train.sigmoid"):
        check(name, [x], use_out=True)
    check("train.gelu", [x], {"tanh": False})
    check("train.gelu", [x], {"tanh": True})
    check("train.clamp", [x], {"min": -1.5, "max": 2.0})
    for name in ("train.add", "train.mul"):
        check(name, [x, y], use_out=True)
    check("train.relu_grad", [y, np.maximum(x, 0)])
    check("train.clamp_grad", [y, x], {"min": 0.0, "max": 6.0})
    check("train.sigmoid_grad", [y, 1 / (1 + np.exp(-x))])
    check("train.hardswish_grad", [y, x])
    check("train.gelu_grad", [y, x], {"tanh": False})
    check("train.gelu_grad", [y, x], {"tanh": True})


@interpreted
def test_elementwise_in_place_and_int8_clamp():
    x, y = rand(3, 333), rand(3, 333)
    expected = x + y
    a = _t(x.copy())
    _ops()["train.add"](a, _t(y), out=a)
    assert rel_error(a.numpy(), expected) <= TOL
    q = RNG.integers(-128, 128, (5, 77)).astype(np.int8)
    check("train.clamp", [q], {"min": -20, "max": 300})


@interpreted
def test_layout():
    x = rand(2, 3, 5, 7)
    check("train.reshape", [x], {"shape": (6, 35)})
    out = torch.empty(6, 35)
    assert rel_error(_ops()["train.reshape"](_t(x), shape=(6, 35), out=out).numpy(),
                     x.reshape(6, 35)) == 0
    check("train.transpose", [x], {"permutation": (0, 2, 3, 1)})
    check("train.broadcast", [rand(3, 1, 7)], {"shape": (2, 3, 5, 7)})
    check("train.broadcast", [rand(7)], {"shape": (4, 7)})
    check("train.concat", [x, rand(2, 4, 5, 7), rand(2, 1, 5, 7)], {"axis": 1})
    check("train.concat", [x, x], {"axis": 3})
    check("train.slice", [x], {"offsets": (0, 1, 2, 3), "sizes": (2, 2, 3, 4)})
    check("train.pad_to", [rand(2, 2, 3, 4)], {"offsets": (0, 1, 2, 3),
                                               "shape": (2, 3, 5, 7)})
    q = RNG.integers(-128, 128, (3, 5, 6)).astype(np.int8)
    check("train.transpose", [q], {"permutation": (2, 0, 1)})


@interpreted
def test_reductions():
    check("train.sum_to", [rand(4, 3, 5, 7)], {"shape": (3, 1, 1)})
    check("train.sum_to", [rand(4, 3, 5, 7)], {"shape": (1, 5, 1)})
    check("train.sum_to", [rand(2, 3, 5, 7)], {"shape": (3, 1, 7)})
    check("train.sum_to", [rand(3, 1029)], {"shape": (1029,)})
    check("train.sum_to", [rand(3, 5)], {"shape": (3, 5)})
    check("train.bias_grad", [rand(9, 13)], use_out=True)
    check("train.bias_grad", [rand(3, 6, 17, 19)])
    check("train.global_avg_pool", [rand(3, 5, 7, 9)])


@interpreted
def test_fused_bias_grad_sgd_in_place():
    from tcc.kernels.triton import FUSED
    dy, p = rand(4, 6, 5, 3), rand(6)
    for decay in (0.0, 0.01):
        expected = _ref("train.sgd")(p, _ref("train.bias_grad")(dy), lr=0.1,
                                     weight_decay=decay)
        param = _t(p.copy())
        result = FUSED[("train.bias_grad", "train.sgd")](_t(dy), param, lr=0.1,
                                                         weight_decay=decay, out=param)
        assert result is param
        assert rel_error(param.numpy(), expected) <= TOL


@interpreted
@pytest.mark.parametrize("geometry", [
    dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0)),
    dict(kernel=(3, 3), stride=(2, 1), padding=(1, 1)),
    dict(kernel=(3, 2), stride=(1, 2), padding=(1, 0)),
])
def test_pooling(geometry):
    x = rand(2, 3, 9, 11)
    ref_y = _ref("train.max_pool2d")(x, **geometry)
    dy = rand(*ref_y.shape)
    check("train.max_pool2d", [x], geometry)
    check("train.max_pool2d_grad", [dy, x], geometry)
    for include in (True, False):
        check("train.avg_pool2d", [x], {**geometry, "count_include_pad": include})
        check("train.avg_pool2d_grad", [dy], {**geometry, "input_shape": x.shape,
                                              "count_include_pad": include})
    q = RNG.integers(-128, 128, (2, 3, 9, 11)).astype(np.int8)
    check("train.max_pool2d", [q], geometry)


@interpreted
def test_normalization():
    x = rand(3, 5, 7) * 3
    for axis in range(3):
        check("train.softmax", [x], {"axis": axis})
        y = _ref("train.softmax")(x, axis=axis)
        check("train.softmax_grad", [rand(3, 5, 7), y], {"axis": axis})
    check("train.softmax", [rand(5, 1300)], {"axis": 1})
    for w_shape in [(7,), (5, 7)]:
        w, b = rand(*w_shape), rand(*w_shape)
        check("train.layer_norm", [x, w, b], {"epsilon": 1e-5})
        check("train.layer_norm_grad_input", [rand(3, 5, 7), x, w], {"epsilon": 1e-5})
    check("train.batch_norm", [rand(2, 6, 5, 3), rand(6), rand(6), rand(6),
                               np.abs(rand(6)) + 0.1], {"epsilon": 1e-3})


@interpreted
@pytest.mark.parametrize("shape", [(5, 10), (37, 1000), (1, 3)])
def test_losses(shape):
    x = rand(*shape) * 3
    labels = RNG.integers(0, shape[1], shape[0]).astype(np.int32)
    check("train.cross_entropy", [x, labels])
    check("train.cross_entropy_grad", [x, labels])
    target = rand(*shape)
    check("train.mse", [x, target])
    check("train.mse_grad", [x, target])


@interpreted
def test_optimizers_in_place():
    p, g, m = rand(5, 101), rand(5, 101), rand(5, 101)
    for decay in (0.0, 1e-2):
        check("train.sgd", [p, g], {"lr": 0.05, "weight_decay": decay})
        check("train.sgd_momentum", [p, g, m], {"lr": 0.05, "momentum": 0.9,
                                                "weight_decay": decay})
    expected = _ref("train.sgd_momentum")(p, g, m, lr=0.05, momentum=0.9)
    param, buffer = _t(p.copy()), _t(m.copy())
    _ops()["train.sgd_momentum"](param, _t(g), buffer, lr=0.05, momentum=0.9,
                                 out=(param, buffer))
    assert rel_error(param.numpy(), expected[0]) <= TOL
    assert rel_error(buffer.numpy(), expected[1]) <= TOL


@interpreted
def test_bad_arguments_are_user_errors():
    from tcc.compiler.errors import InputError, UnsupportedError
    ops = _ops()
    with pytest.raises(InputError, match="shape mismatch"):
        ops["train.add"](torch.zeros(3), torch.zeros(4))
    with pytest.raises(UnsupportedError, match="dtype"):
        ops["train.relu"](torch.zeros(3, dtype=torch.float64))
    with pytest.raises(InputError, match="out must be"):
        ops["train.relu"](torch.zeros(3), out=torch.zeros(4))
    with pytest.raises(InputError, match="labels must lie"):
        ops["train.cross_entropy"](torch.zeros(2, 3), torch.tensor([0, 3], dtype=torch.int32))
    with pytest.raises(InputError, match="cannot broadcast"):
        ops["train.broadcast"](torch.zeros(3), shape=(4,))


# ---------------------------------------------------------------------------------------
# Ahead-of-time compilation for an sm_90 GPU
# ---------------------------------------------------------------------------------------

@compiled
@pytest.mark.parametrize("module", MODULES)
def test_aot_compiles_for_sm90(module):
    import importlib

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from tcc.kernels.triton import _ordered
    cases = importlib.import_module(f"tcc.kernels.triton.{module}").AOT_CASES
    assert cases
    for fn, signature, constexprs in cases:
        source = ASTSource(fn, _ordered(fn, signature), constexprs)
        kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32))
        assert ".version" in kernel.asm["ptx"], fn.__name__
