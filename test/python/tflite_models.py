"""Single-op int8 .tflite models written without TensorFlow, and a TFLite Micro runner.

The models are built with the object API of the .tflite flatbuffer schema (ModelT,
SubGraphT, TensorT, OperatorT, BufferT + Pack, file identifier "TFL3", schema version 3)
as the TFLite converter would emit them for a fully int8-quantized network:

- activations int8, per-tensor (scale, zero point);
- weights int8, per-channel symmetric (zero points 0): CONV_2D weights are OHWI with
  quantized_dimension 0, DEPTHWISE_CONV_2D weights are 1 x KH x KW x (C*M) with
  quantized_dimension 3;
- biases int32 with scale x_scale * w_scale[c] (quantized_dimension 0);
- fused activation NONE (the output clamp is the int8 range).

Inputs to the builders use PyTorch's layouts (NCHW activations, OIHW weights, depthwise
weights C*M x 1 x KH x KW); the .tflite tensors are NHWC / OHWI. `nchw_to_nhwc` and
`nhwc_to_nchw` convert activations.

Scales: a .tflite file stores float32 scales. `f32` rounds a scale to the float32 value
the file will hold; build the other side of a comparison from those rounded values.

Padding: PyTorch (and the TTE models) pad a k x k conv symmetrically with (k-1)//2.
TFLite's SAME pads pad_total = max((out-1)*s + k - in, 0) with pad_total//2 before and the
rest after, out = ceil(in/s). For odd k and stride 1, pad_total = k-1 and both sides get
(k-1)//2: identical. For stride 2 and odd k:
  - odd input size:  out = (in+1)/2, pad_total = k-1, before = (k-1)/2    -> identical;
  - even input size: out = in/2,     pad_total = k-2, before = (k-3)/2    -> one row/column
    less at the top/left than PyTorch (and the bottom/right padding is not needed), so the
    sampling grid is shifted by one pixel: NOT equivalent.
`padding="SAME"` is therefore only equivalent to PyTorch's (k-1)//2 when `same_matches_torch`
says so (odd sizes for stride 2). `padding=(ph, pw)` (explicit) writes an int8 PAD op (pad
value = the zero point, which is what "zero padding in the shifted domain" means) followed by
a VALID conv; that is equivalent for every input size.

`run_tflite_micro` runs a model in TFLite Micro's Python interpreter. The `tflite_reference_*`
functions at the end are an independent numpy model of TFLite's int8 reference kernels
(QuantizeMultiplier, gemmlowp's double-rounding MultiplyByQuantizedMultiplier, the int8
ADD with left shift 20, an int32 accumulator that wraps around), used to check the writer.
"""

from __future__ import annotations

from typing import Sequence

import flatbuffers
import numpy as np

try:  # the schema shipped with ai-edge-litert, else the copy inside tflite-micro
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # pragma: no cover - depends on the environment
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3


def f32(value) -> float | np.ndarray:
    """`value` (a scale or array of scales) rounded to float32, returned as float64."""
    if np.ndim(value) == 0:
        return float(np.float32(value))
    return np.asarray(value, dtype=np.float32).astype(np.float64)


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def conv_output_size(size: int, kernel: int, stride: int, padding) -> int:
    """Output size of one spatial dim for "SAME", "VALID" or an explicit symmetric pad."""
    if padding == "SAME":
        return -(-size // stride)
    if padding == "VALID":
        return (size - kernel) // stride + 1
    return (size + 2 * int(padding) - kernel) // stride + 1


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) TFLite's SAME padding adds along one dim (dilation 1)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def same_matches_torch(size: int, kernel: int, stride: int) -> bool:
    """Whether TFLite's SAME equals PyTorch's symmetric (kernel-1)//2 padding for `size`."""
    p = (kernel - 1) // 2
    return same_padding(size, kernel, stride) == (p, p) and \
        conv_output_size(size, kernel, stride, "SAME") == conv_output_size(size, kernel, stride, p)


