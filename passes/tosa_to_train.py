"""--tosa-to-train: rewrites TOSA 1.0 (MLIR 22's form, zero points as operands)
into train-dialect ops.

Layout. TOSA is NHWC with OHWI conv weights and [KH, KW, C, M] depthwise
weights; train is NCHW / OIHW. Each TOSA value is tracked as a pair (value,
perm) with `tosa_value == transpose(value, perm)`, so spatial ops keep their
results in NCHW, element-wise ops follow the layout of their operands and
`tosa.transpose` only composes permutations. A `train.transpose` is
materialized only where a consumer needs a layout the value is not in (a
permutation that only moves size-1 dimensions becomes a `train.reshape`), so a
CNN gets one transpose at its input and, unless its output is 4-D, none at its
output. Constant weights are transposed with numpy at conversion time. A final
cleanup composes chains of reshapes and transposes, folds a flatten-transpose
in front of a fully connected layer into its constant weight, moves constant
bias adds into `train.linear` and deletes dead ops.

Float ops: conv2d, depthwise_conv2d (a grouped train.conv2d), matmul
(train.linear when the right operand is a constant with batch 1, train.matmul
otherwise), a 1x1 conv2d over a 1x1 image (TOSA 1.0's fully connected form:
train.linear), add, mul (shift 0), clamp (train.relu for [0, +inf)),
avg_pool2d (count_include_pad false), max_pool2d, reshape, transpose, concat,
sigmoid, identity and const (arith.constant). TOSA broadcasting (size-1 dims)
becomes train.broadcast. Asymmetric padding (TFLite's SAME with stride 2) that a
symmetric padding cannot reproduce is made explicit with train.concat of pad
values (zeros for convolutions, -inf for max pooling; average pooling is then
rescaled by a constant kernel-size/count map so padding stays uncounted).

int8 ops: conv2d / depthwise_conv2d / matmul with i8 operands and an i32
accumulator followed by a tosa.rescale to i8 (scale32, DOUBLE_ROUND) fuse into
train.qconv2d / train.qlinear with `rounding multiplier_shift`; a following i8
tosa.clamp is fused by narrowing the storage range of the result type.
TFLite's int8 ADD as legalized to TOSA (rescale ×2^20, rescale by
s/(2·max s), i32 add, rescale to i8) becomes train.qadd. reshape, transpose,
concat, max_pool2d and clamp move storage values on the same quantized type.

Quantization parameters. Quantized tensor types (`!quant.uniform`) are used as
given. Plain i8 tensors carry no scales: their zero points come from the zp
operands of the ops that produce and consume them, and their scale is 1.0
(TFLite ADD patterns fix ratios between scales; these are solved in program
order). A fused convolution's per-channel weight scales are then
s_w[o] = multiplier[o] · 2^-shift[o] · s_y / s_x, which is exact in float64
(for s_x = s_y = 1 it is the rescale's multiplier and shift themselves), so
train's QuantizeMultiplier recovers the rescale's (multiplier, shift) exactly;
the pass checks that it does. TOSA's DOUBLE_ROUND equals TFLite's
MultiplyByQuantizedMultiplier for normalized multipliers (2^30 <= m < 2^31),
which is what `multiplier_shift` computes; other multipliers are rejected.

int8 weights are constants of quantized type, written as an i8 arith.constant
and a quant.scast; `tcc.compiler.frontends.tosa.import_tosa` lifts them (and
all conv / fully connected weights and biases) into @forward parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._mlir import ir
from .._mlir.dialects import func, quant
from ..compiler.errors import UnsupportedError

NCHW = (0, 2, 3, 1)     # tosa NHWC value == transpose(NCHW value, NCHW)
OIHW = (0, 2, 3, 1)     # tosa OHWI weight == transpose(OIHW weight, OIHW)
F32_MAX = float(np.finfo(np.float32).max)

_INTEGER_MESSAGE = ("{kind} '{name}' is not supported (int8 support covers conv2d, "
                    "depthwise_conv2d and matmul followed by a rescale, TFLite's ADD pattern, "
                    "reshape, transpose, max_pool2d and clamp)")


@dataclass
class TosaToTrain:
    """Converts every function that contains TOSA ops."""

    def run(self, module: ir.Module) -> None:
        with module.context:
            self._run(module)

    def _run(self, module: ir.Module) -> None:
        for op in list(module.body.operations):
            if not isinstance(op, func.FuncOp) or not len(op.body.blocks):
                continue
            block = op.body.blocks[0]
            if not any(o.operation.name.startswith("tosa.") for o in block.operations):
                continue
            with op.location:
                _FunctionConverter(op).run()


# ----------------------------------------------------------------------------
# Helpers


def _loc(op) -> str:
    return str(op.location)


def _shape(value: ir.Value) -> list[int]:
    return list(ir.RankedTensorType(value.type).shape)


def _element(value: ir.Value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def _inverse(perm) -> tuple:
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return tuple(inverse)


def _compose(p, r) -> tuple:
    """transpose(transpose(a, p), r) == transpose(a, _compose(p, r))."""
    return tuple(p[i] for i in r)


def _permute(shape, perm) -> list[int]:
    return [shape[i] for i in perm]


def _identity(n: int) -> tuple:
    return tuple(range(n))


def _moves_only_unit_dims(shape, perm) -> bool:
    """Whether transpose(x, perm) keeps the order of x's non-1 dims (a reshape)."""
    order = [p for p in perm if shape[p] != 1]
    return order == sorted(order)


def _quant_type(t: ir.Type):
    if isinstance(t, quant.UniformQuantizedType):
        return quant.UniformQuantizedType(t)
    return None


def _storage_width(t: ir.Type) -> int | None:
    if isinstance(t, ir.IntegerType):
        return ir.IntegerType(t).width
    if isinstance(t, quant.QuantizedType):
        return quant.QuantizedType(t).storage_type_integral_width
    return None


def _is_int(value: ir.Value, width: int) -> bool:
    t = value.type
    return isinstance(t, ir.RankedTensorType) and _storage_width(_element(value)) == width


def _is_i8(value: ir.Value) -> bool:
    return _is_int(value, 8)


def _producer(value: ir.Value):
    """The op defining `value`, or None for a block argument."""
    if isinstance(value, ir.OpResult):
        return ir.OpResult(value).owner
    return None


def _users(value: ir.Value) -> list:
    return [use.owner for use in value.uses]


def _i64_array(values) -> ir.Attribute:
    return ir.DenseI64ArrayAttr.get([int(v) for v in values])


def _f32(value: float) -> ir.Attribute:
    return ir.FloatAttr.get(ir.F32Type.get(), float(value))


