"""SonoSeg-S, the head student with a SonoNet-16 encoder: the cut keeps SonoNet's arithmetic on real head
frames, the training path builds it from the published weights, checkpoints name it, and it exports."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from compress.biometry.dataset import PREPROCESSING, HC18SegDataset
from compress.biometry.export import ONNX_TOLERANCE, export_onnx, max_onnx_diff
from compress.biometry.train import TrainConfig, load_checkpoint, new_network, sononet_path
from compress.commands.train_biometry import add_recipe_arguments, recipe_options
from compress.nets import SONO_HEAD_ARCHS
from compress.nets.segnet import build_student
from compress.nets.sono_seg import SonoSeg, sonoseg_from_sononet
from compress.nets.sononet import BLOCKS, load_sononet16
from edge.errors import ConfigError


@pytest.fixture(scope="module")
def heads(hc18_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> HC18SegDataset:
    return HC18SegDataset(hc18_dir, "val", tmp_path_factory.mktemp("cache"))


def test_full_width_encoder_reproduces_sononet_on_head_frames(hc18_dir: Path, heads: HC18SegDataset) -> None:
    """Every channel kept: block 5 of the encoder is SonoNet-16's last block, x255 folded into conv 1."""
    sononet = load_sononet16(sononet_path(hc18_dir))
    x = torch.stack([heads[i][0] for i in range(6)])
    full = sonoseg_from_sononet(sononet, x, widths=tuple(c for c, _ in BLOCKS)).eval()
    with torch.no_grad():
        ref = sononet.features(x * 255.0)
        got = x
        for i, block in enumerate(full.blocks):
            got = block(got if i == 0 else torch.nn.functional.max_pool2d(got, 2))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3 * float(ref.abs().max()))


@pytest.mark.parametrize("arch", SONO_HEAD_ARCHS)
def test_training_builds_the_student_from_sononet_and_checkpoints_name_it(hc18_dir: Path, heads: HC18SegDataset,
                                                                          tmp_path: Path, arch: str) -> None:
    cfg = TrainConfig(data=hc18_dir, out=tmp_path, arch=arch)
    model = new_network(cfg, heads)
    fresh = build_student(1.0, arch)
    first = model.encoder_units()[0][0].weight
    assert not torch.allclose(first, fresh.encoder_units()[0][0].weight)  # filters came from the weights
    ckpt = tmp_path / "student.pt"
    torch.save({"state_dict": model.state_dict(), "role": "student", "arch": arch, "width_mult": 1.0}, ckpt)
    again = load_checkpoint(ckpt)
    assert isinstance(again, SonoSeg) and isinstance(again.context, torch.nn.Sequential) == (arch == "sono-seg-ctx")
    torch.testing.assert_close(again.encoder_units()[0][0].weight, first)


def _input_columns_seen(model: torch.nn.Module, row: int, col: int) -> tuple[int, int]:
    """First and last input column whose value moves the output logit at (row, col)."""
    x = torch.randn(1, 1, *PREPROCESSING["size"], generator=torch.Generator().manual_seed(0), requires_grad=True)
    model.eval()(x)[0, 0, row, col].backward()
    cols = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten()
    return int(cols.min()), int(cols.max())


def test_context_block_lets_a_pixel_see_the_far_side_of_the_frame() -> None:
    """The reason for sono-seg-ctx: a pixel at the left edge must see a skull echo at the right edge."""
    h, w = PREPROCESSING["size"]
    torch.manual_seed(0)
    _, plain_far = _input_columns_seen(build_student(1.0, "sono-seg"), h // 2, 10)
    _, ctx_far = _input_columns_seen(build_student(1.0, "sono-seg-ctx"), h // 2, 10)
    assert plain_far < 0.7 * w <= 0.9 * w <= ctx_far


@pytest.mark.parametrize("arch", SONO_HEAD_ARCHS)
def test_sono_seg_exports_and_matches_pytorch(hc18_dir: Path, heads: HC18SegDataset, tmp_path: Path,
                                              arch: str) -> None:
    model = new_network(TrainConfig(data=hc18_dir, out=tmp_path, arch=arch), heads).eval()
    path = export_onnx(model, tmp_path / "m.onnx", *PREPROCESSING["size"])
    frames = [r.image() for r in heads.records[:2]]
    assert max_onnx_diff(model, path, frames) <= ONNX_TOLERANCE


def _recipe(argv: list[str], out: Path) -> dict:
    p = argparse.ArgumentParser()
    add_recipe_arguments(p, width_mult=1.5)
    args = p.parse_args(argv)
    args.out = out
    return recipe_options(args)


def test_recipe_options_pick_the_width_for_the_arch(data_dir: Path, tmp_path: Path) -> None:
    assert _recipe(["--data", str(data_dir)], tmp_path)["width_mult"] == 1.5
    assert _recipe(["--data", str(data_dir), "--arch", "sono-seg"], tmp_path)["width_mult"] == 1.0
    assert _recipe(["--data", str(data_dir), "--arch", "sono-seg-ctx"], tmp_path)["arch"] == "sono-seg-ctx"
    with pytest.raises(ConfigError, match="conflicts with --arch sono-seg"):
        _recipe(["--data", str(data_dir), "--arch", "sono-seg", "--width-mult", "1.5"], tmp_path)


def test_unknown_arch_and_width_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown head student arch"):
        build_student(1.0, "resnet")
    with pytest.raises(ValueError, match="fixed widths"):
        build_student(2.0, "sono-seg")
    with pytest.raises(ValueError, match="sono-seg-ctx has fixed widths"):
        build_student(0.5, "sono-seg-ctx")


def test_pipeline_task_builds_the_named_student(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from compress.tasks import create_task

    cache = str(tmp_path_factory.mktemp("task_cache"))
    task = create_task("biometry", data_dir, {"student_arch": "sono-seg", "cache_dir": cache, "teacher_pool": 0})
    assert isinstance(task.build_student(1.0), SonoSeg) and task.info.architecture == "sono-seg"
    with pytest.raises(ConfigError, match="student_arch"):
        create_task("biometry", data_dir, {"student_arch": "unet3", "cache_dir": cache}).build_student(1.0)


def test_sono_seg_l_is_sononet_widths_throughout() -> None:
    """The capacity probe keeps every SonoNet-16 filter (the full-width case the test above checks)."""
    model = build_student(1.0, "sono-seg-l")
    assert model.widths == tuple(c for c, _ in BLOCKS)
    assert [u[0].out_channels for u in model.encoder_units()] == [c for c, n in BLOCKS for _ in range(n)]
