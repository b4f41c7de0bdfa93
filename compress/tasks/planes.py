"""Planes adapter: the recipe in task_options (compress.planes.recipe), its view cache and junk views,
teacher (SonoNet-16 features + trained head), the recipe's distilled student and metrics
(compress.data.planes, compress.planes.*).

With `student.init: recipe` and `teacher.checkpoint: recipe`, `build_student` returns the student the recipe
trains (`compress.planes.workflow.final_models`: the checkpoint stored under the recipe's key when one exists,
else it is trained here, ~75 CPU-minutes) and `recipe_teacher` the teacher head it trains; `calibrate` takes
temperature and threshold from the recipe's CV (reused by key, else run, ~40 CPU-minutes).
Training views are the cached augmented development views + junk views; the teacher's logits for them
come from the cached SonoNet-16 features through the trained head (the teacher never runs on the student's
input). The gate metric is macro-F1 over the six planes, in points (0-100), on the held-out patients,
through the runtime's own preprocessing (compress.planes.evaluate); a junk answer counts as a miss.
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

# task_options keys that are not part of the training recipe; train_if_missing false: a recipe whose student
# is not trained yet is a ModelError instead of a ~75-minute training run (tests); limit_records N (smoke runs,
# compress/configs/smoke.yaml): about N records evenly spaced, and the card's junk / real-image sets cut to match
PIPELINE_ONLY_OPTIONS: tuple[str, ...] = ("train_if_missing", "limit_records")


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
        from compress.planes.contract import SPEC, STUDENT_PREPROCESSING
        from compress.planes.recipe import recipe_from_options
        from compress.planes.workflow import prepare_recipe
        from edge.planes.taxonomy import MODEL_CLASSES

        self.recipe = recipe_from_options(options, PIPELINE_ONLY_OPTIONS)  # student_arch: build_student's family
        self.train_if_missing = bool(options.get("train_if_missing", True))
        self.limit_records = options.get("limit_records")
        if self.limit_records is not None and not (isinstance(self.limit_records, int) and self.limit_records >= 8):
            raise ConfigError(f"task_options.limit_records {self.limit_records!r}: give an integer >= 8 (smoke runs) "
                              "or leave it out (every record)")
        self.data_dir = data_dir
        self.data, self.out = prepare_recipe(self.recipe, data_dir, self.limit_records)
        self.views = self.data.train_views(self.data.dev)
        cache = self.data.cache
        self.clean_dev = np.flatnonzero(np.isin(cache.record, self.data.dev) & (cache.view == 0))
        self.spec = SPEC
        self.head = None
        self.cal: dict[str, Any] = {}
        self.info = TaskInfo("planes", "plane-cls", "macro_f1", True, (1, 1, *INPUT_HW), "class_logits",
                             tuple(MODEL_CLASSES), STUDENT_PREPROCESSING,
                             f"{len(self.data.dev)} development records (planes/labels.csv + HC18 train heads), "
                             f"{len(self.views.images)} cached views ({self.recipe.n_junk} of them junk-class frames)",
                             f"held-out patients ({len(self.data.held)} records, compress.data.planes hash split)",
                             (1, 1, 224, 288))

    # -- networks -----------------------------------------------------------------------------------------
    def build_teacher(self, family: str | None = None, width_mult: float = 1.0) -> nn.Module:
        from compress.nets.sononet import load_sononet16
        from compress.planes.teacher import TeacherHead

        if family is not None:
            raise ConfigError(f"teacher.family {family!r}: the plane teacher is SonoNet-16 + a head (leave it out)")
        return TeacherNet(load_sononet16(self.data.sononet_npz), TeacherHead())

    def recipe_teacher(self, model: nn.Module) -> nn.Module:
        """The recipe's teacher head, trained on this recipe's views (teacher.checkpoint: recipe)."""
        from compress.planes.workflow import final_teacher

        self.head = final_teacher(self.data, self.out)
        model.head.load_state_dict(self.head.state_dict())
        return model.eval()

    def load_teacher(self, model: nn.Module, path: Any) -> nn.Module:
        """A teacher head saved by train-planes ({'head', 'meta': {'data_key'}}) for this recipe's views."""
        path = Path(path)
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt or foreign files
            raise ModelError(f"teacher checkpoint {path} cannot be read ({exc})") from None
        if not (isinstance(ck, dict) and isinstance(ck.get("head"), dict)):
            raise ModelError(f"{path} is not a plane teacher checkpoint (no 'head' state); give the file "
                             "`fetal-compress train-planes` wrote (runs/planes/teacher.pt) or teacher.checkpoint: recipe")
        if (ck.get("meta") or {}).get("data_key") != self.data.key:
            raise ModelError(f"teacher checkpoint {path} was trained on other views than this recipe's; use "
                             "teacher.checkpoint: recipe or run `fetal-compress train-planes --config` with this YAML")
        try:
            model.head.load_state_dict(ck["head"])
        except RuntimeError as exc:
            raise ModelError(f"teacher checkpoint {path} does not match the teacher head architecture: "
                             f"{str(exc).splitlines()[0]}") from None
        self.head = model.head
        return model.eval()

    def build_student(self, family: str, width_mult: float) -> nn.Module:
        """The student the recipe trains (`final_models`: reused by recipe key, else trained now, ~75
        CPU-minutes) for student.family at width 1.0."""
        from dataclasses import replace

        from compress.planes.workflow import final_models, student_name

        if width_mult != 1.0:
            raise ConfigError(f"student.width_mult {width_mult}: the plane recipe trains width 1.0 students")
        self.recipe = replace(self.recipe, student_arch=family)
        cfg, more = self.recipe.student_config(), self.recipe.continue_minutes
        path = self.out / student_name(self.data, cfg, more)
        if not (self.train_if_missing or path.is_file()):
            raise ModelError(f"no student trained by this recipe ({path} missing); run `fetal-compress "
                             "train-planes --config <this yaml>` or allow train_if_missing")
        self.head, student = final_models(self.data, self.out, cfg, continue_minutes=more)
        return student

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, len(self.views.images) // batch_size)

    # -- training (pruning's fine-tuning) -----------------------------------------------------------------
    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of runtime inputs of the cached views: labels, class weights and teacher logits in y."""
        from compress.planes.contract import model_input
        from compress.planes.teacher import class_weights, head_logits
        from compress.planes.workflow import final_teacher

        head = self.head if self.head is not None else final_teacher(self.data, self.out)
        v = self.views
        gen = torch.Generator().manual_seed(seed)
        images = torch.from_numpy(v.images)
        y_all = torch.from_numpy(np.concatenate([v.targets[:, None].astype(np.float32),
                                                 class_weights(v.planes)[:, None],
                                                 head_logits(head, v.feats)], 1).astype(np.float32))
        while True:
            b = torch.randint(0, len(images), (batch_size,), generator=gen)
            yield model_input(images[b]), y_all[b]

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

    def calibrate(self, predict: PredictFn) -> dict[str, Any]:
        """Temperature and unknown threshold from the recipe's patient-grouped CV out-of-fold logits (the CV
        students stand in for the shipped one: its own logits on development data are in-sample)."""
        from compress.planes.workflow import calibrate, cv_predictions

        r = self.recipe
        cv = cv_predictions(self.data, self.out, r.folds, r.cv_config())
        t, thr = calibrate(cv.logits["student"], [self.data.records[i] for i in cv.record], r.target_accuracy)
        self.cal = {"temperature": round(float(t), 4), "unknown_threshold": round(float(thr), 4),
                    "source": f"{r.folds}-fold patient-grouped CV out-of-fold logits (students of <= "
                              f"{r.cv_max_minutes:g} CPU-min), target accuracy {r.target_accuracy}"}
        return {"calibration_params": self.cal}

    def use_calibration(self, manifest_keys: dict[str, Any]) -> None:
        self.cal = dict(manifest_keys.get("calibration_params") or {})

    def final_metrics(self, predict: PredictFn) -> dict[str, Any]:
        """The graph as the device runs it: held-out metrics at the calibrated threshold, and the junk set
        (tests/junk_frames.py) through frame check + model + threshold."""
        from compress.planes.card import device_metrics

        return device_metrics(self, predict)

    def card_results(self, final: dict[str, dict[str, Any]], installed: Any) -> str:
        from compress.planes.card import card_report, results_markdown

        return results_markdown(card_report(self, final))

    def manifest_extra(self, predict: PredictFn) -> dict[str, Any]:
        """The calibration and how the recipe trained the student (provenance)."""
        from dataclasses import asdict

        r = self.recipe
        prov = {"teacher": "SonoNet-16 (frozen) + MLP head, junk class included", "architecture": r.student_arch,
                "distillation": f"peak LR {r.lr:g}, T=4, alpha=0.5, feature hint weight {r.feature_hint:g}, "
                                f"<= {r.epochs} epochs within {r.max_minutes:g} CPU-min (time-annealed LR), then "
                                f"{r.continue_minutes:g} CPU-min at peak LR / 3",
                "calibration": self.cal.get("source", ""), "recipe": asdict(r), "data_key": self.data.key}
        return {"calibration_params": self.cal, "provenance": prov}

    def calibration(self, n_frames: int) -> Calibration:
        from compress.planes.contract import model_input

        cache = self.data.cache
        idx = self.clean_dev[np.linspace(0, len(self.clean_dev) - 1, min(n_frames, len(self.clean_dev))).astype(int)]
        frames = model_input(cache.images[idx]).numpy()
        h = hashlib.sha256("\n".join(str(self.data.records[int(r)].path.name) for r in cache.record[idx]).encode())
        h.update(frames.tobytes())
        return Calibration(frames.astype(np.float32), h.hexdigest(),
                           f"clean views of {len(idx)} development records (compress.planes view cache)")


@TASKS.register("planes")
def make_planes(data_dir: Path, options: dict[str, Any]) -> PlanesTask:
    return PlanesTask(data_dir, options)