def _tensor(shape, element) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), element)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real == m · 2^(shift - 31), 2^30 <= m < 2^31."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    if fixed == (1 << 31):
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def _i8_quant(scale: float, zero_point: int, lo: int = -128, hi: int = 127):
    i8 = ir.IntegerType.get_signless(8)
    return quant.UniformQuantizedType.get(quant.UniformQuantizedType.FLAG_SIGNED, i8,
                                          ir.F32Type.get(), float(scale), int(zero_point), lo, hi)


def _per_channel_quant(scales):
    i8 = ir.IntegerType.get_signless(8)
    return quant.UniformQuantizedPerAxisType.get(
        quant.UniformQuantizedType.FLAG_SIGNED, i8, ir.F32Type.get(),
        [float(s) for s in scales], [0] * len(scales), 0, -128, 127)


def _rounding_attr(name: str) -> ir.Attribute:
    return ir.Attribute.parse(f"#train<rounding {name}>")


# ----------------------------------------------------------------------------
# Pattern matching of int8 groups


@dataclass
class _Rescale:
    """A tosa.rescale with its constant parameters."""

    op: object
    multipliers: np.ndarray
    shifts: np.ndarray
    input_zp: int
    output_zp: int

    def factors(self) -> np.ndarray:
        return self.multipliers.astype(np.float64) * np.ldexp(1.0, -self.shifts.astype(np.int64))


@dataclass
class _ConvGroup:
    conv: object
    rescale: _Rescale
    clamp: object = None


@dataclass
class _AddGroup:
    rescale: _Rescale                     # i32 -> i8, the root
    add: object                           # the i32 tosa.add
    inputs: list                          # [(i8 value, [rescales from the i8 value])]
    ratios: list = field(default_factory=list)
    clamp: object = None


# ----------------------------------------------------------------------------
# The converter of one function


