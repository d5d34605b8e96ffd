"""The Python builders of dialects/train.py: inferred result types, attributes
that read back, and modules that verify and round-trip through the printer."""

import pytest

from tcc._mlir import ir
from tcc._mlir.dialects import func
from tcc.compiler.source import new_context
from tcc.dialects import train

QX = "!quant.uniform<i8:f32, 2.000000e-02:-128>"
QY = "!quant.uniform<i8:f32, 5.000000e-02:-10>"
QW = "!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02,4.000000e-02}>"


def _build(arg_types: list[str], body):
    """Builds @f(args) returning body(*args); returns (module, result types as text)."""
    context = new_context()
    with context, ir.Location.unknown():
        module = ir.Module.create()
        types = [ir.Type.parse(t) for t in arg_types]
        with ir.InsertionPoint(module.body):
            function = func.FuncOp("f", (types, []))
            block = function.add_entry_block()
            with ir.InsertionPoint(block):
                results = body(*block.arguments)
                func.ReturnOp(results)
            function.attributes["function_type"] = ir.TypeAttr.get(
                ir.FunctionType.get(types, [r.type for r in results]))
        assert module.operation.verify()
        reparsed = ir.Module.parse(str(module), context)
        assert str(reparsed) == str(module)
        return module, [str(r.type) for r in results]


CASES = [
    (["tensor<2x4x8xf32>", "tensor<2x8x5xf32>"], lambda a, b: [train.matmul(a, b)],
     ["tensor<2x4x5xf32>"]),
    (["tensor<4x8xf32>"], lambda x: [train.mul(x, x), train.clamp(x, 0.0, 6.0),
                                     train.hardswish(x), train.sigmoid(x), train.gelu(x),
                                     train.gelu(x, tanh=True), train.softmax(x, 1)],
     ["tensor<4x8xf32>"] * 7),
    (["tensor<8xf32>"], lambda c: [train.broadcast(c, [4, 8])], ["tensor<4x8xf32>"]),
    (["tensor<1x8x8x8xf32>"],
     lambda x: [train.avg_pool2d(x, 2, padding=1), train.max_pool2d(x, 3, 2, 1),
                train.global_avg_pool(x),
                train.avg_pool2d(x, [3, 3], 1, count_include_pad=False)],
     ["tensor<1x8x5x5xf32>", "tensor<1x8x4x4xf32>", "tensor<1x8x1x1xf32>",
      "tensor<1x8x6x6xf32>"]),
    (["tensor<2x3xf32>", "tensor<2x5xf32>"],
     lambda a, b: [train.concat([a, b], 1), train.transpose(a, [1, 0])],
     ["tensor<2x8xf32>", "tensor<3x2xf32>"]),
    (["tensor<1x4x3x3xf32>", "tensor<4xf32>"],
     lambda x, c: [train.batch_norm(x, c, c, c, c, 1e-5)], ["tensor<1x4x3x3xf32>"]),
    (["tensor<2x4xf32>", "tensor<4xf32>"],
     lambda x, w: [train.layer_norm(x, w, w, 1e-5), train.mse(x, x)],
     ["tensor<2x4xf32>", "tensor<f32>"]),
    ([f"tensor<1x3x8x8x{QX}>", f"tensor<4x3x3x3x{QW}>", "tensor<4xi32>"],
     lambda x, w, b: [train.qconv2d(x, w, b, ir.Type.parse(QY), rounding="float_scale",
                                    geometry=train.ConvGeometry(stride=(2, 2),
                                                                padding=(1, 1)))],
     [f"tensor<1x4x4x4x{QY}>"]),
    ([f"tensor<2x3x{QX}>", f"tensor<4x3x{QW}>", "tensor<4xi32>"],
     lambda x, w, b: [train.qlinear(x, w, b, ir.Type.parse(QY),
                                    rounding="multiplier_shift")],
     [f"tensor<2x4x{QY}>"]),
    ([f"tensor<1x3x8x8x{QX}>"],
     lambda x: [train.qadd(x, x, ir.Type.parse(QY), rounding="float_scale"),
                train.qavg_pool2d(x, 2, rounding="float_scale"),
                train.qglobal_avg_pool(x, rounding="multiplier_shift"),
                train.max_pool2d(x, 2), train.reshape(x, [1, 192]),
                train.transpose(x, [0, 2, 3, 1])],
     [f"tensor<1x3x8x8x{QY}>", f"tensor<1x3x4x4x{QX}>", f"tensor<1x3x1x1x{QX}>",
      f"tensor<1x3x4x4x{QX}>", f"tensor<1x192x{QX}>", f"tensor<1x8x8x3x{QX}>"]),
]


@pytest.mark.parametrize("args, body, expected", CASES)
def test_builders_infer_result_types(args, body, expected):
    _, types = _build(args, body)
    assert types == expected


def test_rounding_and_pool_geometry_read_back():
    def body(x):
        return [train.qavg_pool2d(x, [3, 3], 2, padding=1, rounding="multiplier_shift")]
    module, _ = _build([f"tensor<1x3x8x8x{QX}>"], body)
    op = module.body.operations[0].entry_block.operations[0]
    assert train.rounding_of(op) == "multiplier_shift"
    geometry = train.PoolGeometry.of(op)
    assert tuple(geometry.kernel) == (3, 3) and tuple(geometry.stride) == (2, 2)
    assert tuple(geometry.padding) == (1, 1)


def test_unknown_rounding_is_rejected():
    with pytest.raises(ValueError, match="rounding"):
        _build([f"tensor<1x3x8x8x{QX}>"],
               lambda x: [train.qglobal_avg_pool(x, rounding="nearest")])
