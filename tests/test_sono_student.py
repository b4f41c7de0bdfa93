"""SonoNet-S: cut from SonoNet-16's published filters. The cut must keep the teacher's arithmetic exactly (a
full-width cut reproduces SonoNet-16's features on a real frame), fit the issue's budget, and export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from compress.nets.plane_student import build_student, count_macs, count_params
from compress.nets.sono_student import INPUT_HW, SonoStudent, frames_for_selection, from_sononet
from compress.nets.sononet import BLOCKS
from compress.planes.distill import DistillConfig, new_student
from compress.stages.export import export_onnx
from edge.errors import ConfigError
from tests.sono_fixtures import frames, sononet  # noqa: F401 (fixtures)


def test_full_width_cut_reproduces_sononet(sononet: torch.nn.Module, frames: np.ndarray) -> None:
    """With every channel kept, the student is SonoNet-16 with its x255 input scale folded in."""
    x = frames_for_selection(frames, n=len(frames))
    full = from_sononet(sononet, x, widths=tuple(c for c, _ in BLOCKS))
    with torch.no_grad():
        ref = sononet.features(x * 255.0)
        got = full.features(x)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3 * float(ref.abs().max()))


def test_half_width_cut_keeps_the_strongest_first_layer_filters(sononet: torch.nn.Module, frames: np.ndarray) -> None:
    x = frames_for_selection(frames, n=len(frames))
    s = from_sononet(sononet, x)
    with torch.no_grad():
        teacher_first = sononet.blocks[0][0](x * 255.0).mean(dim=(0, 2, 3))
        student_first = s.features[0][0](x).mean(dim=(0, 2, 3))
    kept = torch.sort(torch.argsort(teacher_first, descending=True)[:8]).values
    torch.testing.assert_close(student_first, teacher_first[kept], rtol=1e-4, atol=1e-4)


def test_sononet_student_fits_the_budget_and_exports(sononet: torch.nn.Module, frames: np.ndarray,
                                                     tmp_path: Path) -> None:
    s = from_sononet(sononet, frames_for_selection(frames, n=len(frames)))
    assert count_params(s) <= 1_000_000
    assert count_macs(s, INPUT_HW) <= 100_000_000
    path = export_onnx(s, (1, 1, *INPUT_HW), tmp_path / "s.onnx")
    x = frames_for_selection(frames, n=1).numpy()
    with torch.no_grad():
        ref = s(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_checkpoint_round_trip_through_build_student(sononet: torch.nn.Module, frames: np.ndarray) -> None:
    s = from_sononet(sononet, frames_for_selection(frames, n=len(frames)))
    again = build_student(arch="sononet-s")
    again.load_state_dict(s.state_dict())
    x = frames_for_selection(frames, n=2)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), s(x))
    with pytest.raises(ConfigError, match="width_mult"):
        build_student(0.5, arch="sononet-s")
    with pytest.raises(ConfigError, match="unknown student arch"):
        build_student(arch="resnet")


def test_recipe_names_and_start(data_dir: Path, frames: np.ndarray) -> None:
    cfg = DistillConfig(arch="sononet-s", lr=1e-3)
    with pytest.raises(ValueError, match="sononet_npz"):
        new_student(cfg, frames)
    s = new_student(cfg, frames, data_dir / "peers" / "sononet" / "SonoNet16.npz")
    assert isinstance(s, SonoStudent)
