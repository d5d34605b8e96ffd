"""Reference semantics of `train.qsgd`: SGD on int8 weights and int32 biases in the
integer domain, with optional quantization-aware scaling (QAS), in plain numpy.

Notation (Lin et al., "On-Device Training Under 256KB Memory", section 2.1). A
quantized parameter stores integers W̄ and means the real value W = s · (W̄ - z): an
int8 weight has one scale s_c per output channel (its per-axis type; zero points 0),
an int32 bias of channel c has the bias scale s_c = s_x · s_w[c] (the op's `scales`
attribute) and zero point 0. The gradient the backward pass delivers, ``grad``, is the
float gradient of the *real* value, G = dL/dW (see passes/quantized_gradient_rules.py).
The bias scales are the float64 products s_x · s_w[c] of the scales of the consuming
qconv2d / qlinear's input and weight types (what --train-autodiff writes into
`scales`); scales are used exactly as stored (float64), never re-rounded.

The gradient of the stored integers is G_W̄ = dL/dW̄ = s · G. Its ratio to the integers
is ‖G_W̄‖ / ‖W̄‖ = s² · ‖G‖ / ‖W‖: with scales around 1e-2 an int8 SGD step is 1e4
times smaller than the float step it should be and training stalls. QAS rescales the
integer gradient by s⁻², G̃ = G_W̄ · s⁻² = G / s, which restores the float ratio
exactly. Per element of channel c (all arithmetic in float64):

    G̃    = G / s_c          with qas        (= s_c⁻² · G_W̄)
    G̃    = G · s_c          without qas     (= G_W̄, the unscaled integer gradient)
    W̄'   = saturate(rne(W̄ - lr · (G̃ + weight_decay · (W̄ - z))))

With QAS and z = 0 this is float SGD on the real value, W' = W - lr·(G + wd·W), carried
out in units of s_c and rounded back onto the integer grid; weight decay acts on the
stored integers (the real value over s_c) in both modes. ``rne`` is round half to
even (``np.rint``, IEEE roundTiesToEven, what ``torch.round`` does), so an update of
exactly k + 1/2 codes lands on the even neighbour. ``saturate`` clips to the storage
range of the parameter's type: [-128, 127] for ``i8`` (or the narrowed range of
``i8<lo:hi>``), [-2**31, 2**31 - 1] for int32 biases. A NaN update leaves the value
unchanged; ±inf saturates.

Dead channels. Some channels of real models have a collapsed scale: 53 output channels
of the Tiny Training Engine's MCUNet-5FPS have s_w = 3.9e-9 (5e-7 / 127), int8 weights
that are meaningless and int32 biases saturated at ±2**31, and a few more sit between
8e-9 and 6e-8. QAS divides their gradients by s (2.5e8 for the weights, 1e10 and more
for the bias scale s_x·s_w), i.e. slams every weight and bias of those channels to the
storage limits in one step. More generally, a channel at r = s_c / median(s) takes
integer steps about 1/r times the layer's typical one. The rule here:

    channel c is *dead* when  s_c < DEAD_CHANNEL_RATIO · median_c'(s_c')
    (or when s_c is not a finite positive number); a dead channel is not updated.

The median is over all channels of the same parameter (for a bias: over its `scales`,
which is s_x times the weight scales, so a weight and its bias agree on which channels
are dead). DEAD_CHANNEL_RATIO = 1e-3: below it, a typical step of 0.1 code becomes more
than 100 codes, so such a channel saturates instead of training, while its real range
(127·s_c) is under 0.1 % of its neighbours' and freezing it costs nothing. The
collapsed channels of the TTE models (scales 3.9e-9 .. 6.1e-8) sit at 2.3e-7 .. 1.4e-5
of their layer's median, 70 times below the threshold. Frozen by the rule (of about
5,400-6,000 channels per model, classifier excluded): MCUNet-5FPS 63,
ProxylessNAS-w0.3 34, MobileNetV2-w0.35 19 (no collapsed channel there, but 19 whose
scale is 5e-5 .. 1e-3 of the median). The rule applies with and without QAS (without
it a dead channel's update lr · s · G is ~1e-9 codes and rounds away anyway) and to
per-tensor types (one scale for every channel: never dead unless it is not positive).
A layer whose channels are more than half dead has a dead median and is not detected;
in the TTE models at most 2 of 16 channels of a layer are dead.
Beyond this rule, updates are bounded only by saturation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEAD_CHANNEL_RATIO", "INT32_MIN", "INT32_MAX", "dead_channels",
           "integer_gradient", "qsgd"]

DEAD_CHANNEL_RATIO = 1e-3

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _channel_values(name: str, values, count: int) -> np.ndarray:
    """A per-channel float64 vector of length `count` (a scalar is broadcast)."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, count)
    if array.size != count:
        raise ValueError(f"{array.size} {name} for {count} channels")
    return array


