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


# Gradient and optimizer ops (issue 4).

GRAD_CASES = [
    (["tensor<4x8x5x5xf32>"],
     lambda dy: [train.sum_to(dy, [1, 8, 1, 1]), train.sum_to(dy, [5, 1]),
                 train.sum_to(dy, [4, 8, 5, 5])],
     ["tensor<1x8x1x1xf32>", "tensor<5x1xf32>", "tensor<4x8x5x5xf32>"]),
    (["tensor<1x8x8x8xf32>"],
     lambda x: [train.slice(x, [0, 0, 0, 0], [1, 4, 8, 8]),
                train.pad_to(train.slice(x, [0, 0, 0, 0], [1, 4, 8, 8]), [0, 4, 0, 0],
                             [1, 8, 8, 8])],
     ["tensor<1x4x8x8xf32>", "tensor<1x8x8x8xf32>"]),
    ([f"tensor<4x8x{QX}>"], lambda q: [train.slice(q, [0, 5], [4, 3])],
     [f"tensor<4x3x{QX}>"]),
    (["tensor<1x8x5x5xf32>", "tensor<1x8x4x4xf32>", "tensor<1x8x8x8xf32>"],
     lambda dy5, dy4, x: [
         train.avg_pool2d_grad(dy5, x.type, 2, padding=1),
         train.avg_pool2d_grad(dy5, "tensor<1x8x8x8xf32>", [4, 4], 1,
                               count_include_pad=False),
         train.avg_pool2d_grad(dy4, x, train.PoolGeometry.make(2)),
         train.max_pool2d_grad(dy4, x, 3, 2, 1),
         train.max_pool2d_grad(dy4, x, train.PoolGeometry.make([2, 2]))],
     ["tensor<1x8x8x8xf32>"] * 5),
    (["tensor<4x8xf32>", "tensor<4x8xf32>"],
     lambda dy, x: [train.clamp_grad(dy, x, 0.0, 6.0), train.sigmoid_grad(dy, x),
                    train.hardswish_grad(dy, x), train.gelu_grad(dy, x),
                    train.gelu_grad(dy, x, tanh=True), train.softmax_grad(dy, x, 1),
                    train.mse_grad(dy, x)],
     ["tensor<4x8xf32>"] * 7),
    (["tensor<2x3x4xf32>", "tensor<3x4xf32>"],
     lambda x, w: [train.layer_norm_grad_input(x, x, w, 1e-5)], ["tensor<2x3x4xf32>"]),
    (["tensor<8x4xf32>"],
     lambda p: list(train.sgd_momentum(p, p, p, lr=0.1, momentum=0.9, weight_decay=1e-4)),
     ["tensor<8x4xf32>"] * 2),
    ([f"tensor<4x3x3x3x{QW}>", "tensor<4x3x3x3xf32>", "tensor<4xi32>", "tensor<4xf32>",
      f"tensor<4x3x{QX}>", "tensor<4x3xf32>"],
     lambda w, gw, b, gb, a, ga: [
         train.qsgd(w, gw, lr=0.01, qas=True), train.qsgd(w, gw, lr=0.01, weight_decay=0.5),
         train.qsgd(b, gb, lr=0.01, scales=[2e-4, 4e-4, 6e-4, 8e-4], qas=True),
         train.qsgd(a, ga, lr=0.01)],
     [f"tensor<4x3x3x3x{QW}>"] * 2 + ["tensor<4xi32>", f"tensor<4x3x{QX}>"]),
]


@pytest.mark.parametrize("args, body, expected", GRAD_CASES)
def test_gradient_builders_infer_result_types(args, body, expected):
    _, types = _build(args, body)
    assert types == expected


def _ops(module):
    return list(module.body.operations[0].entry_block.operations)


