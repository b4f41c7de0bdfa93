"""Structured pruning: channels are really removed (params, MACs and ONNX bytes fall), outputs keep their
shape, the output layer is never pruned, and the MACs-budget search meets its budget or says why not."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from compress.nets.families import family
from compress.stages.common import params_and_macs
from compress.stages.export import export_onnx
from compress.stages.prune import output_layer, prune_model, search_ratio
from compress.tasks.toy import TinyNet
from edge.errors import ConfigError

CASES = {"classifier": (lambda: TinyNet(16), (1, 1, 32, 32)),
         "seg-student (depthwise, skips, concat)": (lambda: family("ds-seg").create(0.5), (1, 1, 64, 96)),
         "sono-seg (the shipped head student)": (lambda: family("sono-seg").create(1.0), (1, 1, 64, 96))}


@pytest.mark.parametrize("name", list(CASES))
def test_pruning_removes_channels_and_keeps_outputs(name: str, tmp_path: Path) -> None:
    make, shape = CASES[name]
    torch.manual_seed(0)
    model = make().eval()
    before = params_and_macs(model, shape)
    size_before = export_onnx(model, shape, tmp_path / "a.onnx").stat().st_size
    out_before = model(torch.zeros(shape)).shape
    pruned = prune_model(copy.deepcopy(model), 0.3, shape)
    after = params_and_macs(pruned, shape)
    assert after[0] < 0.8 * before[0] and after[1] < 0.8 * before[1]
    assert export_onnx(pruned, shape, tmp_path / "b.onnx").stat().st_size < 0.85 * size_before
    assert pruned(torch.randn(shape)).shape == out_before
    last = output_layer(pruned, shape)
    assert (last.out_features if isinstance(last, nn.Linear) else last.out_channels) == out_before[1]


def test_ratio_zero_is_identity() -> None:
    model = TinyNet(8)
    assert prune_model(model, 0.0, (1, 1, 32, 32)) is model


def test_search_meets_the_macs_budget_with_the_smallest_grid_ratio() -> None:
    shape = (1, 1, 64, 96)
    model = family("ds-seg").create(0.5).eval()
    macs = params_and_macs(model, shape)[1]
    ratio = search_ratio(model, 0.75 * macs, shape)
    assert 0 < ratio < 0.9
    assert params_and_macs(prune_model(copy.deepcopy(model), ratio, shape), shape)[1] <= 0.75 * macs
    smaller = round(ratio - 0.05, 2)
    if smaller > 0:
        assert params_and_macs(prune_model(copy.deepcopy(model), smaller, shape), shape)[1] > 0.75 * macs
    assert search_ratio(model, 2 * macs, shape) == 0.0


def test_unreachable_budget_says_what_to_change() -> None:
    with pytest.raises(ConfigError, match="width_mult"):
        search_ratio(TinyNet(8), 10.0, (1, 1, 32, 32))
