"""SonoNet-16 written from the paper + the published weights: the mapping is proven on the 13 example frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from compress.nets.sononet import SONONET_CLASSES, load_sononet16
from compress.stages.export import export_onnx
from edge.planes.taxonomy import MODEL_CLASSES, SONONET_MAP, sononet_to_model_classes

EXAMPLE_NAMES = {"3VV": "3VV", "4CH": "4CH", "ABDOMINAL": "Abdominal", "BRAIN-CB": "Brain (Cb.)",
                 "BRAIN-TV": "Brain (Tv.)", "FEMUR": "Femur", "KIDNEYS": "Kidneys", "LIPS": "Lips",
                 "LVOT": "LVOT", "PROFILE": "Profile", "RVOT": "RVOT", "SPINE-CORONAL": "Spine (cor.)",
                 "SPINE-SAGITTAL": "Spine (sag.)"}


@pytest.fixture(scope="module")
def sononet_dir(data_dir: Path) -> Path:
    return data_dir / "peers" / "sononet"


@pytest.fixture(scope="module")
def sononet(sononet_dir: Path) -> torch.nn.Module:
    torch.set_num_threads(1)
    return load_sononet16(sononet_dir / "SonoNet16.npz")


def _example_input(path: Path) -> np.ndarray:
    """The published preprocessing of the example frames: their scanner crop, 224x288, std * 255."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR).astype(np.float32).mean(axis=2)[115:734, 81:874]
    x = cv2.resize(img, (288, 224), interpolation=cv2.INTER_LINEAR)
    return ((x - x.mean()) / x.std() * 255.0)[None, None].astype(np.float32)


def test_sononet16_classifies_the_published_examples(sononet: torch.nn.Module, sononet_dir: Path) -> None:
    files = sorted((sononet_dir / "examples").glob("*.png"))
    assert len(files) == 13
    x = torch.from_numpy(np.concatenate([_example_input(f) for f in files]))
    with torch.no_grad():
        pred = sononet(x).argmax(1).tolist()
    right = sum(SONONET_CLASSES[p] == EXAMPLE_NAMES[f.stem] for p, f in zip(pred, files))
    assert right >= 12, f"only {right}/13 examples right: the parameter mapping is wrong"


def test_sononet16_parameter_count(sononet: torch.nn.Module) -> None:
    assert sum(p.numel() for p in sononet.parameters()) == 930_796


def test_sononet16_onnx_matches_pytorch(sononet: torch.nn.Module, sononet_dir: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    path = export_onnx(sononet, (1, 1, 224, 288), tmp_path / "sononet16.onnx")
    x = _example_input(sononet_dir / "examples" / "FEMUR.png")
    with torch.no_grad():
        ref = sononet(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(out, ref, atol=1e-3, rtol=1e-4)


def test_every_sononet_class_is_mapped_and_mass_is_kept() -> None:
    assert set(SONONET_MAP) == set(SONONET_CLASSES)
    p = np.random.default_rng(0).dirichlet(np.ones(14), size=5)
    q = sononet_to_model_classes(p, SONONET_CLASSES)
    assert q.shape == (5, len(MODEL_CLASSES))
    np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-9)
    femur = np.eye(14)[SONONET_CLASSES.index("Femur")]
    assert MODEL_CLASSES[int(sononet_to_model_classes(femur, SONONET_CLASSES).argmax())] == "Fetal femur"


def test_cached_maps_are_the_last_block_pooled_to_the_student_grid(sononet: torch.nn.Module) -> None:
    """The spatial-hint target: SonoNet's last block (14x18 at 224x288) average-pooled 2x2 to the student's
    stride-16 grid, from the same forward pass as the pooled features."""
    from compress.planes.features import FEATURE_DIM, MAP_CHANNELS, MAP_HW, sononet_features, sononet_forward

    views = np.random.default_rng(0).integers(0, 255, (2, 224, 288), dtype=np.uint8)
    feats, maps = sononet_forward(sononet, views)
    assert feats.shape == (2, FEATURE_DIM) and maps.shape == (2, MAP_CHANNELS, *MAP_HW)
    np.testing.assert_array_equal(feats, sononet_features(sononet, views))
    # the map's mean is the pooled mean feature (first 128 features), up to float16 rounding
    np.testing.assert_allclose(maps.astype(np.float32).mean(axis=(2, 3)), feats[:, :MAP_CHANNELS], rtol=2e-3, atol=2e-3)
