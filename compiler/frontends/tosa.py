"""Import TOSA (MLIR 22's TOSA 1.0 dialect, as produced by TFLite, PyTorch/ExecuTorch
or IREE exporters) into the train dialect.

`import_tosa(module_or_path)` runs `--tosa-to-train` (passes/tosa_to_train.py: NHWC
to NCHW, fused int8 conv/matmul + rescale, TFLite's int8 ADD), names the single public
function @forward and lifts the constants that are the weights and biases of
convolutions and fully connected layers into parameters of @forward:

    func.func @forward(%input: tensor<1x32x32x3xf32>,
                       %conv0.weight: tensor<8x3x3x3xf32>
                           {train.name = "conv0.weight", train.role = #train.role<trainable>},
                       %conv0.bias: tensor<8xf32> {...}, ...) -> tensor<1x10xf32>

Data inputs keep their TOSA (NHWC) shapes and come first; parameters follow in program
order, named `conv<i>` (train.conv2d / train.qconv2d, depthwise included), `fc<i>`
(train.linear / train.qlinear) and `matmul<i>` (a constant right operand of
train.matmul), `.weight` and `.bias`. Each use gets its own parameter, even where the
TOSA module shares one constant between layers. Float values are float32 arrays,
quantized weights their int8 storage (the scales stay in the per-axis quantized types),
quantized biases int32.

int8 TOSA whose tensors are plain `i8` (no `!quant.uniform` types) gets activation
scale 1.0 and the zero points of the zp operands; the weight scales are then exactly the
rescale's multiplier · 2^-shift (see passes/tosa_to_train.py), so the imported model
computes the same integers as the TOSA one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..._mlir import ir
from ..._mlir.dialects import func
from ...dialects import train
from ...passes.tosa_to_train import TosaToTrain
from ..errors import InputError, IRError, TccError, format_location
from ..source import load_module, new_context
from .model_file import ImportedModel

# train op -> (parameter prefix, operand indices of weight and bias)
_PARAMETER_OPS = {
    "train.conv2d": "conv",
    "train.qconv2d": "conv",
    "train.linear": "fc",
    "train.qlinear": "fc",
    "train.matmul": "matmul",
}


def import_tosa(module_or_path) -> ImportedModel:
    """Converts a TOSA module (an ir.Module, converted in place, or a .mlir path)."""
    if isinstance(module_or_path, ir.Module):
        module, filename = module_or_path, None
    else:
        filename = str(module_or_path)
        module = load_module(Path(module_or_path), new_context())
    try:
        with module.context:
            TosaToTrain().run(module)
            forward = _forward_function(module, filename)
            weights = _lift_parameters(forward)
    except TccError as error:
        if error.location and error.location.startswith("loc("):
            error.location = format_location(error.location, filename)
        raise
    try:
        module.operation.verify()
    except ir.MLIRError as error:
        first = list(error.error_diagnostics)[:1]
        raise IRError("imported TOSA model is invalid: "
                      + (first[0].message if first else str(error)),
                      format_location(first[0].location, filename) if first else filename
                      ) from None
    return ImportedModel(module, weights)


def _forward_function(module: ir.Module, filename: str | None) -> func.FuncOp:
    """The one public function with a body, renamed to @forward."""
    functions = [op for op in module.body.operations if isinstance(op, func.FuncOp)]
    public = [f for f in functions if len(f.body.blocks) and (
        "sym_visibility" not in f.attributes
        or ir.StringAttr(f.attributes["sym_visibility"]).value == "public")]
    if len(public) != 1:
        names = ", ".join(f"@{f.sym_name.value}" for f in public) or "none"
        raise InputError(f"expected one public function in the TOSA module, found {names}",
                         filename)
    forward = public[0]
    if forward.sym_name.value != "forward":
        if any(f.sym_name.value == "forward" for f in functions):
            raise InputError("the TOSA module has a private @forward besides its public "
                             f"@{forward.sym_name.value}", filename)
        forward.attributes["sym_name"] = ir.StringAttr.get("forward")
    return forward


def _constant(value: ir.Value):
    """(array, defining ops) of a constant operand: arith.constant, or a quant.scast of
    an i8 arith.constant (a quantized weight); None otherwise."""
    ops = []
    if isinstance(value, ir.OpResult) and value.owner.name == "quant.scast":
        ops.append(value.owner)
        value = value.owner.operands[0]
    if not isinstance(value, ir.OpResult) or value.owner.name != "arith.constant":
        return None
    ops.append(value.owner)
    attr = ir.DenseElementsAttr(value.owner.attributes["value"])
    array = np.array(attr).reshape(list(ir.RankedTensorType(value.type).shape))
    return array, ops


def _stored(array: np.ndarray, element: ir.Type) -> np.ndarray:
    """The array as the weights file stores it."""
    if isinstance(element, ir.IntegerType):
        return array.astype(np.int32 if ir.IntegerType(element).width == 32 else np.int8)
    if isinstance(element, ir.FloatType):
        return array.astype(np.float32)
    return array.astype(np.int8)  # quantized: the int8 storage


def _lift_parameters(forward: func.FuncOp) -> dict[str, np.ndarray]:
    block = forward.body.blocks[0]
    arg_attrs = [ir.DictAttr(a) for a in ir.ArrayAttr(forward.attributes["arg_attrs"])] \
        if "arg_attrs" in forward.attributes else \
        [ir.DictAttr.get({}) for _ in block.arguments]
    counters = {prefix: 0 for prefix in _PARAMETER_OPS.values()}
    weights: dict[str, np.ndarray] = {}
    dead = []
    for op in list(block.operations):
        prefix = _PARAMETER_OPS.get(op.operation.name)
        if prefix is None:
            continue
        layer = f"{prefix}{counters[prefix]}"
        counters[prefix] += 1
        for index, suffix in ((1, "weight"), (2, "bias")):
            if index >= len(op.operands):
                continue
            operand = op.operands[index]
            found = _constant(operand)
            if found is None:
                continue
            array, defining = found
            name = f"{layer}.{suffix}"
            element = ir.RankedTensorType(operand.type).element_type
            argument = block.add_argument(operand.type, op.location)
            op.operands[index] = argument
            weights[name] = _stored(array, element)
            arg_attrs.append(ir.DictAttr.get({
                train.NAME: ir.StringAttr.get(name),
                train.ROLE: train.role_attr("trainable")}))
            dead += defining
    erased = set()
    for op in dead:
        if op in erased:
            continue
        erased.add(op)
        if all(not list(r.uses) for r in op.results):
            op.operation.erase()
    results = ir.FunctionType(ir.TypeAttr(forward.attributes["function_type"]).value).results
    forward.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(
        [a.type for a in block.arguments], results))
    forward.attributes["arg_attrs"] = ir.ArrayAttr.get(arg_attrs)
    return weights
