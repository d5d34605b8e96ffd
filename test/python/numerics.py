"""Error metrics shared by the Python tests."""

import numpy as np


def rel_error(actual, expected) -> float:
    """max|a - b| / max|b|, in float64; the shapes must agree."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = max(np.abs(expected).max(initial=0.0), np.finfo(np.float64).tiny)
    return float(np.abs(actual - expected).max(initial=0.0) / scale)
