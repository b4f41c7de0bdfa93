"""Helpers every stage shares: the stage context, checkpoints, predict functions, profiling."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from compress.pipeline.config import PipelineConfig
from compress.pipeline.workdir import WorkDir
from compress.tasks.base import PredictFn, TaskAdapter
from edge.errors import ModelError


@dataclass
class StageContext:
    cfg: PipelineConfig
    task: TaskAdapter
    work: WorkDir
    data_dir: Path
    progress: bool = True  # a tqdm bar per stage

    def bar(self, total: int, desc: str) -> tqdm:
        return tqdm(total=total, desc=f"{desc:<9}", disable=not self.progress, leave=True, dynamic_ncols=True)


def load_state_into(model: nn.Module, path: Path, what: str, input_hw: tuple[int, ...] | None = None) -> nn.Module:
    """Load a checkpoint (a state_dict, or a dict holding one under 'model'/'state_dict') with a clear error.
    `input_hw` given and the checkpoint naming the input size it was trained at ('spec': {'size': [h, w]}):
    refuse a mismatch, which a fully convolutional net would otherwise run without complaint."""
    if not Path(path).is_file():
        raise ModelError(f"{what} checkpoint {path} not found; train it first or fix the path in the config")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise ModelError(f"{what} checkpoint {path} cannot be read ({exc}); give a torch state_dict file") from None
    spec = state.get("spec") if isinstance(state, dict) else None
    trained = spec.get("size") if isinstance(spec, dict) else None
    if input_hw is not None and trained is not None and tuple(trained) != tuple(input_hw):
        raise ModelError(f"{what} checkpoint {path} was trained at input {trained[0]}x{trained[1]}, the task runs at "
                         f"{input_hw[0]}x{input_hw[1]}; set task_options.input_size to [{trained[0]}, {trained[1]}]")
    for key in ("model", "state_dict", "model_state"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise ModelError(f"{what} checkpoint {path} does not match the {what} architecture "
                         f"({type(model).__name__}): {' '.join(first)}; give the checkpoint this architecture "
                         f"was trained to, or fix the width/architecture settings") from None
    return model


def save_module(model: nn.Module, path: Path) -> None:
    """Whole module (pruned models have a changed structure, so a state_dict alone is not enough)."""
    tmp = path.with_suffix(".tmp")
    torch.save(model, tmp)
    tmp.replace(path)


def load_module(path: Path) -> nn.Module:
    model = torch.load(path, map_location="cpu", weights_only=False)  # our own work-dir artifact
    return model.eval()


def torch_predict(model: nn.Module) -> PredictFn:
    model.eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()

    return predict


def ort_session(path: Path, threads: int = 2) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def ort_predict(path: Path, threads: int = 2) -> PredictFn:
    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name

    def predict(x: np.ndarray) -> np.ndarray:
        # static batch-1 graphs: run frame by frame
        return np.concatenate([sess.run(None, {name: x[i:i + 1].astype(np.float32)})[0] for i in range(len(x))])

    return predict


def params_and_macs(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    import torch_pruning as tp

    model.eval()
    with torch.no_grad():
        macs, params = tp.utils.count_ops_and_params(model, torch.zeros(input_shape))
    return int(params), int(macs)


def onnx_latency_ms(path: Path, input_shape: tuple[int, ...], runs: int = 50, threads: int = 2) -> dict[str, float]:
    """Median and p95 of batch-1 onnxruntime runs (after warm-up) on this CPU."""
    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    for _ in range(5):
        sess.run(None, {name: x})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - t0) * 1000.0)
    return {"latency_median_ms": round(statistics.median(times), 3),
            "latency_p95_ms": round(float(np.percentile(times, 95)), 3)}