class _ModelWriter:
    """Accumulates buffers, tensors and operators of a one-subgraph model."""

    def __init__(self):
        self.buffers = [schema.BufferT()]  # buffer 0: the empty sentinel
        self.tensors: list = []
        self.operators: list = []
        self.opcodes: list[int] = []

    def buffer(self, data: np.ndarray | None) -> int:
        if data is None:
            return 0
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        self.buffers.append(buf)
        return len(self.buffers) - 1

    def tensor(self, name: str, shape: Sequence[int], ttype: int, *, data=None,
               scales=None, zero_points=None, quantized_dimension: int = 0) -> int:
        t = schema.TensorT()
        t.name = name
        t.shape = np.asarray(shape, dtype=np.int32)
        t.type = ttype
        t.buffer = self.buffer(data)
        if scales is not None:
            q = schema.QuantizationParametersT()
            q.scale = np.atleast_1d(np.asarray(scales, dtype=np.float32))
            zps = np.zeros(q.scale.shape, np.int64) if zero_points is None else zero_points
            q.zeroPoint = np.atleast_1d(np.asarray(zps, dtype=np.int64))
            q.quantizedDimension = quantized_dimension
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def operator(self, builtin_code: int, inputs, outputs, options_type=0, options=None):
        if builtin_code not in self.opcodes:
            self.opcodes.append(builtin_code)
        op = schema.OperatorT()
        op.opcodeIndex = self.opcodes.index(builtin_code)
        op.inputs = np.asarray(inputs, dtype=np.int32)
        op.outputs = np.asarray(outputs, dtype=np.int32)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        self.operators.append(op)

    def finish(self, inputs, outputs, description: str) -> bytes:
        sub = schema.SubGraphT()
        sub.tensors = self.tensors
        sub.inputs = np.asarray(inputs, dtype=np.int32)
        sub.outputs = np.asarray(outputs, dtype=np.int32)
        sub.operators = self.operators
        sub.name = "main"
        model = schema.ModelT()
        model.version = SCHEMA_VERSION
        model.description = description
        model.subgraphs = [sub]
        model.buffers = self.buffers
        codes = []
        for code in self.opcodes:
            oc = schema.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            codes.append(oc)
        model.operatorCodes = codes
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())


def _padding_code(padding) -> int:
    return schema.Padding.SAME if padding == "SAME" else schema.Padding.VALID


def _explicit_pad(writer: _ModelWriter, x_index: int, x_shape_nhwc, pad_hw, x_scale, x_zp):
    """Adds an int8 PAD of `pad_hw` = (ph, pw) on both sides of H and W; the padded value
    is the zero point (no constant_values input). Returns (tensor index, padded shape)."""
    ph, pw = pad_hw
    n, h, w, c = x_shape_nhwc
    paddings = np.array([[0, 0], [ph, ph], [pw, pw], [0, 0]], dtype=np.int32)
    p_index = writer.tensor("paddings", (4, 2), schema.TensorType.INT32, data=paddings)
    shape = (n, h + 2 * ph, w + 2 * pw, c)
    y_index = writer.tensor("x_padded", shape, schema.TensorType.INT8,
                            scales=[x_scale], zero_points=[x_zp])
    writer.operator(schema.BuiltinOperator.PAD, [x_index, p_index], [y_index],
                    schema.BuiltinOptions.PadOptions, schema.PadOptionsT())
    return y_index, shape