def dead_channels(scales, ratio: float = DEAD_CHANNEL_RATIO) -> np.ndarray:
    """Boolean mask of the dead channels: s_c < ratio · median(s), or s_c not a finite
    positive number (see the module docstring)."""
    scales = np.asarray(scales, dtype=np.float64).reshape(-1)
    valid = np.isfinite(scales) & (scales > 0)
    if not valid.any():
        return np.ones(scales.shape, dtype=bool)
    threshold = ratio * float(np.median(scales[valid]))
    return ~valid | (scales < threshold)


def _broadcast_axis(vector: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return vector.reshape(shape)


def integer_gradient(grad, scales, *, qas: bool, axis: int = 0) -> np.ndarray:
    """G̃ in float64: ``grad / s`` with QAS (= s⁻² · G_W̄), ``grad · s`` without (= G_W̄),
    `scales` holding one s per index of `axis` (or one for all)."""
    grad = np.asarray(grad, dtype=np.float64)
    if grad.ndim == 0:
        raise ValueError("the gradient must have at least one dimension")
    s = _broadcast_axis(_channel_values("scales", scales, grad.shape[axis]), grad.ndim, axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return grad / s if qas else grad * s


def qsgd(param, grad, *, lr: float, scales, qas: bool, weight_decay: float = 0.0,
         zero_points=0, qmin: int, qmax: int, axis: int = 0,
         dead_ratio: float | None = None) -> np.ndarray:
    """One integer-domain SGD step; returns the new storage values in `param`'s dtype.

    `param`: integer storage array (int8 weights, int32 biases); `grad`: float gradient
    of its real value, same shape; `scales` / `zero_points`: per index of `axis` (or
    scalars); [qmin, qmax]: the storage range. `dead_ratio` defaults to
    DEAD_CHANNEL_RATIO; 0 disables the dead-channel rule (for experiments only).
    """
    param = np.asarray(param)
    if not np.issubdtype(param.dtype, np.integer):
        raise ValueError(f"param must be an integer (storage) array, got dtype {param.dtype}")
    grad = np.asarray(grad)
    if not np.issubdtype(grad.dtype, np.floating):
        raise ValueError(f"grad must be a floating-point array, got dtype {grad.dtype}")
    if grad.shape != param.shape:
        raise ValueError(f"grad shape {grad.shape} differs from param shape {param.shape}")
    if param.ndim == 0 or not 0 <= axis < param.ndim:
        raise ValueError(f"channel axis {axis} out of range for shape {param.shape}")
    if not lr > 0 or not np.isfinite(lr):
        raise ValueError(f"learning rate must be positive and finite, got {lr}")
    if qmin > qmax:
        raise ValueError(f"empty storage range [{qmin}, {qmax}]")
    count = param.shape[axis]
    s = _channel_values("scales", scales, count)
    z = _broadcast_axis(_channel_values("zero points", zero_points, count), param.ndim, axis)
    if dead_ratio is None:
        dead_ratio = DEAD_CHANNEL_RATIO
    dead = _broadcast_axis(dead_channels(s, dead_ratio), param.ndim, axis)

    stored = param.astype(np.float64)  # exact: |values| < 2**53
    step = integer_gradient(grad, np.where(dead.reshape(-1), 1.0, s), qas=qas, axis=axis)
    if weight_decay:
        step = step + float(weight_decay) * (stored - z)
    with np.errstate(invalid="ignore", over="ignore"):
        updated = stored - float(lr) * step
    updated = np.where(np.isnan(updated) | dead, stored, updated)
    # Bound before the integer conversion (a no-op inside the range), then round half
    # to even and saturate.
    updated = np.clip(updated, float(qmin) - 1.0, float(qmax) + 1.0)
    updated = np.clip(np.rint(updated), qmin, qmax)
    return updated.astype(param.dtype)
