"""The C renderer's int8 ops: `train.qconv2d`, `qlinear`, `qadd`, `qavg_pool2d`,
`qglobal_avg_pool` and `quant.qcast` / `dcast` as calls of the always-inlined kernels of
kernels/c/tcc_int8.h with constant shapes, so the C compiler specialises every layer.

Requantization constants are computed here, at compile time, with the functions the
reference interpreter uses (runtime/quantized_ops.py: TFLite's QuantizeMultiplier for
`rounding multiplier_shift`, the float64 effective scales for `float_scale`) and
emitted as const tables next to the call. Each conv picks its kernel here (depthwise,
pointwise, im2col for groups 1, the generic loop otherwise); kernels that widen their
inputs get a block-local int16 `scratch` array (on the stack, sized by the header's
TCC_Q_*_SCRATCH macros; disjoint blocks share one stack slot). A fused
`train.qbottleneck` also gets its planned arena scratch (`train.scratch_offset`: the
ring of expanded rows and a depthwise span, tcc_q_bottleneck_s8_inline); one with
bottlenecks streamed into it (`train.streamed`, no storage of their own) runs them as
one chain of stages (tcc_q_bottleneck_chain_s8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..._mlir import ir
from ...runtime import quantized_execution as qx
from ...runtime import quantized_ops as qo
from ..errors import UnsupportedError, format_location
from ...dialects import train
from .c_expressions import c_double, c_ints, dims, element_kind, scratch_offset, size

INT32_TAPS_LIMIT = (1 << 31) // (255 * 128)
"""Most taps per output whose sum of (x - z_x) * w products stays inside int32."""



def _storage(op, value, what: str):
    """The per-tensor quantized type of `value`, which must have int8 storage."""
    element = qx.per_tensor(op, value, what)
    if element.storage_type_integral_width != 8 or not element.is_signed:
        raise UnsupportedError(f"'{op.name}': the C target stores quantized tensors as "
                               f"int8, the {what} has {element}", format_location(op.location))
    return element


def _requant(op, x, y, w_scales, suffix: str = "") -> list[str]:
    """Declarations of `rq<suffix>` (tcc_q_requant) for an op with per-channel weight
    scales: const tables of QuantizeMultiplier's (multiplier, shift) pairs, or of the
    float64 effective scales, computed as runtime/quantized_ops.py computes them."""
    eff = qo.effective_scales(x.scale, w_scales, y.scale, len(w_scales))
    tail = f"{x.zero_point}, {y.zero_point}, {y.storage_type_min}, {y.storage_type_max}"
    count = len(w_scales)
    if train.rounding_of(op) == "float_scale":
        return [f"  static const double eff{suffix}[{count}] = "
                f"{{{', '.join(c_double(e) for e in eff)}}};",
                f"  const tcc_q_requant rq{suffix} = {{NULL, NULL, eff{suffix}, {tail}, 0}};"]
    pairs = [qo.quantize_multiplier(e) for e in eff]
    # Every shift a right shift by 2 or more bits (the usual case): the kernels' short
    # exact rounding (tcc_q_requantize).
    right = int(all(0 <= m < 1 << 31 and s <= -2 for m, s in pairs))
    return [f"  static const int32_t multiplier{suffix}[{count}] = "
            f"{{{c_ints(m for m, _ in pairs)}}};",
            f"  static const int32_t shift{suffix}[{count}] = {{{c_ints(s for _, s in pairs)}}};",
            f"  const tcc_q_requant rq{suffix} = {{multiplier{suffix}, shift{suffix}, NULL, "
            f"{tail}, {right}}};"]


def _check_taps(op, taps: int) -> None:
    if taps > INT32_TAPS_LIMIT:
        raise UnsupportedError(f"'{op.name}' sums {taps} products per output; the int8 "
                               f"kernels accumulate at most {INT32_TAPS_LIMIT} in int32",
                               format_location(op.location))


DEPTHWISE_MAX_PAIRS = 64
"""TCC_Q_DW_MAX_PAIRS of tcc_int8.h: the fast depthwise kernel's KH * ceil(KW / 2)."""