def conv2d_model(weight: np.ndarray, bias: np.ndarray | None, *, input_shape: Sequence[int],
                 x_scale: float, x_zp: int, w_scales, y_scale: float, y_zp: int,
                 stride: int | Sequence[int] = 1, padding="SAME",
                 depthwise: bool = False) -> bytes:
    """A one-conv int8 model: CONV_2D (groups 1) or DEPTHWISE_CONV_2D (groups = C_in).

    weight: int8 OIHW (PyTorch; depthwise C*M x 1 x KH x KW), bias: int32 [O] or None,
    input_shape: NCHW. padding: "SAME", "VALID", or (ph, pw) / int for explicit symmetric
    padding (an int8 PAD op with the zero point, then a VALID conv). The model's input is
    NHWC int8, its output NHWC int8.
    """
    weight = np.asarray(weight, dtype=np.int8)
    n, c, h, w = (int(d) for d in input_shape)
    o, i_per_group, kh, kw = weight.shape
    sh, sw = (stride, stride) if np.ndim(stride) == 0 else tuple(stride)
    w_scales = np.atleast_1d(np.asarray(w_scales, dtype=np.float32))
    if w_scales.size == 1 and o > 1:
        w_scales = np.full(o, w_scales[0], np.float32)
    if w_scales.shape != (o,):
        raise ValueError(f"w_scales has shape {w_scales.shape}, expected ({o},)")
    if depthwise:
        if i_per_group != 1 or o % c:
            raise ValueError(f"depthwise weight {weight.shape} does not fit {c} input channels")
    elif i_per_group != c:
        raise ValueError(f"conv weight {weight.shape} does not fit {c} input channels")

    wr = _ModelWriter()
    x_index = wr.tensor("x", (n, h, w, c), schema.TensorType.INT8,
                        scales=[x_scale], zero_points=[x_zp])
    conv_in, (_, hp, wp, _) = x_index, (n, h, w, c)
    if isinstance(padding, str):
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"padding {padding!r}")
        pad_mode = padding
    else:
        ph, pw = (padding, padding) if np.ndim(padding) == 0 else tuple(padding)
        pad_mode = "VALID"
        if ph or pw:
            conv_in, (_, hp, wp, _) = _explicit_pad(wr, x_index, (n, h, w, c), (ph, pw),
                                                    x_scale, x_zp)
    oh = conv_output_size(hp, kh, sh, pad_mode)
    ow = conv_output_size(wp, kw, sw, pad_mode)

    if depthwise:  # TFLite: [1, KH, KW, C*M], channel o = c*M + m as in PyTorch
        w_tfl = np.transpose(weight, (1, 2, 3, 0))
        w_qdim = 3
    else:  # OHWI
        w_tfl = np.transpose(weight, (0, 2, 3, 1))
        w_qdim = 0
    w_index = wr.tensor("weight", w_tfl.shape, schema.TensorType.INT8,
                        data=np.ascontiguousarray(w_tfl), scales=w_scales,
                        zero_points=np.zeros(o, np.int64), quantized_dimension=w_qdim)
    inputs = [conv_in, w_index]
    if bias is not None:
        bias = np.asarray(bias, dtype=np.int32)
        b_scales = np.float32(x_scale) * w_scales  # float32, as the converter writes it
        inputs.append(wr.tensor("bias", (o,), schema.TensorType.INT32, data=bias,
                                scales=b_scales, zero_points=np.zeros(o, np.int64)))
    else:
        inputs.append(-1)
    y_index = wr.tensor("y", (n, oh, ow, o), schema.TensorType.INT8,
                        scales=[y_scale], zero_points=[y_zp])
    if depthwise:
        opts = schema.DepthwiseConv2DOptionsT()
        opts.depthMultiplier = o // c
        code, opts_type = schema.BuiltinOperator.DEPTHWISE_CONV_2D, \
            schema.BuiltinOptions.DepthwiseConv2DOptions
    else:
        opts = schema.Conv2DOptionsT()
        code, opts_type = schema.BuiltinOperator.CONV_2D, schema.BuiltinOptions.Conv2DOptions
    opts.padding = _padding_code(pad_mode)
    opts.strideH, opts.strideW = sh, sw
    opts.dilationHFactor = opts.dilationWFactor = 1
    opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
    wr.operator(code, inputs, [y_index], opts_type, opts)
    return wr.finish([x_index], [y_index], "tcc single-op int8 conv")


def add_model(shape: Sequence[int], *, a_scale: float, a_zp: int, b_scale: float, b_zp: int,
              y_scale: float, y_zp: int) -> bytes:
    """A one-op int8 ADD model of two inputs of the same `shape` (any layout; NHWC)."""
    wr = _ModelWriter()
    a = wr.tensor("a", shape, schema.TensorType.INT8, scales=[a_scale], zero_points=[a_zp])
    b = wr.tensor("b", shape, schema.TensorType.INT8, scales=[b_scale], zero_points=[b_zp])
    y = wr.tensor("y", shape, schema.TensorType.INT8, scales=[y_scale], zero_points=[y_zp])
    opts = schema.AddOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
    wr.operator(schema.BuiltinOperator.ADD, [a, b], [y], schema.BuiltinOptions.AddOptions, opts)
    return wr.finish([a, b], [y], "tcc single-op int8 add")


def run_tflite_micro(model: bytes, inputs: Sequence[np.ndarray],
                     arena_size: int | None = None) -> np.ndarray:
    """Runs `model` once in the TFLite Micro Python interpreter; returns output 0."""
    from tflite_micro import runtime

    if arena_size is None:
        arena_size = 1024 * 1024 + 4 * len(model) + \
            8 * sum(int(np.asarray(x).nbytes) for x in inputs)
    interp = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    for index, x in enumerate(inputs):
        interp.set_input(np.ascontiguousarray(x, dtype=np.int8), index)
    interp.invoke()
    return np.array(interp.get_output(0))