class _FunctionConverter:
    def __init__(self, function: func.FuncOp):
        self.function = function
        self.block = function.body.blocks[0]
        self.values: dict = {}        # tosa value -> (new value, perm)
        self.consts: dict = {}        # tosa value -> numpy array (storage values)
        self.cache: dict = {}         # (tosa value, perm) -> new value
        self.skip: set = set()        # ops converted as part of a group
        self.groups: dict = {}        # root op -> group
        self.parent: dict = {}        # union-find over i8 activation values
        self.zero_points: dict = {}
        self.scales: dict = {}

    # -- driver ---------------------------------------------------------------

    def run(self) -> None:
        ops = list(self.block.operations)
        self._check_static(ops)
        self._collect_constants(ops)
        self._match_groups(ops)
        self._analyze_quantization(ops)
        for arg in self.block.arguments:
            if _is_i8(arg):
                arg.set_type(_tensor(_shape(arg), self._class_type(arg)))
            self.values[arg] = (arg, _identity(len(_shape(arg))))
        results = None
        for op in ops:
            name = op.operation.name
            if name == "func.return":
                with ir.InsertionPoint(op), op.location:
                    operands = [self._get(v, _identity(len(_shape(v)))) for v in op.operands]
                    func.ReturnOp(operands)
                    results = [v.type for v in operands]
                continue
            if op in self.skip:
                continue
            with ir.InsertionPoint(op), op.location:
                self._convert(op)
        for op in reversed(ops):
            op.operation.erase()
        self.function.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(
            [a.type for a in self.block.arguments], results or []))
        _cleanup(self.block)

    def _check_static(self, ops) -> None:
        for arg in self.block.arguments:
            self._check_type(arg.type, self.function)
        for op in ops:
            for value in list(op.operands) + list(op.results):
                self._check_type(value.type, op)

    @staticmethod
    def _check_type(t: ir.Type, op) -> None:
        if isinstance(t, ir.ShapedType):
            shaped = ir.ShapedType(t)
            if not shaped.has_rank or not shaped.has_static_shape:
                raise UnsupportedError(f"dynamic shape {t} is not supported "
                                       "(tcc needs static shapes)", _loc(op))

    def _collect_constants(self, ops) -> None:
        """Constants, and layout ops of constants folded with numpy."""
        for op in ops:
            name = op.operation.name
            if name in ("tosa.const", "arith.constant"):
                if not isinstance(op.results[0].type, ir.RankedTensorType):
                    continue
                attr = op.attributes["values" if name == "tosa.const" else "value"]
                if not isinstance(attr, ir.DenseElementsAttr):
                    raise UnsupportedError(f"constant {attr.type} is not a dense elements "
                                           "attribute (dense_resource is not supported)",
                                           _loc(op))
                array = np.array(ir.DenseElementsAttr(attr))
                self.consts[op.results[0]] = array.reshape(_shape(op.results[0]))
            elif name in ("tosa.reshape", "tosa.identity") and op.operands[0] in self.consts:
                self.consts[op.results[0]] = self.consts[op.operands[0]].reshape(
                    _shape(op.results[0]))
            elif name == "tosa.transpose" and op.operands[0] in self.consts:
                perms = list(ir.DenseI32ArrayAttr(op.attributes["perms"]))
                self.consts[op.results[0]] = np.transpose(self.consts[op.operands[0]], perms)

    def _const(self, value, op, what: str) -> np.ndarray:
        if value not in self.consts:
            raise UnsupportedError(f"{what} of '{op.operation.name}' must be a constant", _loc(op))
        return self.consts[value]

    def _scalar(self, value, op, what: str) -> int | float:
        array = self._const(value, op, what).reshape(-1)
        if array.size != 1:
            raise UnsupportedError(f"{what} of '{op.operation.name}' must have one element",
                                   _loc(op))
        return array[0].item()

    def _check_zero(self, values, op) -> None:
        for value, what in values:
            if self._scalar(value, op, what) != 0:
                raise UnsupportedError(f"non-zero {what} of a float '{op.operation.name}' is "
                                       "not supported", _loc(op))

    # -- int8 groups ----------------------------------------------------------

    def _rescale(self, op) -> _Rescale:
        attrs = op.attributes
        name = "tosa.rescale"
        if not ir.BoolAttr(attrs["scale32"]).value:
            raise UnsupportedError(f"'{name}' with scale32 = false is not supported", _loc(op))
        for flag in ("input_unsigned", "output_unsigned"):
            if ir.BoolAttr(attrs[flag]).value:
                raise UnsupportedError(f"'{name}' with {flag} = true is not supported", _loc(op))
        x, multiplier, shift, input_zp, output_zp = op.operands
        return _Rescale(op, self._const(multiplier, op, "multiplier").reshape(-1).astype(np.int64),
                        self._const(shift, op, "shift").reshape(-1).astype(np.int64),
                        int(self._scalar(input_zp, op, "input zero point")),
                        int(self._scalar(output_zp, op, "output zero point")))

    @staticmethod
    def _rounding_mode(op) -> str:
        text = str(op.attributes["rounding_mode"])
        for mode in ("DOUBLE_ROUND", "SINGLE_ROUND", "INEXACT_ROUND"):
            if mode in text:
                return mode
        return text

    def _require_double_round(self, op) -> None:
        mode = self._rounding_mode(op)
        if mode != "DOUBLE_ROUND":
            raise UnsupportedError(f"'tosa.rescale' with rounding_mode {mode} is not supported "
                                   "(only DOUBLE_ROUND, which is TFLite's rounding)", _loc(op))

    def _match_groups(self, ops) -> None:
        for op in ops:
            name = op.operation.name
            if (name in ("tosa.conv2d", "tosa.depthwise_conv2d", "tosa.matmul")
                    and _is_i8(op.operands[0])):
                self._match_conv(op)
        for op in ops:
            if (op.operation.name == "tosa.rescale" and op not in self.skip
                    and _is_int(op.operands[0], 32) and _is_i8(op.results[0])):
                group = self._match_add(op)
                if group is not None:
                    self.groups[op] = group
        for op in ops:
            if op.operation.name == "tosa.rescale" and op not in self.skip \
                    and op not in self.groups:
                raise UnsupportedError(
                    "unsupported 'tosa.rescale': int8 rescales are supported only after an "
                    "int8 conv2d, depthwise_conv2d or matmul, or in TFLite's ADD pattern",
                    _loc(op))

    def _match_conv(self, conv) -> None:
        name = conv.operation.name
        acc = conv.results[0]
        users = _users(acc)
        if not _is_int(acc, 32) or len(users) != 1 or users[0].name != "tosa.rescale" \
                or not _is_i8(users[0].results[0]):
            raise UnsupportedError(f"int8 '{name}' must produce an i32 accumulator used only by "
                                   "a tosa.rescale to i8", _loc(conv))
        rescale_op = users[0]
        rescale = self._rescale(rescale_op)
        self._require_double_round(rescale_op)
        if rescale.input_zp != 0:
            raise UnsupportedError("'tosa.rescale' of an accumulator must have input zero "
                                   "point 0", _loc(rescale_op))
        group = _ConvGroup(conv, rescale, self._fusable_clamp(rescale_op.results[0]))
        self.groups[conv] = group
        self.skip.add(rescale_op)
        if group.clamp is not None:
            self.skip.add(group.clamp)

    def _fusable_clamp(self, value):
        users = _users(value)
        if len(users) == 1 and users[0].name == "tosa.clamp":
            return users[0]
        return None

    def _match_add(self, root):
        rescale = self._rescale(root)
        add = _producer(root.operands[0])
        if add is None or add.name != "tosa.add" or len(_users(add.results[0])) != 1:
            return None
        inputs = []
        for operand in add.operands:
            chain, value = [], operand
            while True:
                op = _producer(value)
                if op is None or op.name != "tosa.rescale" or len(_users(value)) != 1:
                    return None
                chain.append(op)
                value = op.operands[0]
                if _is_i8(value):
                    break
                if not _is_int(value, 32) or len(chain) > 2:
                    return None
            inputs.append((value, [self._rescale(r) for r in reversed(chain)]))
        group = _AddGroup(rescale, add, inputs)
        self._require_double_round(root)
        if rescale.input_zp != 0 or len(rescale.multipliers) != 1:
            raise UnsupportedError("int8 add: the output 'tosa.rescale' must have input zero "
                                   "point 0 and one multiplier", _loc(root))
        for _, chain in inputs:
            group.ratios.append(self._add_input_ratio(chain, root))
        if max(group.ratios) != 0.5:
            raise UnsupportedError("int8 add does not match TFLite's ADD (neither input is "
                                   "rescaled by 2^20 · 0.5)", _loc(root))
        self.skip.update([add] + [r.op for _, chain in inputs for r in chain])
        group.clamp = self._fusable_clamp(root.results[0])
        if group.clamp is not None:
            self.skip.add(group.clamp)
        return group

    def _add_input_ratio(self, chain, root) -> float:
        """s_input / (2 · max input scale) of one rescale chain of TFLite's ADD."""
        error = UnsupportedError("int8 add does not match TFLite's ADD (input rescales must "
                                 "be ×2^20 then ×s/(2·max s), or ×2^19)", _loc(root))
        for index, r in enumerate(chain):
            if len(r.multipliers) != 1 or r.output_zp != 0 or (index and r.input_zp != 0):
                raise error
        first = float(chain[0].factors()[0])
        if len(chain) == 1:
            if first != 2.0 ** 19:
                raise error
            return 0.5
        if first != 2.0 ** 20:
            raise error
        self._require_double_round(chain[1].op)
        second = chain[1]
        multiplier, shift = int(second.multipliers[0]), int(second.shifts[0])
        if not (1 << 30) <= multiplier < (1 << 31):
            raise error
        ratio = float(second.factors()[0])
        if ratio > 0.5:
            raise error
        return ratio

    # -- int8 types -----------------------------------------------------------

    def _find(self, value):
        self.parent.setdefault(value, value)
        root = value
        while self.parent[root] != root:
            root = self.parent[root]
        self.parent[value] = root
        return root

    def _union(self, a, b) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[ra] = rb

    def _set_zero_point(self, value, zp: int, op) -> None:
        root = self._find(value)
        if self.zero_points.get(root, zp) != zp:
            raise UnsupportedError(f"zero point mismatch: the int8 tensor has zero point "
                                   f"{self.zero_points[root]} elsewhere but {zp} at "
                                   f"'{op.name}'", _loc(op))
        self.zero_points[root] = zp

    def _analyze_quantization(self, ops) -> None:
        """Zero points and scales of the i8 activation tensors (classes of values a
        layout op moves unchanged)."""
        layout = ("tosa.reshape", "tosa.transpose", "tosa.max_pool2d", "tosa.clamp",
                  "tosa.identity")
        activations = [a for a in self.block.arguments if _is_i8(a)]
        for op in ops:
            activations += [r for r in op.results if _is_i8(r) and r not in self.consts]
            if op.name in layout and _is_i8(op.results[0]) and op.results[0] not in self.consts:
                self._union(op.operands[0], op.results[0])
            if op.name == "tosa.concat" and _is_i8(op.results[0]):
                for operand in op.operands:
                    if operand not in self.consts:
                        self._union(operand, op.results[0])
        for value in activations:
            q = _quant_type(_element(value))
            if q is not None:
                root = self._find(value)
                owner = _producer(value) or self.function
                self._set_zero_point(value, q.zero_point, owner)
                if root in self.scales and self.scales[root] != q.scale:
                    raise UnsupportedError("scale mismatch between quantized types of one "
                                           "tensor", _loc(owner))
                self.scales[root] = q.scale
            elif isinstance(_element(value), quant.QuantizedType):
                raise UnsupportedError(f"quantized type {_element(value)} is not supported "
                                       "for activations (per-tensor !quant.uniform only)",
                                       _loc(_producer(value) or self.function))
        for op in ops:
            group = self.groups.get(op)
            if isinstance(group, _ConvGroup):
                zp_operand = op.operands[3] if op.name != "tosa.matmul" else op.operands[2]
                self._set_zero_point(op.operands[0], int(self._scalar(
                    zp_operand, op, "input zero point")), op)
                self._set_zero_point(group.rescale.op.results[0], group.rescale.output_zp,
                                     group.rescale.op)
            elif isinstance(group, _AddGroup):
                for value, chain in group.inputs:
                    self._set_zero_point(value, chain[0].input_zp, chain[0].op)
                self._set_zero_point(op.results[0], group.rescale.output_zp, op)
                self._solve_add_scales(group, op)

    def _solve_add_scales(self, group: _AddGroup, op) -> None:
        (a, _), (b, _) = group.inputs
        ra, rb = group.ratios
        classes = [self._find(a), self._find(b)]
        known = [self.scales.get(c) for c in classes]
        if known[0] is None and known[1] is None:
            # The input with ratio 0.5 has the larger scale; it gets scale 1.
            if ra == 0.5:
                self.scales[classes[0]] = 1.0
            else:
                self.scales[classes[1]] = 1.0
            known = [self.scales.get(c) for c in classes]
        if known[0] is None:
            self.scales[classes[0]] = known[1] * ra / rb
        elif known[1] is None:
            self.scales[classes[1]] = known[0] * rb / ra
        out = self._find(op.results[0])
        if out not in self.scales:
            twice_max = 2.0 * max(self.scales[classes[0]], self.scales[classes[1]])
            self.scales[out] = twice_max / (float(group.rescale.factors()[0]) * (1 << 20))

    def _class_type(self, value):
        root = self._find(value)
        return _i8_quant(self.scales.get(root, 1.0), self.zero_points.get(root, 0))

    # -- values and layouts ---------------------------------------------------

    def _mapped(self, value):
        if value not in self.values:
            raise UnsupportedError(f"value of type {value.type} is not supported here",
                                   _loc(_producer(value) or self.function))
        return self.values[value]

    def _element_for(self, value) -> ir.Type:
        """The train element type of a tosa value."""
        if value in self.values:
            return _element(self.values[value][0])
        if _is_i8(value):
            return self._class_type(value)
        return _element(value)

    def _get(self, value, perm) -> ir.Value:
        """A train value v with tosa_value == transpose(v, perm)."""
        perm = tuple(perm)
        key = (value, perm)
        if key in self.cache:
            return self.cache[key]
        if value in self.consts and value not in self.values:
            array = np.transpose(self.consts[value], _inverse(perm))
            result = self._constant(array, self._element_for(value))
        else:
            new, have = self._mapped(value)
            c = _compose(have, _inverse(perm))
            shape = _shape(new)
            target = _permute(shape, c)
            if c == _identity(len(c)):
                result = new
            elif _moves_only_unit_dims(shape, c):
                result = self._op("train.reshape", _tensor(target, _element(new)), [new])
            else:
                result = self._op("train.transpose", _tensor(target, _element(new)), [new],
                                  permutation=_i64_array(c))
        self.cache[key] = result
        return result

    def _layout_of(self, operands) -> tuple:
        """The layout an element-wise op works in: its first non-constant operand's."""
        for value in operands:
            if value in self.values:
                return self.values[value][1]
        return _identity(len(_shape(operands[0])))

    def _constant(self, array: np.ndarray, element: ir.Type) -> ir.Value:
        if _quant_type(element) is not None or isinstance(element, quant.QuantizedType):
            storage = ir.IntegerType.get_signless(8)
            raw = self._constant(np.asarray(array).astype(np.int8), storage)
            return self._op("quant.scast", _tensor(array.shape, element), [raw])
        if isinstance(element, ir.IntegerType):
            dtype = {1: np.bool_, 8: np.int8, 16: np.int16, 32: np.int32,
                     64: np.int64}[ir.IntegerType(element).width]
        elif isinstance(element, ir.F16Type):
            dtype = np.float16
        elif isinstance(element, ir.F64Type):
            dtype = np.float64
        else:
            dtype = np.float32
        tensor = _tensor(array.shape, element)
        attr = ir.DenseElementsAttr.get(np.ascontiguousarray(array, dtype=dtype), type=tensor)
        return self._op("arith.constant", tensor, [], value=attr)

    @staticmethod
    def _op(name: str, result_type: ir.Type, operands, **attributes) -> ir.Value:
        op = ir.Operation.create(name, results=[result_type], operands=list(operands),
                                 attributes={k: v for k, v in attributes.items()
                                             if v is not None})
        return op.results[0]

    def _broadcast(self, value: ir.Value, shape) -> ir.Value:
        if _shape(value) == list(shape):
            return value
        return self._op("train.broadcast", _tensor(shape, _element(value)), [value])

    # -- conversion -----------------------------------------------------------

    def _convert(self, op) -> None:
        name = op.operation.name
        handler = _HANDLERS.get(name)
        if handler is None:
            raise UnsupportedError(f"unsupported TOSA op '{name}'" if name.startswith("tosa.")
                                   else f"unsupported op '{name}' in a TOSA function", _loc(op))
        handler(self, op)

    def _not_int8(self, op) -> None:
        for value in list(op.operands)[:1] + list(op.results):
            width = _storage_width(_element(value))
            if width is not None:
                kind = "int8" if width == 8 else f"i{width}"
                raise UnsupportedError(_INTEGER_MESSAGE.format(kind=kind, name=op.name),
                                       _loc(op))

    def _constant_op(self, op) -> None:
        pass  # materialized on use (_get), with the layout the user needs

    def _identity_op(self, op) -> None:
        if op.results[0] not in self.consts:
            self.values[op.results[0]] = self._mapped(op.operands[0])

    def _transpose(self, op) -> None:
        if op.results[0] in self.consts:
            return
        perms = tuple(ir.DenseI32ArrayAttr(op.attributes["perms"]))
        new, have = self._mapped(op.operands[0])
        self.values[op.results[0]] = (new, _compose(have, perms))

    def _reshape(self, op) -> None:
        if op.results[0] in self.consts:
            return
        x = op.operands[0]
        new = self._get(x, _identity(len(_shape(x))))
        shape = _shape(op.results[0])
        out = new if _shape(new) == shape else self._op(
            "train.reshape", _tensor(shape, _element(new)), [new])
        self.values[op.results[0]] = (out, _identity(len(shape)))

    def _elementwise(self, op, name: str, operands, **attributes) -> None:
        perm = self._layout_of(operands)
        shape = _permute(_shape(op.results[0]), _inverse(perm))
        values = [self._broadcast(self._get(v, perm), shape) for v in operands]
        result = self._op(name, _tensor(shape, _element(values[0])), values, **attributes)
        self.values[op.results[0]] = (result, perm)

    def _add(self, op) -> None:
        self._not_int8(op)
        self._elementwise(op, "train.add", list(op.operands))

    def _mul(self, op) -> None:
        self._not_int8(op)
        self._check_zero([(op.operands[2], "shift")], op)
        self._elementwise(op, "train.mul", list(op.operands[:2]))

    def _sigmoid(self, op) -> None:
        self._not_int8(op)
        self._elementwise(op, "train.sigmoid", [op.operands[0]])

    def _concat(self, op) -> None:
        operands = list(op.operands)
        if not _is_i8(op.results[0]):
            self._not_int8(op)
        axis = ir.IntegerAttr(op.attributes["axis"]).value
        perm = self._layout_of(operands)
        values = [self._get(v, perm) for v in operands]
        if len({str(_element(v)) for v in values}) != 1:
            raise UnsupportedError("int8 'tosa.concat' of tensors with different quantization "
                                   "is not supported", _loc(op))
        shape = _permute(_shape(op.results[0]), _inverse(perm))
        result = self._op("train.concat", _tensor(shape, _element(values[0])), values,
                          axis=ir.IntegerAttr.get(ir.IntegerType.get_signless(64),
                                                  perm[axis]))
        self.values[op.results[0]] = (result, perm)

    def _clamp(self, op) -> None:
        lo, hi = (ir.Attribute(op.attributes[k]) for k in ("min_val", "max_val"))
        x = op.operands[0]
        if _is_i8(x):
            new, perm = self._mapped(x)
            q = _quant_type(_element(new))
            lo_int, hi_int = ir.IntegerAttr(lo).value, ir.IntegerAttr(hi).value
            self.values[op.results[0]] = (self._op(
                "train.clamp", new.type, [new], min=_f32((lo_int - q.zero_point) * q.scale),
                max=_f32((hi_int - q.zero_point) * q.scale)), perm)
            return
        self._not_int8(op)
        lo_f, hi_f = ir.FloatAttr(lo).value, ir.FloatAttr(hi).value
        if lo_f == 0.0 and hi_f >= F32_MAX:
            self._elementwise(op, "train.relu", [x])
        else:
            self._elementwise(op, "train.clamp", [x], min=_f32(max(lo_f, -F32_MAX)),
                              max=_f32(min(hi_f, F32_MAX)))

    # geometry

    @staticmethod
    def _attr_list(op, name) -> list[int]:
        return [int(v) for v in ir.DenseI64ArrayAttr(op.attributes[name])]

    def _padded(self, op, x: ir.Value, pad, kernel, stride, dilation, pad_value):
        """Symmetric padding for train, padding x explicitly (concat) where TOSA's
        [top, bottom, left, right] padding cannot be made symmetric.

        Returns (x, (pad_h, pad_w), explicit) with explicit = the extra
        (top, bottom, left, right) rows and columns concatenated."""
        n, c, h, w = _shape(x)
        sizes = (h, w)
        symmetric, explicit = [], [0, 0, 0, 0]
        for axis in range(2):
            before, after = pad[2 * axis], pad[2 * axis + 1]
            span = dilation[axis] * (kernel[axis] - 1) + 1
            out = (sizes[axis] + before + after - span) // stride[axis] + 1
            if (sizes[axis] + 2 * before - span) // stride[axis] + 1 == out:
                symmetric.append(before)
                continue
            low = min(before, after)
            symmetric.append(low)
            explicit[2 * axis] = before - low
            explicit[2 * axis + 1] = after - low
        if any(explicit):
            if pad_value is None:
                raise UnsupportedError(f"asymmetric padding {list(pad)} of '{op.name}' is not "
                                       "supported", _loc(op))
            x = self._pad(x, explicit, pad_value)
        return x, tuple(symmetric), explicit

    def _pad(self, x: ir.Value, explicit, pad_value) -> ir.Value:
        element = _element(x)
        for axis, (before, after) in ((2, explicit[0:2]), (3, explicit[2:4])):
            if not before and not after:
                continue
            parts = []
            for count in (before, None, after):
                if count is None:
                    parts.append(x)
                elif count:
                    shape = _shape(x)
                    shape[axis] = count
                    parts.append(self._constant(np.full(shape, pad_value), element))
            shape = _shape(x)
            shape[axis] += before + after
            x = self._op("train.concat", _tensor(shape, element), parts,
                         axis=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), axis))
        return x

    def _conv_weight(self, op, depthwise: bool, element=None):
        """OIHW weight (a numpy array if constant, else a value)."""
        w = op.operands[1]
        if w in self.consts:
            array = self.consts[w]
            if depthwise:
                kh, kw, c, m = array.shape
                return np.transpose(array, (2, 3, 0, 1)).reshape(c * m, 1, kh, kw)
            return np.transpose(array, _inverse(OIHW))
        if element is not None:
            raise UnsupportedError(f"int8 weights of '{op.name}' must be constants", _loc(op))
        if depthwise:
            kh, kw, c, m = _shape(w)
            value = self._get(w, (2, 3, 0, 1))
            return self._op("train.reshape", _tensor([c * m, 1, kh, kw], _element(value)),
                            [value])
        return self._get(w, OIHW)

    def _bias(self, op, bias: ir.Value, channels: int, element: ir.Type):
        if bias in self.consts:
            return self._constant(np.broadcast_to(self.consts[bias], (channels,)).copy(),
                                  element)
        if _is_int(bias, 32):
            raise UnsupportedError(f"int8 bias of '{op.name}' must be a constant", _loc(op))
        return self._broadcast(self._get(bias, (0,)), [channels])

    def _is_fully_connected(self, op, kernel) -> bool:
        _, h, w, _ = _shape(op.operands[0])
        return (op.name == "tosa.conv2d" and (h, w) == (1, 1) and tuple(kernel) == (1, 1)
                and not any(self._attr_list(op, "pad")))

    def _conv(self, op) -> None:
        depthwise = op.name == "tosa.depthwise_conv2d"
        x, w, bias, input_zp, weight_zp = op.operands
        group = self.groups.get(op)
        if group is None:
            self._not_int8(op)
            self._check_zero([(input_zp, "input zero point"), (weight_zp, "weight zero point")],
                             op)
        elif self._scalar(weight_zp, op, "weight zero point") != 0:
            raise UnsupportedError(f"int8 '{op.name}' with a non-zero weight zero point is not "
                                   "supported", _loc(op))
        wshape = _shape(w)
        kernel = wshape[0:2] if depthwise else wshape[1:3]
        channels = _shape(op.results[0])[3]
        if group is not None:
            return self._qconv(op, group, depthwise, kernel, channels)
        element = _element(op.results[0])
        weight = self._conv_weight(op, depthwise)
        if self._is_fully_connected(op, kernel):
            if isinstance(weight, np.ndarray):
                weight = self._constant(weight.reshape(weight.shape[0], -1), element)
            else:
                weight = self._op("train.reshape", _tensor([channels, wshape[3]], element),
                                  [weight])
            return self._linear(op, x, weight, self._bias(op, bias, channels, element))
        if isinstance(weight, np.ndarray):
            weight = self._constant(weight, element)
        stride = self._attr_list(op, "stride")
        dilation = self._attr_list(op, "dilation")
        xv, padding, _ = self._padded(op, self._get(x, NCHW), self._attr_list(op, "pad"),
                                      kernel, stride, dilation, 0.0)
        groups = _shape(x)[3] if depthwise else 1
        result_shape = _permute(_shape(op.results[0]), _inverse(NCHW))
        result = self._op(
            "train.conv2d", _tensor(result_shape, element),
            [xv, weight, self._bias(op, bias, channels, element)],
            stride=_i64_array(stride), padding=_i64_array(padding),
            dilation=_i64_array(dilation),
            groups=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), groups))
        self.values[op.results[0]] = (result, NCHW)

    def _linear(self, op, x, weight, bias) -> None:
        """y = x·Wᵀ + b for a tosa value x whose leading dims are the batch."""
        shape = _shape(x)
        out_shape = _shape(op.results[0])
        xv = self._get(x, _identity(len(shape)))
        rows = int(np.prod(shape[:-1]))
        if _shape(xv) != [rows, shape[-1]]:
            xv = self._op("train.reshape", _tensor([rows, shape[-1]], _element(xv)), [xv])
        m = _shape(weight)[0]
        operands = [xv, weight] + ([bias] if bias is not None else [])
        result = self._op("train.linear", _tensor([rows, m], _element(xv)), operands)
        if out_shape != [rows, m]:
            result = self._op("train.reshape", _tensor(out_shape, _element(result)), [result])
        self.values[op.results[0]] = (result, _identity(len(out_shape)))

    def _matmul(self, op) -> None:
        a, b, a_zp, b_zp = op.operands
        group = self.groups.get(op)
        if group is not None:
            return self._qmatmul(op, group)
        self._not_int8(op)
        self._check_zero([(a_zp, "A zero point"), (b_zp, "B zero point")], op)
        element = _element(op.results[0])
        if b in self.consts and _shape(b)[0] == 1:
            weight = self._constant(self.consts[b][0].T, element)
            return self._linear(op, a, weight, None)
        out = _shape(op.results[0])
        result = self._op("train.matmul", _tensor(out, element),
                          [self._get(a, (0, 1, 2)), self._get(b, (0, 1, 2))])
        self.values[op.results[0]] = (result, (0, 1, 2))

    def _avg_pool(self, op) -> None:
        self._not_int8(op)
        x, input_zp, output_zp = op.operands
        self._check_zero([(input_zp, "input zero point"), (output_zp, "output zero point")], op)
        kernel = self._attr_list(op, "kernel")
        stride = self._attr_list(op, "stride")
        pad = self._attr_list(op, "pad")
        xv, padding, explicit = self._padded(op, self._get(x, NCHW), pad, kernel, stride,
                                             (1, 1), 0.0)
        element = _element(xv)
        result_shape = _permute(_shape(op.results[0]), _inverse(NCHW))
        if not any(explicit):
            result = self._op("train.avg_pool2d", _tensor(result_shape, element), [xv],
                              kernel=_i64_array(kernel), stride=_i64_array(stride),
                              padding=_i64_array(padding))
        else:
            # Pool over all padding, then rescale each output by kernel size / count.
            pooled = self._op("train.avg_pool2d", _tensor(result_shape, element), [xv],
                              kernel=_i64_array(kernel), stride=_i64_array(stride),
                              padding=_i64_array(padding), count_include_pad=ir.UnitAttr.get())
            factors = self._count_factors(_shape(op.operands[0])[1:3], kernel, stride, pad,
                                          result_shape[2:])
            factor = self._constant(factors.reshape(1, 1, *factors.shape), element)
            result = self._op("train.mul", pooled.type,
                              [pooled, self._broadcast(factor, result_shape)])
        self.values[op.results[0]] = (result, NCHW)

    @staticmethod
    def _count_factors(size, kernel, stride, pad, out) -> np.ndarray:
        inside = np.pad(np.ones(size), ((pad[0], pad[1]), (pad[2], pad[3])))
        factors = np.empty(out)
        for i in range(out[0]):
            for j in range(out[1]):
                window = inside[i * stride[0]:i * stride[0] + kernel[0],
                                j * stride[1]:j * stride[1] + kernel[1]]
                factors[i, j] = kernel[0] * kernel[1] / window.sum()
        return factors

    def _max_pool(self, op) -> None:
        x = op.operands[0]
        if not _is_i8(x):
            self._not_int8(op)
        kernel = self._attr_list(op, "kernel")
        stride = self._attr_list(op, "stride")
        xv = self._get(x, NCHW)
        q = _quant_type(_element(xv))
        pad_value = q.storage_type_min if q is not None else -np.inf
        xv, padding, _ = self._padded(op, xv, self._attr_list(op, "pad"), kernel, stride,
                                      (1, 1), pad_value)
        result_shape = _permute(_shape(op.results[0]), _inverse(NCHW))
        result = self._op("train.max_pool2d", _tensor(result_shape, _element(xv)), [xv],
                          kernel=_i64_array(kernel), stride=_i64_array(stride),
                          padding=_i64_array(padding))
        self.values[op.results[0]] = (result, NCHW)

    # int8

    def _output_type(self, rescale_result, clamp):
        """The quantized result type, narrowed by a fused clamp."""
        q = _quant_type(self._class_type(rescale_result))
        lo, hi = -128, 127
        if clamp is not None:
            lo = max(lo, ir.IntegerAttr(clamp.attributes["min_val"]).value)
            hi = min(hi, ir.IntegerAttr(clamp.attributes["max_val"]).value)
            if lo > hi:
                raise UnsupportedError("int8 clamp with an empty range", _loc(clamp))
        return _i8_quant(q.scale, q.zero_point, lo, hi)

    def _record(self, group, value, perm) -> None:
        self.values[group.rescale.op.results[0]] = (value, perm)
        if group.clamp is not None:
            self.values[group.clamp.results[0]] = (value, perm)

    def _weight_scales(self, group, x_type, y_type, channels: int) -> list[float]:
        """Per-output-channel weight scales that reproduce the rescale exactly."""
        rescale = group.rescale
        factors = np.broadcast_to(rescale.factors(), (channels,))
        multipliers = np.broadcast_to(rescale.multipliers, (channels,))
        shifts = np.broadcast_to(rescale.shifts, (channels,))
        s_x, s_y = x_type.scale, y_type.scale
        scales = []
        for factor, multiplier, shift in zip(factors, multipliers, shifts):
            multiplier, shift = int(multiplier), int(shift)
            if not (1 << 30) <= multiplier < (1 << 31):
                raise UnsupportedError(
                    f"'tosa.rescale' multiplier {multiplier} is not normalized "
                    "(2^30 <= multiplier < 2^31), which TFLite's rounding cannot reproduce "
                    "bit-exactly", _loc(rescale.op))
            expected = (multiplier, 31 - shift)
            scale = float(factor) * s_y / s_x
            for _ in range(4):
                got = quantize_multiplier(s_x * scale / s_y)
                if got == expected:
                    break
                scale = float(np.nextafter(scale, np.inf if got < expected else -np.inf))
            else:
                raise UnsupportedError("cannot represent the rescale's multiplier and shift "
                                       "as quantization scales", _loc(rescale.op))
            scales.append(scale)
        return scales

    def _qconv(self, op, group: _ConvGroup, depthwise: bool, kernel, channels: int) -> None:
        x, w, bias = op.operands[:3]
        xv = self._get(x, NCHW)
        x_type = _quant_type(_element(xv))
        y_type = self._output_type(group.rescale.op.results[0], group.clamp)
        w_type = _per_channel_quant(self._weight_scales(group, x_type, y_type, channels))
        weight = self._conv_weight(op, depthwise, element=w_type)
        b = self._bias(op, bias, channels, ir.IntegerType.get_signless(32))
        rounding = _rounding_attr("multiplier_shift")
        if self._is_fully_connected(op, kernel):
            wv = self._constant(weight.reshape(channels, -1), w_type)
            shape = _shape(x)
            rows = shape[0]
            xin = self._get(x, _identity(4))
            xin = self._op("train.reshape", _tensor([rows, shape[3]], x_type), [xin])
            result = self._op("train.qlinear", _tensor([rows, channels], y_type),
                              [xin, wv, b], rounding=rounding)
            out_shape = _shape(op.results[0])
            result = self._op("train.reshape", _tensor(out_shape, y_type), [result])
            return self._record(group, result, _identity(4))
        stride = self._attr_list(op, "stride")
        dilation = self._attr_list(op, "dilation")
        xv, padding, _ = self._padded(op, xv, self._attr_list(op, "pad"), kernel, stride,
                                      dilation, x_type.zero_point)
        result_shape = _permute(_shape(op.results[0]), _inverse(NCHW))
        result = self._op(
            "train.qconv2d", _tensor(result_shape, y_type),
            [xv, self._constant(weight, w_type), b],
            stride=_i64_array(stride), padding=_i64_array(padding),
            dilation=_i64_array(dilation),
            groups=ir.IntegerAttr.get(ir.IntegerType.get_signless(64),
                                      _shape(x)[3] if depthwise else 1),
            rounding=rounding)
        self._record(group, result, NCHW)

    def _qmatmul(self, op, group: _ConvGroup) -> None:
        a, b, a_zp, b_zp = op.operands
        if self._scalar(b_zp, op, "B zero point") != 0:
            raise UnsupportedError("int8 'tosa.matmul' with a non-zero B zero point is not "
                                   "supported", _loc(op))
        if b not in self.consts or _shape(b)[0] != 1:
            raise UnsupportedError("int8 'tosa.matmul' needs a constant B with batch 1",
                                   _loc(op))
        _, rows, k = _shape(a)
        m = _shape(b)[2]
        xv = self._get(a, (0, 1, 2))
        x_type = _quant_type(_element(xv))
        y_type = self._output_type(group.rescale.op.results[0], group.clamp)
        w_type = _per_channel_quant(self._weight_scales(group, x_type, y_type, m))
        weight = self._constant(self.consts[b][0].T, w_type)
        xv = self._op("train.reshape", _tensor([rows, k], x_type), [xv])
        result = self._op("train.qlinear", _tensor([rows, m], y_type), [xv, weight],
                          rounding=_rounding_attr("multiplier_shift"))
        result = self._op("train.reshape", _tensor([1, rows, m], y_type), [result])
        self._record(group, result, (0, 1, 2))

    def _rescale_op(self, op) -> None:
        group = self.groups[op]
        (a, _), (b, _) = group.inputs
        perm = self._layout_of([a, b])
        shape = _permute(_shape(op.results[0]), _inverse(perm))
        values = [self._broadcast(self._get(v, perm), shape) for v in (a, b)]
        types = [_quant_type(_element(v)) for v in values]
        y_type = self._output_type(op.results[0], group.clamp)
        self._check_add(group, types, y_type, op)
        result = self._op("train.qadd", _tensor(shape, y_type), values,
                          rounding=_rounding_attr("multiplier_shift"))
        self._record(group, result, perm)

    def _check_add(self, group: _AddGroup, types, y_type, op) -> None:
        """The TOSA rescales must be what TFLite derives from the scales."""
        twice_max = 2.0 * max(t.scale for t in types)
        checks = []
        for (_, chain), t in zip(group.inputs, types):
            real = t.scale / twice_max
            if len(chain) == 1:
                checks.append(real == 0.5)
            else:
                second = chain[1]
                checks.append(quantize_multiplier(real) == (
                    int(second.multipliers[0]), 31 - int(second.shifts[0])))
        out = group.rescale
        checks.append(quantize_multiplier(twice_max / ((1 << 20) * y_type.scale)) == (
            int(out.multipliers[0]), 31 - int(out.shifts[0])))
        if not all(checks):
            raise UnsupportedError("int8 add: the rescales do not match TFLite's ADD for the "
                                   "tensors' scales", _loc(op))


