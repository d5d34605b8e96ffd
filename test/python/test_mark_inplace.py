"""--train-mark-inplace and the liveness model: a marked stride-1 depthwise input
gradient takes over its dy's storage where dy dies at it (and not where dy is read
later); the any-order floor (liveness.any_order_bound) counts it once."""

from __future__ import annotations

from tcc.compiler import liveness
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function, new_context, parse_module

STEP = """
func.func @train_step(%dy: tensor<1x4x8x8xf32>, %w: tensor<4x1x3x3xf32>)
    -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %a = train.relu %dy : tensor<1x4x8x8xf32>
  %dx = train.conv2d_grad_input %a, %w padding [1, 1] groups 4
      : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  %r = train.relu %dx : tensor<1x4x8x8xf32>
  RETURN
}
"""


def _buffers(text: str, mark: bool):
    with new_context() as context:
        module = parse_module(text, "step.mlir", context)
        if mark:
            run_pipeline(module, ["train-mark-inplace"], "step")
        step = find_function(module, "train_step")
        return liveness.lifetimes(step), liveness.lower_bound(step)


def test_marked_gradient_takes_over_its_dy():
    text = STEP.replace("RETURN", "return %r, %r : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>")
    plain = _buffers(text, mark=False)
    marked = _buffers(text, mark=True)
    a, dx = marked[0][2], marked[0][3]        # arguments dy, w; then %a, %dx
    assert a.buffer is dx.buffer
    assert plain[0][2].buffer is not plain[0][3].buffer
    assert marked[1] == plain[1] - 4 * 8 * 8 * 4


def test_marked_gradient_keeps_a_dy_read_later():
    text = STEP.replace("RETURN", "return %r, %a : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>")
    marked = _buffers(text, mark=True)
    assert marked[0][2].buffer is not marked[0][3].buffer


def test_any_order_bound_counts_an_in_place_result_once():
    """dy and dx are 1,024 B, w 144 B: the grad op needs a + w + dx = 2,192 B, or
    1,168 B in place; the relus run in place (no parameters: nothing persistent)."""
    text = STEP.replace("RETURN", "return %r, %r : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>")
    for mark, expected in ((False, 2192), (True, 1168)):
        with new_context() as context:
            module = parse_module(text, "step.mlir", context)
            if mark:
                run_pipeline(module, ["train-mark-inplace"], "step")
            step = find_function(module, "train_step")
            assert liveness.any_order_bound(step) == expected
            assert liveness.any_order_bound(step) <= liveness.lower_bound(step)
