"""Biometry (head segmentation, HC18) task: data, loss, validation score, post-processing calibration and
metrics behind TaskAdapter. The networks come from the model-family registry (ds-seg, sono-seg, unet).

Training inputs are built by compress.biometry.dataset with the runtime's own preprocessing. The gated metric
is HC mean absolute error in mm on the validation subjects, measured with the device's own code
(compress.biometry.evaluate -> edge.biometry.measure), so what is gated is what ships; the final metrics of
the shipped graphs are read on the test subjects, which nothing else touches.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from compress.tasks import TASKS
from compress.tasks.base import Calibration, CalibrationError, PredictFn, TaskAdapter, TaskInfo
from edge.errors import ConfigError

OPTIONS = {"input_size": [160, 240], "eval_split": "val", "limit_images": None, "augment": {},
           "thresholds": [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7], "min_answered": 0.95}
DATA_CREDIT = ("HC18 (van den Heuvel et al., PLoS ONE 2018, Zenodo 10.5281/zenodo.1327317, CC BY 4.0), outline "
               "annotations filled as ellipses")


def _options(options: dict[str, Any]) -> dict[str, Any]:
    from compress.biometry.dataset import Augment

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"task_options {unknown} are not understood by task 'biometry'; valid: {sorted(OPTIONS)}")
    opts = {**OPTIONS, **options}
    if opts["eval_split"] not in ("val", "test"):
        raise ConfigError(f"task_options.eval_split {opts['eval_split']!r}: valid 'val' or 'test'")
    bad = sorted(set(opts["augment"]) - {f.name for f in fields(Augment)})
    if bad:
        raise ConfigError(f"task_options.augment {bad} unknown; valid: {sorted(f.name for f in fields(Augment))}")
    if not all(0.05 <= float(t) <= 0.95 for t in opts["thresholds"]) or not opts["thresholds"]:
        raise ConfigError(f"task_options.thresholds {opts['thresholds']}: give probabilities within [0.05, 0.95]")
    return opts


class BiometryTask(TaskAdapter):
    def __init__(self, data_dir: Path, options: dict[str, Any]) -> None:
        from compress.biometry.dataset import Augment, HC18SegDataset, preprocessing
        from compress.data.hc18 import SPLIT_SALT, TEST_BUCKETS, VAL_BUCKETS, load_split
        from edge.manifest import parse_preprocessing

        self.opts = _options(options)
        self.root = data_dir / "hc18"
        if not (self.root / "images").is_dir():
            raise ConfigError(f"{self.root}/images not found; point data_dir at the shared data folder (holds hc18/)")
        try:
            contract = preprocessing(tuple(self.opts["input_size"]))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"task_options.input_size {self.opts['input_size']!r}: {exc}") from None
        self.spec = parse_preprocessing(contract)
        limit = self.opts["limit_images"]
        self.records = {s: load_split(self.root, s)[:limit] for s in ("train", "val", "test")}
        self.train_ds = HC18SegDataset(self.records["train"], self.spec, Augment.from_options(self.opts["augment"]))
        self.val_ds = HC18SegDataset(self.records["val"], self.spec)
        self.postprocessing: dict[str, Any] | None = None
        train = self.records["train"]
        self.info = TaskInfo(
            "biometry", "head-seg", "hc_mae_mm", False, (1, 1, self.spec.height, self.spec.width),
            "segmentation_logits", ("head",), contract,
            f"{DATA_CREDIT}: {len(train)} images of {len({r.subject for r in train})} training subjects",
            f"subjects by sha256('{SPLIT_SALT}:<subject>') % 100: < {TEST_BUCKETS} test, < {TEST_BUCKETS + VAL_BUCKETS} "
            "val, else train (compress.data.hc18); stages gated and post-processing calibrated on val, final metrics "
            "on test")

    # -- training -----------------------------------------------------------------------------------------
    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, len(self.train_ds) // batch_size)

    def train_batches(self, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Epochs of shuffled, augmented training items (the last partial batch of an epoch dropped)."""
        order_rng, ds = np.random.default_rng(seed), self.train_ds
        ds.rng = np.random.default_rng(seed + 1)
        while True:
            order = order_rng.permutation(len(ds))
            for k in range(self.steps_per_epoch(batch_size)):
                items = [ds[int(i)] for i in order[k * batch_size:(k + 1) * batch_size]]
                yield torch.stack([x for x, _ in items]), torch.stack([m for _, m in items])

    def init_frames(self, n: int, seed: int) -> np.ndarray:
        ds = self.train_ds
        ds.rng = np.random.default_rng(seed)
        pick = ds.rng.choice(len(ds), size=min(n, len(ds)), replace=False)
        return torch.stack([ds[int(i)][0] for i in pick]).numpy()

    def hard_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from compress.biometry.losses import dice_bce

        return dice_bce(logits, y[:, :1])

    def validation_score(self, model: torch.nn.Module) -> float:
        """Mean Dice at model resolution on the val subjects (how the 1.3.0 recipe chose its epoch)."""
        from compress.biometry.losses import hard_dice

        if not hasattr(self, "_val"):
            items = [self.val_ds[i] for i in range(len(self.val_ds))]
            self._val = (torch.stack([x for x, _ in items]), torch.stack([m for _, m in items]))
        x, m = self._val
        with torch.no_grad():
            return float(torch.cat([hard_dice(model(x[i:i + 16]), m[i:i + 16]) for i in range(0, len(x), 16)]).mean())

    # -- evaluation ---------------------------------------------------------------------------------------
    def _frame_predict(self, predict: PredictFn, offset: float):  # type: ignore[no-untyped-def]
        from edge.biometry.segment import logits_to_frame
        from edge.preprocess import preprocess

        def frame_predict(frame: np.ndarray) -> np.ndarray:
            mi = preprocess(frame, self.spec)
            return logits_to_frame(predict(mi.tensor)[0, 0] + offset, mi.geometry)

        return frame_predict

    def _evaluate(self, predict: PredictFn, split: str) -> dict[str, Any]:
        from compress.biometry.evaluate import evaluate

        offset = float((self.postprocessing or {}).get("logit_offset", 0.0))
        m = evaluate(self._frame_predict(predict, offset), split, self.root, self.opts["limit_images"])
        m.setdefault("hc_mae_mm", float("inf"))  # no image measured: fails any gate
        return m

    def evaluate(self, predict: PredictFn) -> dict[str, float]:
        m = self._evaluate(predict, self.opts["eval_split"])
        return {k: float(v) for k, v in m.items() if isinstance(v, (int, float))}

    def calibrate(self, predict: PredictFn) -> dict[str, Any]:
        """The mask threshold with the lowest HC MAE on the val subjects (answering at least `min_answered` of
        them), shipped as postprocessing.logit_offset = -logit(threshold). CalibrationError when no threshold
        answers enough of them (a model that finds too few heads must not ship with an arbitrary threshold)."""
        records = self.records["val"]
        frame_predict = self._frame_predict(predict, 0.0)
        probs = [(r, frame_predict(r.image())) for r in records]
        errors = {float(t): _hc_errors(probs, float(t)) for t in self.opts["thresholds"]}
        need = _needed(len(records), float(self.opts["min_answered"]))
        maes = {t: float(np.mean(e)) if len(e) >= need else float("inf") for t, e in errors.items()}
        best = _best_threshold(maes, errors, len(records), float(self.opts["min_answered"]))
        self.postprocessing = {"logit_offset": round(-math.log(best / (1 - best)), 6), "threshold": best,
                               "threshold_chosen_by": f"lowest HC MAE on the {len(records)} val images",
                               "val_hc_mae_mm_by_threshold": {str(t): round(m, 3) if math.isfinite(m) else None
                                                              for t, m in maes.items()}}
        return {"postprocessing": self.postprocessing}

    def use_calibration(self, manifest_keys: dict[str, Any]) -> None:
        self.postprocessing = manifest_keys.get("postprocessing")

    def final_metrics(self, predict: PredictFn) -> dict[str, Any]:
        """A finished graph on the held-out test subjects (never used by a gate, the calibration or training),
        and BPD / OFD on the FETAL_PLANES_DB heads (another hospital) when that data is here."""
        from compress.biometry.evaluate_fp import evaluate_fp_heads

        out: dict[str, Any] = {"eval_split": "test", **self._evaluate(predict, "test")}
        out["val_hc_errors"] = self._evaluate(predict, "val")["hc_errors"]  # for the card's paired comparison
        planes = self.root.parent / "planes"
        if (planes / "biometry_landmarks" / "head.csv").is_file() and self.opts["limit_images"] is None:
            offset = float((self.postprocessing or {}).get("logit_offset", 0.0))
            fp = evaluate_fp_heads(self._frame_predict(predict, offset), planes)
            out.update({f"fp_heads.{k}": v for k, v in fp.items()})
        return out

    def manifest_extra(self, predict: PredictFn) -> dict[str, Any]:
        return {"postprocessing": self.postprocessing} if self.postprocessing else {}

    def card_results(self, final: dict[str, dict[str, Any]], installed: Path | None) -> str:
        from compress.biometry.card import results_section

        return results_section(self, final, installed)

    def calibration(self, n_frames: int) -> Calibration:
        """INT8 calibration: unaugmented training frames, evenly spaced, preprocessed as the device does."""
        from compress.biometry.dataset import HC18SegDataset

        records = self.records["train"]
        n = min(n_frames, len(records))
        idx = np.linspace(0, len(records) - 1, n).round().astype(int) if n else np.array([], int)
        ds = HC18SegDataset([records[int(i)] for i in idx], self.spec)
        frames = (np.stack([ds[k][0].numpy() for k in range(n)]) if n
                  else np.zeros((0, 1, self.spec.height, self.spec.width), np.float32))
        h = hashlib.sha256("\n".join(records[int(i)].name for i in idx).encode())
        h.update(frames.tobytes())
        return Calibration(frames.astype(np.float32), h.hexdigest(),
                           f"HC18 training subjects, {n} frames evenly spaced over {len(records)}")