def _conv_kernel(c, w, cg, kh, kw, ow, g) -> tuple[str, str | None]:
    """The tcc_int8.h kernel of a qconv2d and its scratch size (a C expression of the
    header's macros, in int16 values; None if it needs none)."""
    if g.groups == c and cg == 1 and c > 1:
        if g.dilation[1] == 1 and kh * ((kw + 1) // 2) <= DEPTHWISE_MAX_PAIRS:
            return "tcc_q_depthwise_conv2d_s8_inline", (
                f"TCC_Q_DW_SCRATCH({kh}, {g.dilation[0]}, {w}, {g.padding[1]}, {ow}, "
                f"{g.stride[1]}, {kw})")
        return "tcc_q_conv2d_s8_inline", None
    if (kh, kw) == (1, 1) and g.stride == (1, 1) and g.padding == (0, 0) and g.groups == 1:
        return "tcc_q_pointwise_conv2d_s8_inline", f"TCC_Q_POINTWISE_SCRATCH({c})"
    if g.groups == 1:
        return "tcc_q_conv2d_im2col_s8_inline", f"TCC_Q_CONV_SCRATCH({c}, {kh}, {kw})"
    return "tcc_q_conv2d_s8_inline", None


def _qconv2d(op, a, r):
    x, y = _storage(op, op.operands[0], "input"), _storage(op, op.results[0], "result")
    n, c, h, w = dims(op.operands[0])
    o, cg, kh, kw = dims(op.operands[1])
    oh, ow = dims(op.results[0])[2:]
    g = train.ConvGeometry.of(op)
    _check_taps(op, cg * kh * kw)
    kernel, scratch = _conv_kernel(c, w, cg, kh, kw, ow, g)
    shape = c_ints([n, c, h, w, o, kh, kw, oh, ow, *g.stride, *g.padding, *g.dilation,
                     g.groups])
    bias = a[2] if len(a) > 2 else "NULL"
    args = f"{a[0]}, {a[1]}, {bias}, {r}, s, rq"
    lines = ["{"] + _requant(op, x, y, qx.weight_scales(op, op.operands[1]))
    lines.append(f"  const tcc_q_conv_shape s = {{{shape}}};")
    if scratch is not None:
        lines.append(f"  int16_t scratch[{scratch}];")
        args += ", scratch"
    return lines + [f"  {kernel}({args});", "}"]


@dataclass(frozen=True)
class Streamed:
    """The result of a `train.qbottleneck` marked `train.streamed`: no storage; its
    reader runs it row by row. `args`: the C expressions of the streamed op's operands."""

    op: object
    args: tuple


def _qbottleneck(op, a, r):
    """tcc_q_bottleneck_s8_inline over the op's planned arena scratch
    (`train.scratch_offset`, --plan-memory) and a stack column buffer; with
    bottlenecks streamed into it, tcc_q_bottleneck_pair_s8_inline (one) or
    tcc_q_bottleneck_chain_s8 (more) over one tcc_q_stage each, their rings and
    handed-over rows laid out in the scratch after the op's own."""
    where = format_location(op.location)
    offset = scratch_offset(op)
    stages = [(op, list(a))]
    while isinstance(stages[0][1][0], Streamed):
        source = stages[0][1][0]
        stages.insert(0, (source.op, list(source.args)))
    lines, columns, arenas = ["{"], [], {}
    cursor = offset
    for k, (stage, _) in reversed(list(enumerate(stages))):
        g = train.BottleneckGeometry.of(stage)
        if k < len(stages) - 1:
            arenas[f"row{k}"] = cursor          # the row stage k hands to stage k + 1
            cursor += g.o * g.ow
        arenas[k] = cursor
        cursor += g.scratch_bytes
    for k, (stage, args) in enumerate(stages):
        lines += _bottleneck_stage(stage, args, str(k))
        g = train.BottleneckGeometry.of(stage)
        columns.append(f"TCC_Q_BOTTLENECK_SCRATCH({g.c}, {g.e}, "
                       f"{g.expand_kernel[0] * g.expand_kernel[1]})")
    scratch = columns[0]
    for column in columns[1:]:
        scratch = f"({column} > {scratch} ? {column} : {scratch})"
    lines.append(f"  int16_t scratch[{scratch}];")
    if len(stages) == 1:
        return lines + [f"  tcc_q_bottleneck_s8_inline({a[0]}, {_weights(op, a)}, {r}, s0, "
                        f"rq0_e, rq0_d, rq0_p, TCC_I8({offset}), scratch);", "}"]
    pair = len(stages) == 2         # all inlined: constant shapes
    for k, (stage, args) in enumerate(stages):
        x = "NULL" if k else args[0]
        source = f"&st{k - 1}, TCC_I8({arenas[f'row{k - 1}']})" if k and not pair else \
            "NULL, NULL"
        lines.append(f"  tcc_q_stage st{k} = {{{x}, {_weights(stage, args, order='stage')}, "
                     f"s{k}, rq{k}_e, rq{k}_d, rq{k}_p, TCC_I8({arenas[k]}), {source}, 0}};")
    if pair:
        return lines + [f"  tcc_q_bottleneck_pair_s8_inline({stages[0][1][0]}, st0, st1, "
                        f"TCC_I8({arenas['row0']}), {r}, scratch);", "}"]
    return lines + [f"  tcc_q_bottleneck_chain_s8({stages[0][1][0]}, &st{len(stages) - 1}, "
                    f"{r}, scratch);", "}"]


def _weights(op, a, order: str = "kernel") -> str:
    """The C expressions of a qbottleneck's weights and biases: in the kernel's order
    (we, be, wd, bd, wp, bp) or in tcc_q_stage's (we, wd, wp, be, bd, bp); NULL for
    an absent expansion."""
    parts = train.qbottleneck_operands(op)
    operand = {v: text for v, text in zip(op.operands, a)}
    pairs = [[operand[v] if v is not None else "NULL" for v in pair]
             for pair in (parts["expand"] or (None, None), parts["depthwise"],
                          parts["project"])]
    if order == "stage":
        return ", ".join([w for w, _ in pairs] + [b for _, b in pairs])
    return ", ".join(v for pair in pairs for v in pair)


def _bottleneck_stage(op, a, k: str) -> list[str]:
    """Declarations of one fused bottleneck's requantizations (rq<k>_e, _d, _p) and
    shape (s<k>)."""
    g = train.BottleneckGeometry.of(op)
    parts = train.qbottleneck_operands(op)
    x = _storage(op, op.operands[0], "input")
    lines = []
    stages = [("_e", parts["expand"], "expand_type", 1), ("_d", parts["depthwise"],
              "depthwise_type", g.kernel[0] * g.kernel[1]), ("_p", parts["project"], None, g.e)]
    for suffix, pair, type_name, taps in stages:
        if pair is None:
            lines.append(f"  const tcc_q_requant rq{k}_e = "
                         "{NULL, NULL, NULL, 0, 0, -128, 127, 0};")
            continue
        y = qx._type_attr(op, type_name, type_name.split("_")[0]) if type_name else \
            _storage(op, op.results[0], "result")
        _check_taps(op, taps * (g.c * g.expand_kernel[0] * g.expand_kernel[1]
                                if suffix == "_e" else 1))
        lines += _requant(op, x, y, qx.weight_scales(op, pair[0]), k + suffix)
        x = y
    mode = 0 if not g.expand else 1 if g.pointwise_expand else 2
    shape = c_ints([g.n, g.c, g.h, g.w, g.e, g.o, *g.kernel, g.oh, g.ow, *g.stride,
                    *g.padding, mode, g.xh, g.xw, *g.expand_kernel, *g.expand_stride,
                    *g.expand_padding])
    return lines + [f"  const tcc_q_bottleneck_shape s{k} = {{{shape}}};"]


def _qlinear(op, a, r):
    x, y = _storage(op, op.operands[0], "input"), _storage(op, op.results[0], "result")
    n, k = dims(op.operands[0])
    m = dims(op.operands[1])[0]
    _check_taps(op, k)
    bias = a[2] if len(a) > 2 else "NULL"
    return (["{"] + _requant(op, x, y, qx.weight_scales(op, op.operands[1])) +
            [f"  int16_t scratch[TCC_Q_LINEAR_SCRATCH({k})];",
             f"  tcc_q_linear_s8_inline({a[0]}, {a[1]}, {bias}, {r}, {n}, {k}, {m}, rq, "
             "scratch);", "}"])


def _qadd(op, a, r):
    qa, qb = _storage(op, op.operands[0], "lhs"), _storage(op, op.operands[1], "rhs")
    y = _storage(op, op.results[0], "result")
    if dims(op.operands[0]) != dims(op.results[0]) or \
            dims(op.operands[1]) != dims(op.results[0]):
        raise UnsupportedError(f"'{op.name}': the C target adds tensors of one shape only "
                               "(no broadcasting)", format_location(op.location))
    pairs = [(0, 0)] * 3
    if train.rounding_of(op) == "multiplier_shift":
        # TFLite's int8 ADD: both inputs rescaled to 2 * max(s_a, s_b) / 2**20.
        twice_max = 2.0 * max(qa.scale, qb.scale)
        try:
            pairs = [qo.quantize_multiplier_smaller_than_one_exp(v) for v in (
                qa.scale / twice_max, qb.scale / twice_max,
                twice_max / ((1 << qo.ADD_LEFT_SHIFT) * y.scale))]
        except ValueError as error:
            raise UnsupportedError(f"'{op.name}': {error}",
                                   format_location(op.location)) from None
    fields = [qa.zero_point, qb.zero_point, y.zero_point, y.storage_type_min,
              y.storage_type_max, *(v for pair in pairs for v in pair),
              int(train.rounding_of(op) == "float_scale")]
    scales = ", ".join(c_double(v) for v in (qa.scale, qb.scale, y.scale))
    return ["{", f"  const tcc_q_add_params p = {{{c_ints(fields)}, {scales}}};",
            f"  tcc_q_add_s8_inline({a[0]}, {a[1]}, {r}, {size(op.results[0])}, p);", "}"]


def _half_even(op) -> int:
    """Pools round half to even under float_scale, half away from zero otherwise."""
    return int(train.rounding_of(op) == "float_scale")


def _qavg_pool2d(op, a, r):
    x, y = _storage(op, op.operands[0], "input"), _storage(op, op.results[0], "result")
    n, c, h, w = dims(op.operands[0])
    oh, ow = dims(op.results[0])[2:]
    g = train.PoolGeometry.of(op)
    fields = [n, c, h, w, oh, ow, *g.kernel, *g.stride, *g.padding,
              int("count_include_pad" in op.attributes), x.zero_point, y.storage_type_min,
              y.storage_type_max, _half_even(op)]
    return ["{", f"  const tcc_q_pool_shape s = {{{c_ints(fields)}}};",
            f"  tcc_q_avg_pool2d_s8_inline({a[0]}, {r}, s);", "}"]


def _qglobal_avg_pool(op, a, r):
    _storage(op, op.operands[0], "input")
    y = _storage(op, op.results[0], "result")
    n, c, h, w = dims(op.operands[0])
    return [f"tcc_q_global_avg_pool_s8_inline({a[0]}, {r}, {n * c}, {h * w}, "
            f"{y.storage_type_min}, {y.storage_type_max}, {_half_even(op)});"]


def _dcast(op, a, r):
    x = _storage(op, op.operands[0], "input")
    if element_kind(op.results[0]) != "f32":
        raise UnsupportedError(f"'{op.name}': the C target dequantizes to f32 only",
                               format_location(op.location))
    return [f"tcc_dequantize_s8_inline({a[0]}, {r}, {size(op.results[0])}, "
            f"{c_double(x.scale)}, {x.zero_point});"]


def _qcast(op, a, r):
    y = _storage(op, op.results[0], "result")
    return [f"tcc_quantize_s8_inline({a[0]}, {r}, {size(op.results[0])}, "
            f"{c_double(y.scale)}, {y.zero_point}, {y.storage_type_min}, "
            f"{y.storage_type_max});"]


INT8_KERNELS: dict[str, Callable] = {
    "train.qconv2d": _qconv2d,
    "train.qbottleneck": _qbottleneck,
    "train.qlinear": _qlinear,
    "train.qadd": _qadd,
    "train.qavg_pool2d": _qavg_pool2d,
    "train.qglobal_avg_pool": _qglobal_avg_pool,
    "quant.dcast": _dcast,
    "quant.qcast": _qcast,
}