_HANDLERS = {
    "tosa.const": _FunctionConverter._constant_op,
    "tosa.const_shape": _FunctionConverter._constant_op,
    "arith.constant": _FunctionConverter._constant_op,
    "tosa.identity": _FunctionConverter._identity_op,
    "tosa.conv2d": _FunctionConverter._conv,
    "tosa.depthwise_conv2d": _FunctionConverter._conv,
    "tosa.matmul": _FunctionConverter._matmul,
    "tosa.add": _FunctionConverter._add,
    "tosa.mul": _FunctionConverter._mul,
    "tosa.clamp": _FunctionConverter._clamp,
    "tosa.sigmoid": _FunctionConverter._sigmoid,
    "tosa.concat": _FunctionConverter._concat,
    "tosa.avg_pool2d": _FunctionConverter._avg_pool,
    "tosa.max_pool2d": _FunctionConverter._max_pool,
    "tosa.reshape": _FunctionConverter._reshape,
    "tosa.transpose": _FunctionConverter._transpose,
    "tosa.rescale": _FunctionConverter._rescale_op,
}


# ----------------------------------------------------------------------------
# Cleanup of the converted function


def _defining(value: ir.Value, name: str):
    op = _producer(value)
    return op if op is not None and op.name == name else None


def _single_use(value: ir.Value) -> bool:
    return len(list(value.uses)) == 1