def _hc_errors(probs: list[tuple[Any, np.ndarray]], threshold: float) -> list[float]:
    """|HC - reference| in mm of the (record, frame probability map) pairs the device measures at `threshold`."""
    from edge.biometry.measure import GateSettings, measure_head

    res = [(r, measure_head(p, r.pixel_mm, None, GateSettings(threshold=threshold))) for r, p in probs]
    return [abs(m.hc.value - r.hc_mm) for r, m in res if m.status == "measured"]


def _needed(n_images: int, min_answered: float) -> int:
    """Images a threshold must measure: `min_answered` (a fraction) of `n_images`, and at least one."""
    return max(1, math.ceil(min_answered * n_images - 1e-9))


def _best_threshold(maes: dict[float, float], errors: dict[float, list[float]], n_images: int,
                    min_answered: float) -> float:
    """The threshold of lowest HC MAE (inf: too few images measured); CalibrationError if every one is inf."""
    if not any(math.isfinite(m) for m in maes.values()):
        measured = ", ".join(f"{t:g}: {len(e)}" for t, e in errors.items())
        raise CalibrationError(
            f"calibrate: no mask threshold measures the head in at least {_needed(n_images, min_answered)} of the "
            f"{n_images} val images (task_options.min_answered {min_answered:g}); images measured per threshold "
            f"tried: {measured}. No bundle written. The model finds too few heads: train longer or check the "
            "student (its checkpoint, input size, training data); if the model is fine, widen "
            "task_options.thresholds (within [0.05, 0.95]) or lower task_options.min_answered, then rerun "
            "with `--from calibrate` to reuse the trained student")
    return min(maes, key=maes.__getitem__)


@TASKS.register("biometry")
def make_biometry(data_dir: Path, options: dict[str, Any]) -> BiometryTask:
    return BiometryTask(data_dir, options)
