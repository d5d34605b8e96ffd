"""An independent numpy implementation of the TTE int8 models (test oracle).

It walks the JSON layer tree of a Tiny Training Engine model (first_conv, blocks with
pointwise1 / depthwise / se / pointwise2 / residual, feature_mix, global average pool,
classifier) with the arrays of the NPZ beside it, and applies the formulas of the
models' README directly:

    conv      acc = conv2d(x - x_zero, weight) + bias          (int32, zero padding in
                                                                the shifted domain)
              y   = clamp(round(acc * eff[c]) + y_zero, -128, 127),
              eff = x_scale * w_scales[c] / y_scale            (float64)
    residual  y = clamp(round(((x1 - z1) * s1 + (x2 - z2) * s2) / s_y) + z_y)
    pool      round(mean over H, W)
    round     half to even (torch.round)

It deliberately shares no code with tcc.runtime.quantized_ops: convolutions are
accumulated tap by tap (shift-and-add) instead of through im2col, int32 wrap-around
uses numpy's int64 -> int32 cast, and the pool rounds the float64 mean.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def load(json_path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The layer tree with every array reference replaced by its NPZ array."""
    json_path = Path(json_path)
    tree = json.loads(json_path.read_text())
    with np.load(json_path.with_suffix(".npz")) as npz:
        arrays = {key: npz[key] for key in npz.files}

    def resolve(node):
        if isinstance(node, dict):
            if "array" in node and "shape" in node:
                array = arrays[node["array"]]
                assert list(array.shape) == list(node["shape"]), node
                return array
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(tree), arrays


def _to_int32(a: np.ndarray) -> np.ndarray:
    """What an int32 accumulator holds: the value modulo 2**32 (C cast semantics)."""
    return a.astype(np.int64).astype(np.int32)


def _saturate_int8(a: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(a, -128), 127).astype(np.int8)


def conv(x: np.ndarray, layer: dict) -> np.ndarray:
    """One TTE QuantizedConv2d on int8 x [N, C, H, W]."""
    p = layer["params"]
    weight = p["weight"].astype(np.int64)            # [O, C/groups, KH, KW]
    out_c, per_group, kh, kw = weight.shape
    kernel = layer["kernel_size"]
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    assert kernel == (kh, kw), (kernel, weight.shape)
    stride = layer["stride"]
    groups = layer["groups"]
    pad_h, pad_w = (kh - 1) // 2, (kw - 1) // 2
    n, c, h, w = x.shape
    assert c == per_group * groups, (x.shape, weight.shape, groups)

    shifted = x.astype(np.int64) - int(p["x_zero"])
    padded = np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=np.int64)
    padded[:, :, pad_h:pad_h + h, pad_w:pad_w + w] = shifted
    out_h = (h + 2 * pad_h - kh) // stride + 1
    out_w = (w + 2 * pad_w - kw) // stride + 1

    acc = np.zeros((n, out_c, out_h, out_w), dtype=np.int64)
    out_per_group = out_c // groups
    for i in range(kh):
        for j in range(kw):
            patch = padded[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            if per_group == 1 and out_per_group == 1:          # depthwise
                acc += patch * weight[:, 0, i, j][None, :, None, None]
                continue
            for g in range(groups):
                xs = patch[:, g * per_group:(g + 1) * per_group]
                ws = weight[g * out_per_group:(g + 1) * out_per_group, :, i, j]
                acc[:, g * out_per_group:(g + 1) * out_per_group] += np.einsum(
                    "nchw,oc->nohw", xs, ws)
    acc = _to_int32(acc + p["bias"].astype(np.int64)[None, :, None, None])

    eff = float(p["x_scale"]) * p["w_scales"].astype(np.float64) / float(p["y_scale"])
    y = np.round(acc.astype(np.float64) * eff[None, :, None, None]).astype(np.int64)
    return _saturate_int8(y + int(p["y_zero"]))


def residual_add(block_input: np.ndarray, conv_output: np.ndarray, block: dict) -> np.ndarray:
    res = block["residual"]
    if "kernel_size" in res:
        raise NotImplementedError("residual convolutions (none in the TTE models)")
    s1, z1 = float(res["params"]["x_scale"]), int(res["params"]["x_zero"])
    last = block["pointwise2"]["params"]
    s2, z2 = float(last["y_scale"]), int(last["y_zero"])
    sy, zy = float(res["params"]["y_scale"]), int(res["params"]["y_zero"])
    real = ((block_input.astype(np.int64) - z1) * s1
            + (conv_output.astype(np.int64) - z2) * s2)
    return _saturate_int8(np.round(real / sy).astype(np.int64) + zy)


def features(tree: dict, x: np.ndarray) -> np.ndarray:
    """int8 activations after feature_mix (before the pool)."""
    x = conv(x, tree["first_conv"])
    for block in tree["blocks"]:
        block_input = x
        for key in ("pointwise1", "depthwise", "se", "pointwise2"):
            if block.get(key) is None:
                continue
            if key == "se":
                raise NotImplementedError("squeeze-excite blocks (none in the TTE models)")
            x = conv(x, block[key])
        if block.get("residual") is not None:
            x = residual_add(block_input, x, block)
    if tree.get("feature_mix") is not None:
        x = conv(x, tree["feature_mix"])
    return x


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """round(mean over H, W) of the int8 values, half to even."""
    return np.round(x.astype(np.float64).mean(axis=(2, 3), keepdims=True)).astype(np.int8)


def logits_int8(tree: dict, x: np.ndarray) -> np.ndarray:
    """int8 logits [N, classes] of int8 images x [N, 3, H, W]."""
    pooled = global_avg_pool(features(tree, x))
    return conv(pooled, tree["classifier"]).reshape(x.shape[0], -1)


def dequantize_logits(tree: dict, q: np.ndarray) -> np.ndarray:
    """(q - y_zero) * y_scale of the classifier, rounded once to float32."""
    p = tree["classifier"]["params"]
    return ((q.astype(np.int64) - int(p["y_zero"])) * float(p["y_scale"])).astype(np.float32)


def input_quantization(tree: dict) -> tuple[float, int]:
    """(scale, zero point) of the model's int8 input."""
    p = tree["first_conv"]["params"]
    return float(p["x_scale"]), int(p["x_zero"])
