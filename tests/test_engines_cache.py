"""Engine cache: key, sidecar, stale/foreign detection, rebuilds and the INT8 -> FP16 fallback, with the TensorRT
build step replaced by a function that returns bytes or raises as TensorRT would (the TensorRT calls themselves
run on a Jetson only, see the skip below; tests/test_trt_calls.py drives them through a stand-in module)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from edge.engines.cache import EngineKey, check_engine, failure_path, sidecar_path
from edge.engines.device import DeviceInfo
from edge.engines.manager import ensure_engines
from edge.engines.plan import BuildSpec, engine_for, engine_plan, timing_cache_path
from edge.errors import BackendError, ModelError
from edge.manifest import file_entry, load_manifest
from edge.settings.engines import EnginesSettings
from tests.engine_fixtures import make_bundle, onnx_file

REPO = Path(__file__).resolve().parent.parent
NANO = DeviceInfo("NVIDIA Tegra X1", (5, 3), "8.2.1")  # FP16-only GPU (the logic is kept for such GPUs)
ORIN = DeviceInfo("Orin", (8, 7), "8.6.2", dla_cores=2, sm_count=8, board="NVIDIA Jetson Orin Nano Developer Kit",
                  l4t="36.3.0", cuda="12.2")


class CountingBuilder:
    """Returns engine bytes; `refuse` = {(model, precision): reason} builds raise BackendError as
    trt_builder.build_engine does when TensorRT refuses the graph."""

    def __init__(self, refuse: dict | None = None) -> None:
        self.specs: list[BuildSpec] = []
        self.refuse = refuse or {}

    def __call__(self, spec: BuildSpec) -> bytes:
        self.specs.append(spec)
        reason = self.refuse.get((spec.model_name, spec.precision))
        if reason:
            raise BackendError(reason)
        return f"engine:{spec.onnx_path.name}:{spec.precision}".encode()


@pytest.fixture
def setup(tmp_path: Path):
    models = tmp_path / "models"
    make_bundle(models, "plane-cls")
    make_bundle(models, "head-seg")
    settings = EnginesSettings(cache_dir=str(tmp_path / "cache"), models_dir=str(models))
    return settings, models


def test_key_changes_with_every_field() -> None:
    """Issue #26 finding 6: builder settings, L4T/CUDA release, SM count and board are part of the key."""
    k = EngineKey("a" * 64, "8.6.2", "Orin", "8.7", "int8")
    changes = [("model_sha256", "b" * 64), ("trt_version", "10.3.0"), ("gpu_name", "Xavier"),
               ("compute_capability", "7.2"), ("precision", "fp16"), ("dla_core", 0), ("sm_count", 16),
               ("board", "NVIDIA Jetson AGX Orin Developer Kit"), ("l4t", "36.4.3"), ("cuda", "12.6"),
               ("workspace_bytes", 256 << 20), ("optimization_level", 5), ("gpu_fallback", False)]
    digests = {k.digest()} | {replace(k, **{f: v}).digest() for f, v in changes}
    assert len(digests) == len(changes) + 1
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
                           "--assume-device", "Xavier,7.2,8.5.2", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [(e["model"], e["precision"], e["action"]) for e in out["engines"]] == \
        [("head-seg", "int8", "planned"), ("plane-cls", "int8", "planned")]
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


def test_int8_failure_falls_back_to_fp16_and_other_models_still_build(setup, caplog) -> None:
    """Issue #26 finding 1: an INT8 build TensorRT refuses (head-seg 1.3.0's per-axis activation Q/DQ) must not
    stop the other models, and must leave the model an FP16 engine from the float graph, reason logged."""
    settings, models = setup
    build = CountingBuilder({("head-seg", "int8"): "TensorRT 8.6.2 cannot parse model.onnx: Q/DQ per-channel "
                                                   "activation"})
    statuses = {s.model: s for s in ensure_engines(settings, ORIN, build, models)}
    head, plane = statuses["head-seg"], statuses["plane-cls"]
    assert (plane.action, plane.precision) == ("built", "int8")
    assert (head.action, head.precision, head.fallback_from) == ("built", "fp16", "int8")
    assert "per-channel activation" in head.reason and "per-channel activation" in caplog.text
    assert [s.onnx_path.name for s in build.specs if s.model_name == "head-seg"] == ["model.onnx", "model_fp32.onnx"]
    int8 = engine_plan(load_manifest(models / "head-seg"), settings, ORIN)[0]
    assert failure_path(int8.engine_path).is_file()
    # next start: the failed INT8 build is not retried for the same key, the FP16 engine is reused
    again = {s.model: s for s in ensure_engines(settings, ORIN, build, models)}
    assert (again["head-seg"].action, again["head-seg"].precision) == ("cached", "fp16")
    assert "failed earlier" in again["head-seg"].reason and len(build.specs) == 3
    # a new TensorRT is a new key: INT8 is tried again, and its success removes the fallback engine
    newer = {s.model: s for s in ensure_engines(settings, replace(ORIN, trt_version="10.3.0"), CountingBuilder(),
                                                 models)}
    assert (newer["head-seg"].action, newer["head-seg"].precision) == ("built", "int8")
    assert sorted(p.name.split("-")[2] for p in (models.parent / "cache").glob("head-seg-*.engine")) == ["int8"]


