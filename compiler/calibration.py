"""Calibration of the int16 fixed-point backward pass: runs the float training step in
the reference interpreter on sample batches and records, on each op that produces a
gradient of its own range, the largest |value| it produced (`train.grad_range`, read
by --train-int16-gradients), times the sample's dynamic loss scale 2^k (the int16
step scales its loss gradient so, see fixed_point.loss_shift)."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .._mlir import ir
from ..passes.train_int16_gradients import CALIBRATED, GRAD_RANGE, gradient_ops
from ..runtime import fixed_point as fx
from ..runtime import interpreter
from .source import find_function


def step_arguments(module: ir.Module, step: str, parameters: dict, inputs, labels) -> list:
    """One argument list of @step per batch: `parameters` (by argument index), the
    batch's input at the data argument and its labels last."""
    count = len(find_function(module, step).entry_block.arguments)
    data = next(i for i in range(count - 1) if i not in parameters)
    samples = []
    for x, y in zip(inputs, labels):
        values = [parameters.get(i) for i in range(count)]
        values[data], values[-1] = x, np.asarray(y, dtype=np.int32).reshape(-1)
        samples.append(values)
    return samples


def random_batches(shape, classes: int, count: int, seed: int,
                   quantized: bool) -> tuple[np.ndarray, np.ndarray]:
    """`count` seeded random batches of `shape`: int8 inputs uniform over their range
    (normal floats when not `quantized`) and uniform labels."""
    rng = np.random.default_rng(seed)
    shape = [count, *shape]
    inputs = rng.integers(-128, 128, size=shape, dtype=np.int8) if quantized else \
        rng.standard_normal(shape).astype(np.float32)
    return inputs, rng.integers(0, classes, size=(count, shape[1]), dtype=np.int32)


def annotate_gradient_ranges(module: ir.Module, step: str,
                             samples: Iterable[Sequence[np.ndarray]]) -> None:
    """Runs @step on each argument list of `samples` (parameters unchanged between
    them) and writes `train.grad_range` on its calibrated gradient ops."""
    function = find_function(module, step)
    targets = {op.results[0]: op for op in gradient_ops(function) if op.name in CALIBRATED}
    ranges = {value: 0.0 for value in targets}
    loss_scale = [1.0]

    def observe(op, results):
        if op.name == "train.cross_entropy_grad":
            # The int16 step scales the loss gradient by 2^k (dynamic loss scaling),
            # every gradient after it too: range them as scaled.
            q15 = fx.saturate(np.rint(np.asarray(results[0], np.float64) * 2 ** 15), 16)
            loss_scale[0] = float(1 << fx.loss_shift(q15))
        elif op.results and op.results[0] in ranges:
            ranges[op.results[0]] = max(ranges[op.results[0]], loss_scale[0] * float(
                np.max(np.abs(results[0]), initial=0.0)))

    for arguments in samples:
        interpreter.run_function(module, step, list(arguments), observe=observe)
    for value, op in targets.items():
        with op.location:
            op.attributes[GRAD_RANGE] = ir.FloatAttr.get(ir.F64Type.get(), ranges[value])


def calibrate_on_random_samples(module: ir.Module, parameters: dict, *, classes: int,
                                count: int = 4, seed: int = 0, step: str = "train_step",
                                forward: str = "forward") -> None:
    """annotate_gradient_ranges on `count` seeded random int8 batches (a model with no
    data at hand: benchmarks and tests)."""
    arguments = find_function(module, forward).entry_block.arguments
    data = next(i for i in range(len(arguments)) if i not in parameters)
    shape = list(ir.RankedTensorType(arguments[data].type).shape)
    inputs, labels = random_batches(shape, classes, count, seed, quantized=True)
    annotate_gradient_ranges(module, step, step_arguments(module, step, parameters,
                                                          inputs, labels))
