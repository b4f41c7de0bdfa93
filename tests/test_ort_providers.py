"""onnxruntime's TensorRT and CUDA execution providers get their options (issue #26 finding 7): engine and timing
caches on disk (else every exam start rebuilds the TensorRT engine), INT8 for the QDQ graph, FP16 allowed.
Option names from the onnxruntime TensorRT / CUDA execution provider docs. The GPU providers do not run here,
so the wiring test records what the session is given; the CPU session is real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.backends.onnxruntime_backend import OnnxRuntimeBackend, provider_options
from edge.config import parse_config
from edge.manifest import load_manifest
from edge.models import shipped_model_dir
from edge.pipeline.app import backend_options

INT8 = load_manifest(shipped_model_dir("head-seg"))
FP32 = INT8.variant("fp32")


def test_tensorrt_provider_caches_engines_and_knows_the_precision(tmp_path: Path) -> None:
    (trt, t_opts), (cuda, c_opts), (cpu, _) = provider_options("tensorrt", INT8, tmp_path)
    assert (trt, cuda, cpu) == ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    assert t_opts["trt_engine_cache_enable"] and t_opts["trt_timing_cache_enable"]
    assert t_opts["trt_engine_cache_path"] == str(tmp_path / "head-seg")
    assert t_opts["trt_int8_enable"] is True and t_opts["trt_fp16_enable"] is True
    assert provider_options("tensorrt", FP32, tmp_path)[0][1]["trt_int8_enable"] is False
    assert c_opts["cudnn_conv_algo_search"] == "DEFAULT" and c_opts["arena_extend_strategy"] == "kSameAsRequested"
    assert provider_options("cpu", INT8) == [("CPUExecutionProvider", {})]


def test_gpu_provider_cache_lives_under_engines_cache_dir() -> None:
    cfg = parse_config({"backend": {"name": "onnxruntime", "device": "tensorrt"},
                        "engines": {"cache_dir": "/data/engines"}})
    assert backend_options(cfg)["cache_dir"] == "/data/engines/onnxruntime"
    assert "cache_dir" not in backend_options(parse_config({}))


def test_session_is_given_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    seen = {}
    real = ort.InferenceSession

    def recording(path, sess_options=None, providers=None, provider_options=None):
        seen.update(providers=providers, provider_options=provider_options)
        return real(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", recording)
    backend = OnnxRuntimeBackend(INT8, threads=1, device="tensorrt", cache_dir=str(tmp_path))
    assert seen["providers"][0] == "TensorrtExecutionProvider"
    assert seen["provider_options"][0]["trt_engine_cache_path"] == str(tmp_path / "head-seg")
    assert (tmp_path / "head-seg").is_dir()
    out = backend.run(np.zeros(INT8.input_shape, np.float32))
    assert out["logits"].shape == (1, 1, 160, 240)
