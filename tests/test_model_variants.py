"""Bundle variants on the shipped bundles with real onnxruntime: backend.precision picks the graph
(fp32 -> variants.fp32 = model_fp32.onnx, int8 -> the QDQ model.onnx), the variant is checksum-verified like
model.onnx, results name the graph that ran, and a missing or unlisted variant is a ModelError saying what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge.biometry.segment import HeadSegmenter
from edge.config import parse_config
from edge.errors import ModelError
from edge.manifest import load_manifest, sha256_of
from edge.models import load_model, shipped_model_dir
from edge.pipeline.analyzers import HeadStage, PlaneStage

SHIPPED = ("head-seg", "plane-cls")
FRAME = np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8)


def copy_bundle(tmp_path: Path, name: str = "head-seg") -> Path:
    return Path(shutil.copytree(shipped_model_dir(name), tmp_path / name))


def edit_manifest(bundle: Path, edit) -> None:
    path = bundle / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    edit(raw)
    path.write_text(json.dumps(raw), encoding="utf-8")


def drop_fp32(raw: dict) -> None:
    del raw["files"][raw["variants"].pop("fp32")]


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("precision, graph", [("fp32", "model_fp32.onnx"), ("int8", "model.onnx"), (None, "model.onnx")])
def test_precision_picks_the_graph_and_its_verified_checksum(name: str, precision: str | None, graph: str) -> None:
    model = load_model(name, precision=precision, threads=1)
    m = model.manifest
    assert m.model_file == graph and m.precision == (precision or "int8")
    assert m.ref.sha256 == m.files[graph]["sha256"] == sha256_of(shipped_model_dir(name) / graph)
    assert model.backend.manifest.model_path == shipped_model_dir(name) / graph


def test_fp32_precision_runs_the_float_graph() -> None:
    """The session behind precision fp32 answers exactly as model_fp32.onnx does, and not as the QDQ graph."""
    fp32 = load_model("head-seg", precision="fp32", threads=1)
    x = fp32.prepare(FRAME).tensor
    direct = {p: ort.InferenceSession(str(shipped_model_dir("head-seg") / p), providers=["CPUExecutionProvider"])
              for p in ("model_fp32.onnx", "model.onnx")}
    got = fp32.backend.run(x)["logits"]
    np.testing.assert_allclose(got, direct["model_fp32.onnx"].run(None, {"input": x})[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(got, direct["model.onnx"].run(None, {"input": x})[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("damage, message", [("flip_byte", "sha256"), ("truncate", "truncated"),
                                             ("delete", "missing")])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_altered_variant_file_is_refused(tmp_path: Path, damage: str, message: str, precision: str) -> None:
    """model_fp32.onnx is verified like model.onnx: altered, truncated or missing, no graph of the bundle loads."""
    bundle = copy_bundle(tmp_path)
    f = bundle / "model_fp32.onnx"
    data = f.read_bytes()
    if damage == "delete":
        f.unlink()
    else:
        f.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:] if damage == "flip_byte"
                      else data[: len(data) // 2])
    with pytest.raises(ModelError, match=f"model_fp32.onnx.*{message}.*reinstall"):
        load_model(bundle, precision=precision, threads=1)


def test_missing_variant_names_what_the_bundle_has_and_what_to_do(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    edit_manifest(bundle, drop_fp32)
    assert load_model(bundle, precision="int8", threads=1).manifest.model_file == "model.onnx"
    with pytest.raises(ModelError, match=r"no fp32 graph \(its variants: int8\); set backend.precision"):
        load_model(bundle, precision="fp32", threads=1)


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw["variants"].update(fp32="other.onnx"), r"variants.fp32 = 'other.onnx' is not listed under 'files'"),
    (lambda raw: raw["variants"].update(fp16="model.onnx", int4="model.onnx"), r"variants.int4 is not one of"),
    (lambda raw: raw["variants"].update(int8="model_fp32.onnx"), r"variants.int8 = 'model_fp32.onnx' contradicts"),
    (lambda raw: raw.update(variants=["model_fp32.onnx"]), r"variants must map precision -> file"),
])
def test_inconsistent_variants_are_refused(tmp_path: Path, edit, message: str) -> None:
    bundle = copy_bundle(tmp_path)
    edit_manifest(bundle, edit)
    with pytest.raises(ModelError, match=message):
        load_manifest(bundle)


def test_head_segmenter_takes_the_backend_options() -> None:
    seg = HeadSegmenter("head-seg", backend="onnxruntime", threads=1, precision="fp32", device="cpu")
    assert seg.model.manifest.model_file == "model_fp32.onnx"
    assert seg.ref.sha256 == load_manifest(shipped_model_dir("head-seg")).files["model_fp32.onnx"]["sha256"]
    assert seg(FRAME).prob.shape == FRAME.shape


@pytest.mark.parametrize("backend, graph", [({}, "model_fp32.onnx"), ({"precision": "fp32"}, "model_fp32.onnx"),
                                            ({"precision": "int8"}, "model.onnx")])
def test_pipeline_loads_the_configured_variant_through_head_segmenter(backend: dict, graph: str) -> None:
    """The default onnxruntime precision is fp32 (the faster graph on CPU); the head stage is a HeadSegmenter."""
    cfg = parse_config({"backend": {**backend, "threads": 1, "warmup": 0}})
    planes, head = PlaneStage(cfg.section("pipeline"), cfg.section("backend")), \
        HeadStage(cfg.section("pipeline"), cfg.section("backend"))
    assert type(head.segmenter) is HeadSegmenter
    for stage, name in ((planes, "plane-cls"), (head, "head-seg")):
        assert stage.ref.sha256 == load_manifest(shipped_model_dir(name)).files[graph]["sha256"]


def test_pipeline_refuses_a_bundle_without_the_configured_variant(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    edit_manifest(bundle, drop_fp32)
    cfg = parse_config({"pipeline": {"head_model": str(bundle)}, "backend": {"precision": "fp32", "warmup": 0}})
    with pytest.raises(ModelError, match="no fp32 graph.*set backend.precision to one of those"):
        HeadStage(cfg.section("pipeline"), cfg.section("backend"))