def _replace(op, value: ir.Value) -> None:
    op.results[0].replace_all_uses_with(value)
    op.operation.erase()


def _constant_array(value: ir.Value):
    """(array, element type) of an arith.constant, or of quant.scast(arith.constant)."""
    op = _defining(value, "quant.scast")
    source = op.operands[0] if op is not None else value
    const = _defining(source, "arith.constant")
    if const is None:
        return None
    return np.array(ir.DenseElementsAttr(const.attributes["value"])).reshape(
        _shape(source)), _element(value)


def _cleanup(block: ir.Block) -> None:
    changed = True
    while changed:
        changed = False
        _dead_code(block)
        for op in list(block.operations):
            # _fold erases at most `op` itself, so the rest of the list stays valid.
            changed |= _fold(op)


def _fold(op) -> bool:
    name = op.operation.name
    if name == "train.reshape":
        source = op.operands[0]
        if source.type == op.results[0].type:
            _replace(op, source)
            return True
        inner = _defining(source, "train.reshape")
        if inner is not None:
            op.operation.replace_uses_of_with(source, inner.operands[0])
            return True
    elif name == "train.transpose":
        inner = _defining(op.operands[0], "train.transpose")
        perm = tuple(ir.DenseI64ArrayAttr(op.attributes["permutation"]))
        if inner is not None:
            composed = _compose(tuple(ir.DenseI64ArrayAttr(inner.attributes["permutation"])),
                                perm)
            with ir.InsertionPoint(op), op.location:
                source = inner.operands[0]
                if composed == _identity(len(composed)):
                    _replace(op, source)
                else:
                    new = _FunctionConverter._op("train.transpose", op.results[0].type, [source],
                                                 permutation=_i64_array(composed))
                    _replace(op, new)
            return True
    elif name in ("train.linear", "train.qlinear"):
        return _fold_flatten_transpose(op)
    elif name == "train.add":
        return _fold_linear_bias(op)
    return False


