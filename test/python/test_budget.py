"""Automatic sparse update scheme under a memory budget (compiler/budget.py).

Budget strings; the scheme chosen for a float zoo model fits its budget once compiled
through autodiff, prune, --train-reorder and --plan-memory, and trains more (never
less) as the budget grows; the error when not even the classifier's bias fits; and,
when ../shared holds them, the same on the Tiny Training Engine's MCUNet-5FPS.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

import tcc
from tcc._mlir import ir
from tcc.compiler import budget
from tcc.compiler.analysis import StepOptions, derive_step
from tcc.compiler.budget import BudgetError, choose_scheme, parse_budget
from tcc.compiler.errors import InputError
from tcc.compiler.pipeline import run_pipeline
from tcc.compiler.source import find_function
from tcc.dialects import train

ROOT = Path(tcc.__file__).resolve().parent
ZOO = ROOT / "examples" / "zoo"
TTE = ROOT / ".." / "shared" / "models" / "tte"
needs_tte = pytest.mark.skipif(not (TTE / "mcunet-5fps.json").is_file(),
                               reason="needs ../shared/models/tte (the TTE models)")
KB = 1024


# ---------------------------------------------------------------------------------------
# Budget strings
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("128KB", 131072), ("128kb", 131072), ("128 KB", 131072), ("128KiB", 131072),
    ("128K", 131072), ("256kib", 262144), ("1MB", 1048576), ("2MiB", 2097152),
    ("1GB", 1 << 30), ("512B", 512), ("512", 512), (" 64KB ", 65536), ("1.5KB", 1536),
    ("0.5MB", 524288), (4096, 4096),
])
def test_parse_budget(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "bad memory budget ''"),
    ("abc", "expected a size like 128KB"),
    ("KB", "expected a size like 128KB"),
    ("12XB", "unknown unit 'XB'"),
    ("128 K B", "expected a size like 128KB"),
    ("-5KB", "expected a size like 128KB"),
    ("1e3", "expected a size like 128KB"),
    ("0", "must be positive"),
    ("0KB", "must be positive"),
    ("0.3B", "not a whole number of bytes"),
    ("1.0001KB", "not a whole number of bytes"),
    (-1, "must be positive"),
    (True, "bad memory budget"),
])
def test_parse_budget_errors(text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_budget(text)


def test_format_bytes():
    assert budget.format_bytes(512) == "512 B"
    assert budget.format_bytes(131072) == "128 KB"
    assert budget.format_bytes(1536) == "1.5 KB"


# ---------------------------------------------------------------------------------------
# A zoo model
# ---------------------------------------------------------------------------------------

def _zoo(name: str = "dscnn"):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ZOO))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(ZOO))
    from tcc.compiler.frontends.pytorch import import_module
    net = getattr(module, {"dscnn": "DSCNN", "mobilenetv2": "MobileNetV2"}[name])().eval()
    torch.manual_seed(0)
    return import_module(net, (torch.randn(*module.INPUT_SHAPE),), filename=f"{name}.py")


def _compiled_peak(imported_factory, scheme) -> int:
    """The arena of a fresh copy of the model trained with `scheme`, compiled through
    the whole pipeline."""
    module = imported_factory().module
    derive_step(module, StepOptions(scheme=scheme))
    run_pipeline(module, ["train-reorder", "plan-memory"])
    return ir.IntegerAttr(module.operation.attributes["train.arena_size"]).value


def _trained_layers(imported_factory, scheme) -> set[str]:
    """The layers (parameter names without their last part) the scheme trains."""
    module = imported_factory().module
    derive_step(module, StepOptions(scheme=scheme))
    forward = find_function(module, "forward")
    return {train.arg_name(forward, i).rsplit(".", 1)[0]
            for i in range(len(forward.entry_block.arguments))
            if train.arg_role(forward, i) == "trainable"}


@pytest.fixture(scope="module")
def dscnn_choices():
    """Choices for DS-CNN at growing budgets, from the smallest scheme's peak up."""
    largest = choose_scheme(_zoo().module, "64MB")
    floor = largest.evaluations[0].peak           # the classifier's bias alone
    budgets = [floor, floor + 60 * KB, floor + 200 * KB]
    return [(b, choose_scheme(_zoo().module, b)) for b in budgets] + \
        [(64 * 1024 * KB, largest)]


def test_choice_fits_its_budget_when_compiled(dscnn_choices):
    for limit, choice in dscnn_choices:
        assert choice.budget == limit
        assert choice.lower_bound <= choice.peak <= limit
        compiled = _compiled_peak(_zoo, choice.scheme)
        assert compiled <= limit, (limit, choice.describe())
        assert choice.trains[-1].name == "classifier"
        assert _trained_layers(_zoo, choice.scheme) == {t.name for t in choice.trains}
        # Every measured candidate the search kept was within the budget.
        assert all(e.peak <= limit for e in choice.evaluations if e.fits)


