"""Biometry (head segmentation) adapter: the HC18 reader, segmentation nets and evaluation of the biometry
engineer's modules (compress.data.hc18, compress.biometry, compress.nets.segnet), behind TaskAdapter.

The gated metric is HC mean absolute error in mm on the validation subjects, measured with the device's own
measurement code (compress.biometry.evaluate), so what is gated is what ships.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from compress.tasks import TASKS
from compress.tasks.base import Calibration, PredictFn, TaskAdapter, TaskInfo
from edge.errors import ConfigError

OPTIONS = {"teacher_base": 12, "cache_dir": "runs/biometry/cache", "eval_split": "val", "eval_limit": None,
           "teacher_pool": 2, "postprocessing_from": "edge/models/head-seg/manifest.json", "student_arch": "ds-seg",
           "input_size": [160, 240]}   # must be the size the student checkpoint was trained at


class BiometryTask(TaskAdapter):
    def __init__(self, data_dir: Path, options: dict[str, Any]) -> None:
        from compress.biometry.dataset import Augment, HC18SegDataset, preprocessing
        from edge.manifest import parse_preprocessing
        from compress.paths import REPO_ROOT

        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"task_options {unknown} are not understood by task 'biometry'; valid: {sorted(OPTIONS)}")
        self.opts = {**OPTIONS, **options}
        if self.opts["eval_split"] not in ("val", "test"):
            raise ConfigError(f"task_options.eval_split {self.opts['eval_split']!r}: valid 'val' or 'test'")
        self.root = data_dir / "hc18"
        if not (self.root / "images").is_dir():
            raise ConfigError(f"{self.root}/images not found; point data_dir at the shared data folder (holds hc18/)")
        size = self.opts["input_size"]
        try:
            contract = preprocessing(tuple(size))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"task_options.input_size {size!r}: {exc}") from None
        self.spec = parse_preprocessing(contract)
        self.pool: tuple[torch.Tensor, torch.Tensor] | None = None  # (x, [mask, teacher logits]) when cached
        self.postprocessing = self._postprocessing(REPO_ROOT)
        cache = Path(self.opts["cache_dir"])
        cache = cache if cache.is_absolute() else REPO_ROOT / cache
        self.train_ds = HC18SegDataset(self.root, "train", cache, self.spec, augment=Augment())
        self.calib_ds = HC18SegDataset(self.root, "train", cache, self.spec)
        self.info = TaskInfo("biometry", "head-seg", "hc_mae_mm", False, (1, 1, self.spec.height, self.spec.width),
                             "segmentation_logits", ("head",), contract,
                             f"HC18 training subjects ({len(self.train_ds)} images)",
                             f"compress.data.hc18 subject hash split; stages gated on '{self.opts['eval_split']}' "
                             "subjects; final metrics on 'test' subjects", architecture=str(self.opts["student_arch"]))

    def build_teacher(self) -> torch.nn.Module:
        from compress.nets.segnet import build_teacher

        return build_teacher(int(self.opts["teacher_base"]))

    def _postprocessing(self, root: Path) -> dict[str, Any] | None:
        """The shipped head-seg's postprocessing block (logit_offset = its calibrated mask threshold): applied
        in every evaluation here and copied into the bundle, so that what is gated is what the runtime runs."""
        import json

        src = Path(self.opts["postprocessing_from"]) if self.opts["postprocessing_from"] else None
        if src is None:
            return None
        src = src if src.is_absolute() else root / src
        if not src.is_file():
            raise ConfigError(f"task_options.postprocessing_from: {src} does not exist; export the student first "
                              "(`fetal-compress export-biometry --out DIR`) and point this at DIR/manifest.json")
        post = json.loads(src.read_text(encoding="utf-8")).get("postprocessing")
        rel = src.relative_to(root) if src.is_relative_to(root) else src
        return {**post, "source": f"the student's export-biometry bundle ({rel})"} if isinstance(post, dict) else None

    def final_metrics(self, predict: PredictFn) -> dict[str, Any]:
        """The INT8 model on the held-out test subjects (never used by the gate or for training)."""
        if self.opts["eval_split"] == "test":
            return {}
        split, self.opts["eval_split"] = self.opts["eval_split"], "test"
        try:
            m = self.evaluate(predict)
        finally:
            self.opts["eval_split"] = split
        return {"eval_split": "test", **{k: v for k, v in m.items() if not k.startswith(("teacher.", "distill."))}}

    def manifest_extra(self, predict: PredictFn) -> dict[str, Any]:
        return {"postprocessing": self.postprocessing} if self.postprocessing else {}

    def load_teacher(self, model: torch.nn.Module, path: Any) -> torch.nn.Module:
        """Load the U-Net; with teacher_pool = K > 0, run it once over K augmented copies of every training
        image and distil from those cached logits (the teacher costs ~3x the student per step on this CPU)."""
        from compress.stages.common import load_state_into

        model = load_state_into(model, path, "teacher").eval()
        k = int(self.opts["teacher_pool"])
        if k > 0:
            self.train_ds.rng = np.random.default_rng(1234)
            items = [self.train_ds[i] for _ in range(k) for i in range(len(self.train_ds))]
            x = torch.stack([a for a, _ in items])
            with torch.no_grad():
                t = torch.cat([model(x[i:i + 16]) for i in range(0, len(x), 16)])
            self.pool = (x, torch.cat([torch.stack([m for _, m in items]), t], 1))
        return model

    def teacher_logits(self, teacher: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y[:, 1:2] if self.pool is not None else teacher(x)

    def build_student(self, width_mult: float) -> torch.nn.Module:
        from compress.nets.segnet import build_student

        try:
            return build_student(width_mult, arch=str(self.opts["student_arch"]))
        except ValueError as exc:
            raise ConfigError(f"task_options.student_arch / student.width_mult: {exc}") from None

    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of the cached pool (random flips applied to image, mask and teacher logits alike), or of
        freshly augmented images when the teacher runs online."""
        rng = np.random.default_rng(seed)
        if self.pool is not None:
            x_all, y_all = self.pool
            while True:
                idx = torch.from_numpy(rng.integers(0, len(x_all), batch_size))
                x, y = x_all[idx], y_all[idx]
                dims = [d for d, flip in ((2, rng.random() < 0.5), (3, rng.random() < 0.5)) if flip]
                yield (x.flip(dims), y.flip(dims)) if dims else (x, y)
        self.train_ds.rng = np.random.default_rng(seed + 1)
        while True:
            items = [self.train_ds[int(i)] for i in rng.integers(0, len(self.train_ds), batch_size)]
            yield torch.stack([x for x, _ in items]), torch.stack([m for _, m in items])

    def hard_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from compress.biometry.train import dice_bce

        return dice_bce(logits, y[:, :1])

    def evaluate(self, predict: PredictFn) -> dict[str, float]:
        from compress.biometry.evaluate import evaluate
        from edge.biometry.segment import logits_to_frame
        from edge.preprocess import preprocess

        offset = float((self.postprocessing or {}).get("logit_offset", 0.0))

        def frame_predict(frame: np.ndarray) -> np.ndarray:
            mi = preprocess(frame, self.spec)
            return logits_to_frame(predict(mi.tensor)[0, 0] + offset, mi.geometry)

        m = evaluate(frame_predict, self.opts["eval_split"], self.root, self.opts["eval_limit"])
        out = {k: float(v) for k, v in m.items() if isinstance(v, (int, float))}
        if "hc_mae_mm" not in out:
            out["hc_mae_mm"] = float("inf")  # no image measured: fails any gate
        return out

    def calibration(self, n_frames: int) -> Calibration:
        n = min(n_frames, len(self.calib_ds))
        idx = np.linspace(0, len(self.calib_ds) - 1, n).round().astype(int) if n else np.array([], int)
        frames = np.stack([self.calib_ds[int(i)][0].numpy() for i in idx]) if n else np.zeros((0, 1, 1, 1), np.float32)
        h = hashlib.sha256("\n".join(self.calib_ds.records[int(i)].name for i in idx).encode())
        h.update(frames.tobytes())
        return Calibration(frames.astype(np.float32), h.hexdigest(),
                           f"HC18 training subjects, {n} frames evenly spaced over {len(self.calib_ds)}")


@TASKS.register("biometry")
def make_biometry(data_dir: Path, options: dict[str, Any]) -> BiometryTask:
    return BiometryTask(data_dir, options)
