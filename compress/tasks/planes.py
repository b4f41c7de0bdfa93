"""Planes adapter: the plane engineer's records, view cache, teacher (SonoNet-16 features + trained head),
student (the recipe's student.family: planenet-s, sononet-s, sononet-lr) and metrics (compress.data.planes, compress.planes.*, compress.nets.plane_student).

Training views are the cached augmented development views; the teacher's logits for them come from the
cached SonoNet-16 features through the trained head (the teacher never runs on the student's input).
The gate metric is macro-F1 over the six planes, in points (0-100), on the held-out patients, through the
runtime's own preprocessing (compress.planes.evaluate).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from compress.tasks import TASKS
from compress.tasks.base import Calibration, PredictFn, TaskAdapter, TaskInfo
from edge.errors import ConfigError, ModelError

OPTIONS = {"cache_dir": "runs/planes", "n_aug": 40, "hc18_images": 80,
           "calibration_params_from": "edge/models/plane-cls/manifest.json", "target_accuracy": 0.97}


# what train-planes recorded about how the warm-start student was trained, carried into the bundle
TRAINING_PROVENANCE = ("teacher", "distillation", "calibration")


class TeacherNet(nn.Module):
    """SonoNet-16 + head as one module on (N,1,224,288) views normalised as SonoNet expects."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        f = self.backbone.features(t)
        hidden = self.backbone.adaptation[0](f)
        logits = self.backbone.adaptation[1](hidden).mean(dim=(2, 3))
        return self.head(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3)), hidden.mean(dim=(2, 3)), logits], 1))


