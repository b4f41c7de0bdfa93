"""Engine cache: key, sidecar, stale/foreign detection and rebuilds, with the TensorRT build step replaced
by a function that returns bytes (the TensorRT call itself is tested on a Jetson only, see the skip below)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import onnx
import pytest
import yaml
from onnx import TensorProto, helper

from edge.engines.cache import EngineKey, check_engine, sidecar_path
from edge.engines.device import DeviceInfo
from edge.engines.manager import ensure_engines
from edge.engines.plan import BuildSpec, engine_for
from edge.errors import BackendError, ModelError
from edge.manifest import MANIFEST_FORMAT, file_entry, load_manifest
from edge.settings.engines import EnginesSettings

REPO = Path(__file__).resolve().parent.parent
NANO = DeviceInfo("NVIDIA Tegra X1", (5, 3), "8.2.1")
ORIN = DeviceInfo("Orin", (8, 7), "8.6.2", dla_cores=2)


def onnx_file(path: Path, op: str) -> None:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, 4, 4])
    g = helper.make_graph([helper.make_node(op, ["input"], ["logits"])], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def make_bundle(root: Path, name: str, with_fp32: bool = True) -> Path:
    d = root / name
    d.mkdir(parents=True)
    onnx_file(d / "model.onnx", "Relu")
    variants = {"int8": "model.onnx"}
    if with_fp32:
        onnx_file(d / "model_fp32.onnx", "Sigmoid")
        variants["fp32"] = "model_fp32.onnx"
    files = {p.name: file_entry(p) for p in d.iterdir()}
    manifest = {"format": MANIFEST_FORMAT, "name": name, "version": "1.0.0", "task": "planes",
                "model_file": "model.onnx", "files": files, "precision": "int8", "variants": variants,
                "input": {"name": "input", "shape": [1, 1, 4, 4]}, "output": {"name": "logits", "kind": "class_logits"},
                "preprocessing": {"size": [4, 4], "normalise": {"mode": "per_image"}}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


class CountingBuilder:
    def __init__(self) -> None:
        self.specs: list[BuildSpec] = []

    def __call__(self, spec: BuildSpec) -> bytes:
        self.specs.append(spec)
        return f"engine:{spec.onnx_path.name}:{spec.precision}".encode()


@pytest.fixture
def setup(tmp_path: Path):
    models = tmp_path / "models"
    make_bundle(models, "plane-cls")
    make_bundle(models, "head-seg")
    settings = EnginesSettings(cache_dir=str(tmp_path / "cache"), models_dir=str(models))
    return settings, models


def test_key_changes_with_every_field() -> None:
    k = EngineKey("a" * 64, "8.6.2", "Orin", "8.7", "int8")
    digests = {k.digest()} | {replace(k, **{f: v}).digest() for f, v in
                              [("model_sha256", "b" * 64), ("trt_version", "10.3.0"), ("gpu_name", "Xavier"),
                               ("compute_capability", "7.2"), ("precision", "fp16"), ("dla_core", 0)]}
    assert len(digests) == 7
    assert k.file_name("head-seg").startswith("head-seg-int8-") and replace(k, dla_core=1).file_name("x").startswith("x-int8-dla1-")


def test_build_once_then_cached(setup) -> None:
    settings, models = setup
    build = CountingBuilder()
    first = ensure_engines(settings, ORIN, build, models)
    assert [s.action for s in first] == ["built", "built"] and len(build.specs) == 2
    assert {s.precision for s in first} == {"int8"}
    assert all(spec.onnx_path.name == "model.onnx" for spec in build.specs)  # INT8 from the QDQ graph
    second = ensure_engines(settings, ORIN, build, models)
    assert [s.action for s in second] == ["cached", "cached"] and len(build.specs) == 2


def test_nano_builds_fp16_from_the_float_graph(setup) -> None:
    settings, models = setup
    build = CountingBuilder()
    statuses = ensure_engines(settings, NANO, build, models)
    assert {s.precision for s in statuses} == {"fp16"}
    assert all(spec.onnx_path.name == "model_fp32.onnx" for spec in build.specs)


def test_other_trt_version_or_gpu_means_rebuild_and_old_engine_removed(setup) -> None:
    settings, models = setup
    build = CountingBuilder()
    (old,) = [s.engine for s in ensure_engines(settings, ORIN, build, models) if s.model == "plane-cls"]
    upgraded = replace(ORIN, trt_version="10.3.0")
    statuses = {s.model: s for s in ensure_engines(settings, upgraded, build, models)}
    assert statuses["plane-cls"].action == "built" and statuses["plane-cls"].engine != old
    assert not old.exists() and not sidecar_path(old).exists()


@pytest.mark.parametrize("damage, reason", [
    ("sidecar", "no sidecar metadata"),
    ("engine", "does not match its recorded sha256"),
    ("key", "stale engine: trt_version '8.5.2' != '8.6.2'"),
    ("format", "foreign engine"),
])
def test_damaged_or_foreign_engine_is_rebuilt_not_loaded(setup, damage: str, reason: str) -> None:
    settings, models = setup
    build = CountingBuilder()
    ensure_engines(settings, ORIN, build, models)
    spec = engine_for(load_manifest(models / "head-seg"), settings, ORIN)
    side = sidecar_path(spec.engine_path)
    meta = json.loads(side.read_text())
    if damage == "sidecar":
        side.unlink()
    elif damage == "engine":
        spec.engine_path.write_bytes(b"engine from somewhere else")
    elif damage == "key":
        meta["key"]["trt_version"] = "8.5.2"
        side.write_text(json.dumps(meta))
    else:
        side.write_text(json.dumps({"something": "else"}))
    assert reason in check_engine(spec.engine_path, spec.key)
    statuses = {s.model: s for s in ensure_engines(settings, ORIN, build, models)}
    assert statuses["head-seg"].action == "rebuilt" and reason in statuses["head-seg"].reason
    assert statuses["plane-cls"].action == "cached"
    assert check_engine(spec.engine_path, spec.key) is None


def test_changed_model_file_gives_a_new_key(setup, tmp_path: Path) -> None:
    settings, models = setup
    before = engine_for(load_manifest(models / "plane-cls"), settings, ORIN).key
    other = make_bundle(tmp_path / "v2", "plane-cls")
    onnx_file(other / "model.onnx", "Tanh")
    m = json.loads((other / "manifest.json").read_text())
    m["files"]["model.onnx"] = file_entry(other / "model.onnx")
    (other / "manifest.json").write_text(json.dumps(m))
    assert engine_for(load_manifest(other), settings, ORIN).key.model_sha256 != before.model_sha256


def test_bad_requests_are_refused_with_the_fix(setup, tmp_path: Path) -> None:
    settings, models = setup
    with pytest.raises(BackendError, match="DLA core"):
        engine_for(load_manifest(models / "head-seg"), replace(settings, dla_core=0), NANO)
    make_bundle(tmp_path / "old", "legacy", with_fp32=False)
    with pytest.raises(ModelError, match="needs the bundle's fp32 graph"):
        engine_for(load_manifest(tmp_path / "old" / "legacy"), settings, NANO)
    with pytest.raises(ModelError, match=r"names \['nope'\], not installed"):
        ensure_engines(replace(settings, models=("nope",)), ORIN, None, models)


def test_cli_dry_run_plans_without_tensorrt(setup, tmp_path: Path) -> None:
    settings, models = setup
    cfg = tmp_path / "device.yaml"
    cfg.write_text(yaml.safe_dump({"engines": {"cache_dir": settings.cache_dir, "models_dir": str(models)}}))
    proc = subprocess.run([sys.executable, "-m", "edge", "build-engines", "--config", str(cfg), "--dry-run",
                           "--assume-device", "NVIDIA Tegra X1,5.3,8.2.1", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [(e["model"], e["precision"], e["action"]) for e in out["engines"]] == \
        [("head-seg", "fp16", "planned"), ("plane-cls", "fp16", "planned")]
    assert not Path(settings.cache_dir).exists(), "a dry run writes nothing"
    proc = subprocess.run([sys.executable, "-m", "edge", "build-engines", "--config", str(cfg),
                           "--assume-device", "Orin,8.7,8.6.2"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "--assume-device needs --dry-run" in proc.stderr


@pytest.mark.tensorrt
def test_real_tensorrt_build(setup) -> None:
    pytest.importorskip("tensorrt", reason="TensorRT is only on a Jetson (JetPack); cannot be installed here")
    from edge.engines import trt_builder

    settings, models = setup
    statuses = ensure_engines(settings, trt_builder.probe_device(), trt_builder.build_engine, models)
    assert all(s.action in ("built", "cached") for s in statuses)


def test_tensorrt_backend_without_tensorrt_says_where_engines_come_from(setup) -> None:
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here; this checks the message on machines without it")
    from edge.backends import create_backend

    _, models = setup
    with pytest.raises(BackendError, match="TensorRT is not installed.*onnxruntime"):
        create_backend(load_manifest(models / "head-seg"), "tensorrt")