def test_choice_trains_more_as_the_budget_grows(dscnn_choices):
    choices = [c for _, c in dscnn_choices]
    first = choices[0]
    assert [t.what for t in first.trains] == ["bias"]          # the classifier's bias
    layers = [{t.layer for t in c.trains} for c in choices]
    depths = [c.bias_depth for c in choices]
    for smaller, larger in zip(layers, layers[1:]):
        assert smaller <= larger, layers
    assert depths == sorted(depths)
    assert len(layers[-1]) > len(layers[1]) > len(layers[0]) == 1
    # The largest budget trains the whole model.
    assert all(t.what.startswith("weight full") for t in choices[-1].trains)
    assert choices[-1].trained_parameter_bytes > choices[0].trained_parameter_bytes


def test_choice_reports_what_it_chose(dscnn_choices):
    _, choice = dscnn_choices[1]
    text = choice.describe()
    assert text.startswith(f"budget {budget.format_bytes(choice.budget)}: trains "
                           f"{len(choice.trains)} layers")
    assert f"peak arena {budget.format_bytes(choice.peak)}" in text
    for t in choice.trains:
        assert f"{t.layer:<8} {t.name}: {t.what}" in text
    data = choice.to_json()
    assert data["scheme"] == choice.rules and data["peak"] == choice.peak
    assert all(key.startswith("conv:") for key in choice.rules["layers"])


def test_nothing_fits():
    with pytest.raises(BudgetError, match=r"^error: nothing trainable fits in 1 KB: the smallest "
                       r"scheme \(classifier bias only\) needs [\d.]+ KB$") as error:
        choose_scheme(_zoo().module, "1KB")
    assert isinstance(error.value, InputError)
    needs = float(re.search(r"needs ([\d.]+) KB", error.value.message).group(1))
    # That much is enough.
    choice = choose_scheme(_zoo().module, round(needs * KB) + 64, time_limit=0)
    assert [t.what for t in choice.trains] == ["bias"]


def test_time_limit_keeps_a_fitting_scheme():
    choice = choose_scheme(_zoo().module, "64MB", time_limit=0)
    assert not choice.complete
    assert [t.what for t in choice.trains] == ["bias"]
    assert choice.peak <= 64 * 1024 * KB


def test_momentum_counts_its_buffers():
    plain = choose_scheme(_zoo().module, "64MB", time_limit=0)
    momentum = choose_scheme(_zoo().module, "64MB", time_limit=0,
                             options=StepOptions(optimizer="momentum", momentum=0.9))
    assert momentum.rules == plain.rules
    assert momentum.peak > plain.peak


def test_a_model_with_a_step_is_refused():
    imported = _zoo()
    derive_step(imported.module, StepOptions(scheme={"layers": {"conv:-1": "full"}}))
    with pytest.raises(InputError, match="already has @train_step"):
        choose_scheme(imported.module, "1MB")


def test_the_module_is_not_modified():
    imported = _zoo()
    before = str(imported.module)
    choose_scheme(imported.module, "200KB")
    assert str(imported.module) == before


# ---------------------------------------------------------------------------------------
# MCUNet-5FPS
# ---------------------------------------------------------------------------------------

def _mcunet():
    from tcc.compiler.frontends.tte import import_tte
    return import_tte(TTE / "mcunet-5fps.json", num_classes=10)


@needs_tte
def test_mcunet_under_a_budget():
    choice = choose_scheme(_mcunet().module, "200KB")
    assert choice.peak <= 200 * KB
    assert _compiled_peak(_mcunet, choice.scheme) <= 200 * KB
    assert choice.trains[-1].name == "classifier"
    assert choice.bias_depth >= 1
    assert all(t.what == "bias" or t.what.startswith("weight") for t in choice.trains)


@needs_tte
def test_mcunet_nothing_fits():
    with pytest.raises(BudgetError, match=r"nothing trainable fits in 16 KB: the smallest "
                       r"scheme \(classifier bias only\) needs"):
        choose_scheme(_mcunet().module, "16KB")


@needs_tte
def test_mcunet_cortex_m_budget_counts_masks_and_fusion(tmp_path):
    """For a Cortex-M target the search measures the pipeline the target compiles (1-bit
    masks, fused bottlenecks): 160 KB trains MCUNet-5FPS, which the plain step (its
    forward alone needs more) cannot, and the compiled arena is within the budget."""
    from tcc.compiler import driver
    path = tmp_path / "mcunet.mlir"
    _mcunet().write(path)
    with pytest.raises(BudgetError, match="nothing trainable fits in 160 KB"):
        choose_scheme(_mcunet().module, "160KB")
    model = driver.prepare(path, driver.TrainingOptions(budget=160 * KB, target="cortex-m7"))
    arena = int(str(model.module.operation.attributes["train.arena_size"]).split()[0])
    assert arena <= 160 * KB
    assert any("classifier" in note for note in model.notes)