def _fold_flatten_transpose(op) -> bool:
    """linear(reshape(transpose(x, p)), W) -> linear(reshape(x), W') with W's
    columns permuted, when p keeps the batch dimension first."""
    flat = _defining(op.operands[0], "train.reshape")
    if flat is None or not _single_use(flat.results[0]) or not _single_use(op.operands[1]):
        return False
    transpose = _defining(flat.operands[0], "train.transpose")
    weight = _constant_array(op.operands[1])
    if transpose is None or weight is None or not _single_use(transpose.results[0]):
        return False
    perm = tuple(ir.DenseI64ArrayAttr(transpose.attributes["permutation"]))
    source = transpose.operands[0]
    shape = _shape(source)
    if perm[0] != 0 or _shape(flat.results[0]) != [shape[0], int(np.prod(shape[1:]))]:
        return False
    array, element = weight
    index = np.arange(array.shape[1]).reshape(shape[1:]).transpose(
        [p - 1 for p in perm[1:]]).ravel()
    permuted = np.empty_like(array)
    permuted[:, index] = array
    with ir.InsertionPoint(op), op.location:
        converter = _FunctionConverter.__new__(_FunctionConverter)
        new_weight = converter._constant(permuted, element)
        new_flat = _FunctionConverter._op("train.reshape", flat.results[0].type, [source])
    op.operation.replace_uses_of_with(op.operands[1], new_weight)
    op.operation.replace_uses_of_with(op.operands[0], new_flat)
    return True


