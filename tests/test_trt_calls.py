"""How edge/ calls TensorRT and pycuda, driven through tests/trt_standin.py.

A stand-in, because the real TensorRT cannot run here (no Jetson, no NVIDIA GPU): these tests check our side of
the documented API (return values checked, the right object asked), not TensorRT itself. Issue #26 findings 4
(trt.nptype), 5 (enqueue result, DLA probe, graph sha) and 6 (set_timing_cache result).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.engines.cache import NoEngineError, check_engine, sidecar_path
from edge.engines.manager import ensure_engines
from edge.engines.plan import engine_plan
from edge.errors import BackendError
from edge.manifest import load_manifest, sha256_of
from edge.settings.engines import EnginesSettings
from tests import trt_standin
from tests.engine_fixtures import make_bundle


@pytest.fixture
def trt(monkeypatch: pytest.MonkeyPatch):
    return trt_standin.install(monkeypatch)


@pytest.fixture
def bundles(tmp_path: Path):
    models = tmp_path / "models"
    make_bundle(models, "head-seg")
    make_bundle(models, "plane-cls")
    settings = EnginesSettings(cache_dir=str(tmp_path / "engines"), models_dir=str(models),
                               timing_cache=str(tmp_path / "engines" / "timing.cache"))
    return settings, models


def test_probe_counts_dla_cores_without_a_builder(trt) -> None:
    """Finding 5: probe_device() built a trt.Builder per model in the exam process just to count DLA cores;
    trt.Runtime(logger).num_DLA_cores (IRuntime::getNbDLACores) answers without one."""
    from edge.engines.trt_builder import probe_device

    info = probe_device()
    assert trt.builders == 0
    assert (info.dla_cores, info.sm_count, info.cuda, info.compute_capability) == (2, 8, "12.2", (8, 7))


def build_all(settings: EnginesSettings, models: Path, refuse_int8: bool = False):
    from edge.engines import trt_builder

    def build(spec):
        if refuse_int8 and spec.precision == "int8":
            raise BackendError("TensorRT 8.6.2 cannot parse model.onnx: per-channel activation scales")
        return trt_builder.build_engine(spec)

    return ensure_engines(settings, trt_builder.probe_device(), build, models)


def test_engine_built_then_run_and_a_failed_enqueue_raises(trt, bundles) -> None:
    """Finding 5: the result of execute_async_v3 was ignored, so a failed enqueue returned the previous frame's
    outputs. It returns bool (TensorRT Python API, IExecutionContext); False is now a BackendError."""
    from edge.backends.tensorrt_backend import TensorRTBackend

    settings, models = bundles
    assert {s.action for s in build_all(settings, models)} == {"built"}
    assert trt.flags.count("INT8") == 2 and trt.pool_limit == 512 << 20
    backend = TensorRTBackend(load_manifest(models / "head-seg"), settings)
    x = np.full((1, 1, 4, 4), 1.5, np.float32)
    assert np.allclose(backend.run(x)["logits"], 3.0)
    trt.enqueue_ok = False
    with pytest.raises(BackendError, match="could not enqueue head-seg"):
        backend.run(np.zeros((1, 1, 4, 4), np.float32))


def test_tensor_types_do_not_use_trt_nptype(trt, bundles) -> None:
    """Finding 4: trt.nptype on TensorRT 8.2/8.5 names np.bool, gone from numpy 1.24 to 1.26 (NVIDIA/TensorRT#2557),
    so every call raises there; the backend maps TensorRT types itself. The stand-in's nptype raises like it."""
    from edge.backends.tensorrt_backend import TensorRTBackend, numpy_dtype

    with pytest.raises(AttributeError):
        trt_standin.nptype(trt_standin.DataType.FLOAT)
    settings, models = bundles
    build_all(settings, models)
    backend = TensorRTBackend(load_manifest(models / "plane-cls"), settings)
    assert backend.buffers["input"][0].dtype == np.float32
    assert numpy_dtype(trt_standin, trt_standin.DataType.BOOL) is np.bool_
    assert numpy_dtype(trt_standin, trt_standin.DataType.HALF) is np.float16


def test_fp16_fallback_results_name_the_float_graph(trt, bundles) -> None:
    """Finding 5: results carried model.onnx's sha256 even when the engine was built from model_fp32.onnx."""
    from edge.models import load_model

    settings, models = bundles
    statuses = {s.model: s for s in build_all(settings, models, refuse_int8=True)}
    assert statuses["head-seg"].precision == "fp16" and statuses["head-seg"].fallback_from == "int8"
    loaded = load_model(models / "head-seg", "tensorrt", engines=settings)
    assert loaded.backend.describe() == "tensorrt (fp16)"
    assert loaded.manifest.model_file == "model_fp32.onnx"
    assert loaded.manifest.ref.sha256 == sha256_of(models / "head-seg" / "model_fp32.onnx")


def test_no_engine_at_all_runs_the_model_on_onnxruntime(trt, bundles, caplog) -> None:
    """`run` starts with whatever was built: a model with no valid engine runs on onnxruntime (float graph)."""
    from edge.backends.tensorrt_backend import TensorRTBackend
    from edge.models import load_model

    settings, models = bundles
    with pytest.raises(NoEngineError, match="no valid TensorRT engine for plane-cls.*build-engines"):
        TensorRTBackend(load_manifest(models / "plane-cls"), settings)
    loaded = load_model(models / "plane-cls", "tensorrt", engines=settings)
    assert loaded.backend.name == "onnxruntime" and loaded.manifest.model_file == "model_fp32.onnx"
    assert "running plane-cls on onnxruntime" in caplog.text


def test_refused_timing_cache_is_replaced_not_ignored(trt, bundles, caplog) -> None:
    """Finding 6: set_timing_cache returns False for a cache TensorRT cannot use (IBuilderConfig); that was
    ignored. Now the build starts an empty cache, says so, and saves it under a per-version file name."""
    from edge.engines import trt_builder

    settings, models = bundles
    device = trt_builder.probe_device()
    spec = engine_plan(load_manifest(models / "head-seg"), settings, device)[0]
    spec.timing_cache.parent.mkdir(parents=True)
    spec.timing_cache.write_bytes(b"cache from another TensorRT")
    trt.timing_cache_ok = [False, True]
    assert trt_builder.build_engine(spec) == b"serialized engine"
    assert "refused the timing cache" in caplog.text and "trt8.6.2" in spec.timing_cache.name
    assert spec.timing_cache.read_bytes() == b"timing"
    trt.timing_cache_ok = [False]
    with pytest.raises(BackendError, match="remove engines.timing_cache"):
        trt_builder.build_engine(spec)


def test_parse_errors_and_binding_exceptions_become_backend_errors(trt, bundles, monkeypatch) -> None:
    """So that build-engines can fall back to FP16 instead of crashing on the first model."""
    from edge.engines import trt_builder

    settings, models = bundles
    spec = engine_plan(load_manifest(models / "head-seg"), settings, trt_builder.probe_device())[0]
    trt.parse_errors = ["In node 12 (QuantDequantLinearHelper): per-channel activation"]
    with pytest.raises(BackendError, match="cannot parse model.onnx: In node 12"):
        trt_builder.build_engine(spec)
    trt.parse_errors = []

    def boom(self, network, config):
        raise RuntimeError("boom")

    monkeypatch.setattr(trt_standin.Builder, "build_serialized_network", boom)
    with pytest.raises(BackendError, match="raised RuntimeError building model.onnx"):
        trt_builder.build_engine(spec)


def test_dla_engine_sets_the_runtime_core(trt, bundles) -> None:
    from edge.backends.tensorrt_backend import TensorRTBackend
    from edge.engines.trt_builder import probe_device

    settings, models = bundles
    dla = replace(settings, dla_core=1)
    build_all(dla, models)
    spec = engine_plan(load_manifest(models / "head-seg"), dla, probe_device())[0]
    assert check_engine(spec.engine_path, spec.key) is None and sidecar_path(spec.engine_path).is_file()
    TensorRTBackend(load_manifest(models / "head-seg"), dla)
    assert trt.runtime_dla_core == 1 and "GPU_FALLBACK" in trt.flags