def test_gradient_attributes_read_back():
    def body(dy4, x, dy):
        return [train.max_pool2d_grad(dy4, x, 3, 2, 1),
                train.avg_pool2d_grad(dy4, x.type, 2, count_include_pad=False),
                train.slice(x, [0, 2, 0, 0], [1, 4, 8, 8]),
                train.clamp_grad(dy, dy, -1.0, 2.5), train.gelu_grad(dy, dy, tanh=True),
                train.softmax_grad(dy, dy, 0)]
    module, _ = _build(["tensor<1x8x4x4xf32>", "tensor<1x8x8x8xf32>", "tensor<4x8xf32>"],
                       body)
    max_grad, avg_grad, sliced, clamp, gelu, softmax = [op.operation for op in _ops(module)[:6]]
    geometry = train.PoolGeometry.of(max_grad)
    assert (geometry.kernel, geometry.stride, geometry.padding) == ((3, 3), (2, 2), (1, 1))
    assert train.PoolGeometry.of(avg_grad).stride == (2, 2)
    assert "count_include_pad" not in avg_grad.attributes
    assert list(ir.DenseI64ArrayAttr(sliced.attributes["offsets"])) == [0, 2, 0, 0]
    assert list(ir.DenseI64ArrayAttr(sliced.attributes["sizes"])) == [1, 4, 8, 8]
    assert ir.FloatAttr(clamp.attributes["min"]).value == -1.0
    assert ir.FloatAttr(clamp.attributes["max"]).value == 2.5
    assert "tanh" in gelu.attributes
    assert ir.IntegerAttr(softmax.attributes["axis"]).value == 0


def test_optimizer_attributes_read_back():
    def body(p, b, gb):
        return [*train.sgd_momentum(p, p, p, lr=0.5, momentum=0.25),
                train.qsgd(b, gb, lr=0.125, scales=[0.5, 0.25, 2.0, 1.0], qas=True)]
    module, _ = _build(["tensor<8x4xf32>", "tensor<4xi32>", "tensor<4xf32>"], body)
    momentum, qsgd = [op.operation for op in _ops(module)[:2]]
    assert len(momentum.results) == 2
    assert ir.FloatAttr(momentum.attributes["lr"]).value == 0.5
    assert ir.FloatAttr(momentum.attributes["momentum"]).value == 0.25
    assert ir.FloatAttr(momentum.attributes["weight_decay"]).value == 0.0
    assert "weight_decay" not in str(momentum)  # the default is not printed
    assert list(ir.DenseF64ArrayAttr(qsgd.attributes["scales"])) == [0.5, 0.25, 2.0, 1.0]
    assert "qas" in qsgd.attributes
    assert ir.FloatAttr(qsgd.attributes["lr"]).value == 0.125


def test_pool_grad_geometry_and_keywords_are_exclusive():
    with pytest.raises(ValueError, match="PoolGeometry"):
        _build(["tensor<1x8x4x4xf32>", "tensor<1x8x8x8xf32>"],
               lambda dy, x: [train.max_pool2d_grad(dy, x, train.PoolGeometry.make(2), 2)])


@pytest.mark.parametrize("body", [
    lambda x: [train.slice(x, [0, 6], [4, 4])],          # out of bounds
    lambda x: [train.pad_to(x, [0, 1], [4, 8])],         # does not fit
    lambda x: [train.sum_to(x, [3, 1])],                 # not a broadcast shape
    lambda x: [train.softmax_grad(x, x, 2)],             # axis out of range
    lambda x: [train.clamp_grad(x, x, 1.0, 0.0)],        # min > max
    lambda x: list(train.sgd_momentum(x, x, x, lr=0.1, momentum=1.0)),
])
def test_gradient_builders_are_verified(body):
    with pytest.raises(ir.MLIRError):
        _build(["tensor<4x8xf32>"], body)


def test_qsgd_bias_needs_scales():
    with pytest.raises(ir.MLIRError, match="scales"):
        _build(["tensor<4xi32>", "tensor<4xf32>"], lambda b, g: [train.qsgd(b, g, lr=0.1)])


def test_channels_and_momentum_of_argument_attributes():
    text = """
    func.func @step(%w: tensor<8x4xf32> {train.role = #train.role<trainable>,
                                         train.channels = 2 : i64},
                    %m: tensor<8x4xf32> {train.momentum_of = 0 : i64})
        -> (tensor<8x4xf32> {train.updates = 0 : i64}, tensor<8x4xf32> {train.updates = 1 : i64}) {
      return %w, %m : tensor<8x4xf32>, tensor<8x4xf32>
    }"""
    with new_context() as context:
        module = ir.Module.parse(text, context)
        assert module.operation.verify()
        function = module.body.operations[0]
        assert train.arg_channels(function, 0) == 2 and train.arg_channels(function, 1) is None
        assert train.momentum_of(function, 1) == 0 and train.momentum_of(function, 0) is None
        assert train.updated_arg(function, 1) == 1
        with pytest.raises(ir.MLIRError, match="train.channels"):
            ir.Module.parse(text.replace("channels = 2", "channels = 9"), context)
        with pytest.raises(ir.MLIRError, match="not a trainable parameter"):
            ir.Module.parse(text.replace("#train.role<trainable>", "#train.role<frozen>"),
                            context)
