"""Training data for `--run`: a user's .npz, or the bundled example (the 8×8
handwritten digits that ship with scikit-learn, for models taking 64 features
and predicting 10 classes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError


def load_training_data(path: str | Path, input_shape: list[int], batch: int,
                       steps: int, dtype=np.float32,
                       at_most: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`inputs` [steps, *input_shape] of the model's input `dtype` (float32, or int8:
    integers in [-128, 127], the quantized values) and `labels` [steps, batch]
    from an .npz (with `at_most`, as many as it holds up to `steps`)."""
    try:
        with np.load(path) as data:
            inputs, labels = data["inputs"], data["labels"]
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except KeyError as missing:
        raise InputError(f"training data needs arrays 'inputs' and 'labels', "
                         f"missing {missing}", str(path)) from None
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read training data: {error}", str(path)) from None
    if at_most:
        steps = max(1, min(steps, inputs.shape[0]))
    if list(inputs.shape[1:]) != list(input_shape) or inputs.shape[0] < steps:
        raise InputError(f"'inputs' must have shape [>= {steps}, "
                         f"{', '.join(map(str, input_shape))}], got {list(inputs.shape)}",
                         str(path))
    if list(labels.shape) != [inputs.shape[0], batch]:
        raise InputError(f"'labels' must have shape [{inputs.shape[0]}, {batch}], "
                         f"got {list(labels.shape)}", str(path))
    inputs = inputs[:steps]
    if np.dtype(dtype) == np.int8 and not (np.all(np.isfinite(inputs)) and
                                           np.all(inputs == np.round(inputs)) and
                                           inputs.min() >= -128 and inputs.max() <= 127):
        raise InputError("the model takes int8 inputs: 'inputs' must hold integers in "
                         "[-128, 127] (the quantized values)", str(path))
    return inputs.astype(dtype), labels[:steps].astype(np.int32)


def digits_batches(input_shape: list[int], classes: int, steps: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`steps` shuffled batches of scikit-learn's digits, pixels scaled to [0, 1]."""
    batch = input_shape[0]
    if int(np.prod(input_shape[1:])) != 64 or classes != 10:
        raise InputError("the bundled digits example needs a model taking 64 features per "
                         f"sample and predicting 10 classes (got input {input_shape}, "
                         f"{classes} classes); pass --data FILE.npz with 'inputs' and 'labels'")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InputError("the bundled digits example needs scikit-learn "
                         "(pip install scikit-learn), or pass --data FILE.npz") from None
    images, targets = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(images))
    needed = steps * batch
    order = np.resize(order, needed)
    inputs = (images[order] / 16.0).astype(np.float32).reshape([steps] + list(input_shape))
    labels = targets[order].astype(np.int32).reshape(steps, batch)
    return inputs, labels
