"""Calibration of the int16 fixed-point backward pass: runs the float training step in
the reference interpreter on sample batches and records, on each op that produces a
gradient of its own range, the largest |value| it produced (`train.grad_range`, read
by --train-int16-gradients)."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .._mlir import ir
from ..passes.train_int16_gradients import CALIBRATED, GRAD_RANGE, gradient_ops
from ..runtime import interpreter
from .source import find_function


def annotate_gradient_ranges(module: ir.Module, step: str,
                             samples: Iterable[Sequence[np.ndarray]]) -> dict:
    """Runs @step on each argument list of `samples` (parameters unchanged between
    them) and writes `train.grad_range` on its calibrated gradient ops; returns the
    ranges by op location text."""
    function = find_function(module, step)
    targets = {op.results[0]: op for op in gradient_ops(function) if op.name in CALIBRATED}
    ranges = {value: 0.0 for value in targets}

    def observe(op, results):
        if op.results and op.results[0] in ranges:
            ranges[op.results[0]] = max(ranges[op.results[0]],
                                        float(np.max(np.abs(results[0]), initial=0.0)))

    for arguments in samples:
        interpreter.run_function(module, step, list(arguments), observe=observe)
    for value, op in targets.items():
        with op.location:
            op.attributes[GRAD_RANGE] = ir.FloatAttr.get(ir.F64Type.get(), ranges[value])
    return {str(op.location): ranges[value] for value, op in targets.items()}