def _fold_linear_bias(op) -> bool:
    """add(reshape*(linear(x, W)), c) -> reshape(linear(x, W, b)) for a constant c
    that only varies along the last axis."""
    for index in range(2):
        value, other = op.operands[index], op.operands[1 - index]
        reshapes = []
        while _defining(value, "train.reshape") is not None and _single_use(value):
            reshapes.append(_defining(value, "train.reshape"))
            value = reshapes[-1].operands[0]
        linear = _defining(value, "train.linear")
        if linear is None or len(linear.operands) != 2 or not _single_use(value):
            continue
        broadcast = _defining(other, "train.broadcast")
        constant = _constant_array(broadcast.operands[0] if broadcast is not None else other)
        if constant is None:
            continue
        array, element = constant
        m = _shape(value)[1]
        out_shape = _shape(op.results[0])
        if out_shape[-1] != m or any(d != 1 for d in array.shape[:-1]) \
                or array.shape[-1] not in (1, m):
            continue
        bias = np.broadcast_to(array.reshape(-1), (m,)).copy()
        with ir.InsertionPoint(op), op.location:
            converter = _FunctionConverter.__new__(_FunctionConverter)
            b = converter._constant(bias, element)
            new = _FunctionConverter._op("train.linear", value.type,
                                         [linear.operands[0], linear.operands[1], b])
            if _shape(new) != out_shape:
                new = _FunctionConverter._op("train.reshape", op.results[0].type, [new])
        _replace(op, new)
        return True
    return False


def _dead_code(block: ir.Block) -> None:
    removable = ("train.", "arith.constant", "quant.scast")
    changed = True
    while changed:
        changed = False
        for op in reversed(list(block.operations)):
            name = op.operation.name
            if (name.startswith(removable) and len(op.results)
                    and all(not list(r.uses) for r in op.results)):
                op.operation.erase()
                changed = True