def test_a_model_without_any_engine_is_reported_and_the_others_build(setup, tmp_path: Path) -> None:
    settings, models = setup
    (models / "head-seg" / "model_fp32.onnx").write_bytes(b"damaged")  # bundle fails its sha256 check
    statuses = {s.model: s for s in ensure_engines(settings, ORIN, CountingBuilder(), models)}
    assert statuses["head-seg"].action == "failed" and "model_fp32.onnx" in statuses["head-seg"].reason
    assert statuses["plane-cls"].action == "built"
    both = CountingBuilder({("plane-cls", "int8"): "no", ("plane-cls", "fp16"): "also no"})
    failed = {s.model: s for s in ensure_engines(replace(settings, cache_dir=str(tmp_path / "c2")), ORIN, both,
                                                  models)}["plane-cls"]
    assert failed.action == "failed" and not failed.ok and "no" in failed.reason and "also no" in failed.reason


@pytest.mark.parametrize("other", [
    replace(ORIN, board="NVIDIA Jetson AGX Orin Developer Kit", sm_count=16),  # same GPU name and SM 8.7
    replace(ORIN, board="NVIDIA Jetson Orin NX Engineering Reference Developer Kit"),  # Orin NX 16GB: 8 SMs too
    replace(ORIN, l4t="36.4.3", cuda="12.6"),
])
def test_engine_from_another_orin_or_jetpack_is_stale(setup, other: DeviceInfo) -> None:
    """Issue #26 finding 6: every Orin reports the same name and compute capability, so an engine copied from an
    AGX Orin passed as valid on an Orin Nano; the board, SM count and L4T/CUDA release now tell them apart."""
    settings, models = setup
    ensure_engines(settings, other, CountingBuilder(), models)
    spec = engine_for(load_manifest(models / "head-seg"), settings, ORIN)
    copied = engine_for(load_manifest(models / "head-seg"), settings, other).engine_path
    spec.engine_path.write_bytes(copied.read_bytes())
    sidecar_path(spec.engine_path).write_text(sidecar_path(copied).read_text())
    assert check_engine(spec.engine_path, spec.key).startswith("stale engine")


def test_builder_settings_are_in_the_key(setup) -> None:
    settings, models = setup
    m = load_manifest(models / "head-seg")
    base = engine_for(m, settings, ORIN).key
    for change in ({"workspace_mb": 256}, {"builder_optimization_level": 5}, {"dla_core": 0},
                   {"dla_core": 0, "gpu_fallback": False}):
        assert engine_for(m, replace(settings, **change), ORIN).key != base, change


def test_timing_cache_is_per_tensorrt_version_and_gpu() -> None:
    """ITimingCache docs: a cache combines only with one "generated by a TensorRT build of exact same version"."""
    a = timing_cache_path("/var/lib/fetal-edge/engines/timing.cache", ORIN)
    assert a.parent == Path("/var/lib/fetal-edge/engines") and "trt8.6.2" in a.name and a.suffix == ".cache"
    assert timing_cache_path("/x/timing.cache", replace(ORIN, trt_version="10.3.0")).name != a.name
    assert timing_cache_path("/x/timing.cache", replace(ORIN, board="AGX")).name != a.name
    assert timing_cache_path(None, ORIN) is None


def test_build_engines_on_an_onnxruntime_config_builds_nothing_and_succeeds() -> None:
    """The container runs build-engines at every start, whatever the config: a CPU config is not an error."""
    proc = subprocess.run([sys.executable, "-m", "edge", "build-engines", "--config",
                           str(REPO / "firmware_configs" / "cpu-laptop.yaml")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "not tensorrt: no engines to build" in proc.stdout