# ---------------------------------------------------------------------------------------
# An independent numpy model of TFLite (Micro)'s int8 reference kernels, used to check the
# writer itself (tflite_micro vs. this) without depending on tcc. Integer helpers follow
# tensorflow/lite/kernels/internal/common.h and quantization_util.cc (no
# TFLITE_SINGLE_ROUNDING, which is the default build).

def tflite_quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: (int32 significand, shift) with real ~= m * 2^(shift - 31)."""
    import math

    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    scaled = q * (1 << 31)
    q_fixed = int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))  # TfLiteRound
    assert abs(q_fixed) <= 1 << 31
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def _srdhm(a: np.ndarray, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int64 arrays holding int32 values."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    overflow = (a == b) & (a == -(1 << 31))
    ab = a * b
    nudged = ab + np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    high = np.sign(nudged) * (np.abs(nudged) // (1 << 31))  # C division: toward zero
    return np.where(overflow, np.int64((1 << 31) - 1), high)


def _rounding_divide_by_pot(x: np.ndarray, exponent) -> np.ndarray:
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def tflite_multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (double rounding); multiplier/shift broadcast with x."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = np.asarray(x, np.int64) * (np.int64(1) << left)
    return _rounding_divide_by_pot(_srdhm(shifted, multiplier), right)


def tflite_reference_conv2d(x, weight, bias, *, x_scale, x_zp, w_scales, y_scale, y_zp,
                            stride=1, padding=0, groups=1, int32_wrap=True) -> np.ndarray:
    """TFLite's int8 per-channel CONV_2D / DEPTHWISE_CONV_2D on PyTorch layouts (NCHW,
    OIHW), symmetric `padding` with the zero point; int8 NCHW out. int32_wrap=False
    keeps the exact (int64) accumulator instead of TFLite's wrapping int32 one."""
    x = np.asarray(x, np.int64) - x_zp
    weight = np.asarray(weight, np.int64)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    sh, sw = (stride, stride) if np.ndim(stride) == 0 else tuple(stride)
    ph, pw = (padding, padding) if np.ndim(padding) == 0 else tuple(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (w + 2 * pw - kw) // sw + 1
    og = o // groups
    acc = np.zeros((n, o, oh, ow), np.int64)
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = weight[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                acc[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    if bias is not None:
        acc += np.asarray(bias, np.int64)[None, :, None, None]
    # TFLite accumulates in int32: a sum beyond the int32 range wraps around (two's
    # complement; the dead channels of the TTE models, bias -2^31, get there).
    if int32_wrap:
        acc = (acc + (1 << 31)) % (1 << 32) - (1 << 31)
    mults = []
    for s in np.atleast_1d(np.asarray(w_scales, np.float32)):
        mults.append(tflite_quantize_multiplier(
            float(np.float32(x_scale)) * float(s) / float(np.float32(y_scale))))
    m = np.array([v[0] for v in mults], np.int64)[None, :, None, None]
    sft = np.array([v[1] for v in mults], np.int64)[None, :, None, None]
    y = tflite_multiply_by_quantized_multiplier(acc, m, sft) + y_zp
    return np.clip(y, -128, 127).astype(np.int8)


def tflite_reference_add(a, b, *, a_scale, a_zp, b_scale, b_zp, y_scale, y_zp) -> np.ndarray:
    """TFLite's int8 ADD (same shapes): left shift 20, per-input multipliers relative to
    twice the larger input scale, then the output multiplier."""
    a_scale, b_scale, y_scale = (float(np.float32(s)) for s in (a_scale, b_scale, y_scale))
    left_shift = 20
    twice_max = 2 * max(a_scale, b_scale)
    m_a, s_a = tflite_quantize_multiplier(a_scale / twice_max)
    m_b, s_b = tflite_quantize_multiplier(b_scale / twice_max)
    m_y, s_y = tflite_quantize_multiplier(twice_max / ((1 << left_shift) * y_scale))
    assert max(s_a, s_b, s_y) <= 0
    va = (np.asarray(a, np.int64) - a_zp) * (1 << left_shift)
    vb = (np.asarray(b, np.int64) - b_zp) * (1 << left_shift)
    sa = _rounding_divide_by_pot(_srdhm(va, m_a), -s_a)
    sb = _rounding_divide_by_pot(_srdhm(vb, m_b), -s_b)
    y = _rounding_divide_by_pot(_srdhm(sa + sb, m_y), -s_y) + y_zp
    return np.clip(y, -128, 127).astype(np.int8)