class PlanesTask(TaskAdapter):
    def __init__(self, data_dir: Path, options: dict[str, Any]) -> None:
        from compress.nets.plane_student import INPUT_HW
        from compress.paths import REPO_ROOT
        from compress.planes.crossval import view_labels
        from compress.planes.ship import STUDENT_PREPROCESSING
        from compress.planes.workflow import prepare
        from edge.manifest import parse_preprocessing
        from edge.planes.taxonomy import MODEL_CLASSES

        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"task_options {unknown} are not understood by task 'planes'; valid: {sorted(OPTIONS)}")
        self.opts = {**OPTIONS, **options}
        out = Path(self.opts["cache_dir"])
        out = out if out.is_absolute() else REPO_ROOT / out
        self.data = prepare(data_dir, out, int(self.opts["n_aug"]), int(self.opts["hc18_images"]))
        cache, recs = self.data.cache, self.data.records
        targets, planes = view_labels(recs, cache)
        dev = np.isin(cache.record, self.data.dev)
        self.train_idx = np.flatnonzero(dev)
        self.targets, self.planes = targets, planes
        self.clean_dev = np.flatnonzero(dev & (cache.view == 0))
        self.spec = parse_preprocessing(STUDENT_PREPROCESSING)
        self.teacher_cache: np.ndarray | None = None
        self.info = TaskInfo("planes", "plane-cls", "macro_f1", True, (1, 1, *INPUT_HW), "class_logits",
                             tuple(MODEL_CLASSES), STUDENT_PREPROCESSING,
                             f"{len(self.data.dev)} development records (planes/labels.csv + HC18 train heads), "
                             f"{len(self.train_idx)} cached views",
                             f"held-out patients ({len(self.data.held)} records, compress.data.planes hash split)",
                             (1, 1, 224, 288))

    # -- networks -----------------------------------------------------------------------------------------
    def build_teacher(self, family: str | None = None, width_mult: float = 1.0) -> nn.Module:
        from compress.nets.sononet import load_sononet16
        from compress.planes.teacher import TeacherHead

        return TeacherNet(load_sononet16(self.data.sononet_npz), TeacherHead())

    def load_teacher(self, model: nn.Module, path: Any) -> nn.Module:
        """runs/planes/teacher.pt holds the trained head ({'head': state_dict, 'in_dim': ...})."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"teacher checkpoint {path} not found; train it with `fetal-compress train-planes`")
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt or foreign files
            raise ModelError(f"teacher checkpoint {path} cannot be read ({exc})") from None
        if not (isinstance(ck, dict) and isinstance(ck.get("head"), dict)):
            raise ModelError(f"{path} is not a plane teacher checkpoint (no 'head' state); give the file "
                             "`fetal-compress train-planes` wrote (runs/planes/teacher.pt)")
        try:
            model.head.load_state_dict(ck["head"])
        except RuntimeError as exc:
            raise ModelError(f"teacher checkpoint {path} does not match the teacher head architecture: "
                             f"{str(exc).splitlines()[0]}") from None
        with torch.no_grad():
            self.teacher_cache = model.head.eval()(torch.from_numpy(self.data.cache.feats.astype(np.float32))).numpy()
        return model.eval()

    def build_student(self, family: str, width_mult: float) -> nn.Module:
        from compress.nets.plane_student import build_student

        try:
            return build_student(width_mult, arch=family)
        except ValueError as exc:
            raise ConfigError(f"student.family / student.width_mult: {exc}") from None

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, len(self.train_idx) // batch_size)

    # -- training -----------------------------------------------------------------------------------------
    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from compress.planes.distill import jitter, standardise
        from compress.planes.teacher import class_weights

        if self.teacher_cache is None:
            raise ConfigError("task 'planes' distils from cached teacher logits: give teacher.checkpoint "
                              "(runs/planes/teacher.pt from `fetal-compress train-planes`), not teacher.train_epochs")
        gen = torch.Generator().manual_seed(seed)
        images = torch.from_numpy(self.data.cache.images)
        weights = class_weights(self.planes[self.train_idx])
        y_all = np.concatenate([self.targets[self.train_idx, None].astype(np.float32), weights[:, None],
                                self.teacher_cache[self.train_idx]], 1)
        y_all = torch.from_numpy(y_all)
        while True:
            b = torch.randint(0, len(self.train_idx), (batch_size,), generator=gen)
            yield standardise(jitter(images[torch.from_numpy(self.train_idx)[b]], gen)), y_all[b]

    def hard_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from compress.planes.losses import partial_label_nll

        return partial_label_nll(logits, y[:, 0].long(), y[:, 1], label_smoothing=0.05)

    def teacher_logits(self, teacher: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y[:, 2:]

    # -- evaluation ---------------------------------------------------------------------------------------
    def _metrics(self, probs_of_frame) -> dict[str, float]:  # type: ignore[no-untyped-def]
        from compress.planes.evaluate import evaluate

        m = evaluate(probs_of_frame, self.data.held, self.data.records)
        out = {"macro_f1": 100.0 * m["macro_f1"], "accuracy": 100.0 * m["accuracy"], "n_frames": float(m["n"])}
        out.update({f"recall.{k}": 100.0 * v for k, v in m["recall"].items()})
        return out

    def evaluate(self, predict: PredictFn) -> dict[str, float]:
        from compress.planes.evaluate import softmax
        from edge.preprocess import preprocess

        return self._metrics(lambda gray: softmax(predict(preprocess(gray, self.spec).tensor)[0]))

    def teacher_metrics(self, teacher: nn.Module) -> dict[str, float]:
        """The teacher on the held-out clean views (SonoNet's 224x288 view of the same frames)."""
        from compress.planes.augment import clean_view
        from compress.planes.evaluate import softmax
        from compress.planes.features import sononet_features

        def probs(gray: np.ndarray) -> np.ndarray:
            feats = sononet_features(teacher.backbone, clean_view(gray)[None])
            with torch.no_grad():
                return softmax(teacher.head(torch.from_numpy(feats)).numpy()[0])

        return self._metrics(probs)

    def manifest_extra(self, predict: PredictFn) -> dict[str, Any]:
        """calibration_params {temperature, unknown_threshold} that edge.planes.classifier needs.

        Taken from the shipped plane-cls manifest (chosen there on out-of-fold validation logits of the same
        student architecture, distilled from the same teacher) when it has them; otherwise fitted on the
        clean development views, which the student has seen (in-sample, so likely overconfident; flagged)."""
        import json

        from compress.paths import REPO_ROOT
        from compress.planes.workflow import calibrate

        src = Path(self.opts["calibration_params_from"])
        src = src if src.is_absolute() else REPO_ROOT / src
        if src.is_file():
            trained = json.loads(src.read_text(encoding="utf-8"))
            params = trained.get("calibration_params")
            if isinstance(params, dict) and {"temperature", "unknown_threshold"} <= set(params):
                rel = src.relative_to(REPO_ROOT) if src.is_relative_to(REPO_ROOT) else src
                prov = {k: v for k, v in (trained.get("provenance") or {}).items() if k in TRAINING_PROVENANCE}
                return {"calibration_params": {**params, "source": f"from {rel} (train-planes' CV calibration)"},
                        "provenance": prov}
        idx = self.clean_dev
        from compress.planes.distill import standardise

        x = standardise(torch.from_numpy(self.data.cache.images[idx]).float()[:, None]).numpy()
        logits = np.concatenate([predict(x[i:i + 64]) for i in range(0, len(x), 64)])
        recs = [self.data.records[int(r)] for r in self.data.cache.record[idx]]
        t, thr = calibrate(logits, recs, float(self.opts["target_accuracy"]))
        return {"calibration_params": {"temperature": round(float(t), 4), "unknown_threshold": round(float(thr), 4),
                                       "source": "fitted on clean development views (in-sample: likely overconfident)"}}

    def calibration(self, n_frames: int) -> Calibration:
        from compress.planes.distill import standardise

        idx = self.clean_dev[np.linspace(0, len(self.clean_dev) - 1, min(n_frames, len(self.clean_dev))).astype(int)]
        frames = standardise(torch.from_numpy(self.data.cache.images[idx]).float()[:, None]).numpy()
        h = hashlib.sha256("\n".join(str(self.data.records[int(r)].path.name)
                                     for r in self.data.cache.record[idx]).encode())
        h.update(frames.tobytes())
        return Calibration(frames.astype(np.float32), h.hexdigest(),
                           f"clean views of {len(idx)} development records (compress.planes view cache)")


@TASKS.register("planes")
def make_planes(data_dir: Path, options: dict[str, Any]) -> PlanesTask:
    return PlanesTask(data_dir, options)
