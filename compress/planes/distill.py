"""Student training: knowledge distillation from the teacher's logits on the same cached views + labels.

The views are the cached augmented full frames (zoom, shift, rotation, flip, gain/gamma, speckle), each made
into the model-size image exactly as the device makes it; a batch is standardised as the device does it
(compress.planes.contract.model_input). No further augmentation happens at model size: the training input is
always a runtime input of some frame (until plane-cls 1.3.0 a flip/gain/gamma/speckle/shift jitter was added
here, which no device input can look like, e.g. the shift wrapped around the border).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from compress.distill_loss import distillation_loss
from compress.nets.plane_student import build_student
from compress.nets.sononet_cut import frames_for_selection
from compress.planes.contract import model_input
from compress.planes.losses import partial_label_nll
from compress.planes.teacher import class_weights
from compress.training import Schedule, batches_per_epoch, epoch_batches, fit
from edge.errors import ConfigError


@dataclass(frozen=True)
class DistillConfig:
    epochs: int = 30
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 2e-2
    temperature: float = 4.0
    alpha: float = 0.5          # weight of the distillation term
    feat_weight: float = 1.0    # weight of the feature hint (pooled student features -> teacher features)
    map_weight: float = 0.0     # the spatial hint, tried and dropped (docs/decisions.md, 1 Dec): must stay 0; the
                                # field stays because recipe keys hash this config (workflow.recipe_key)
    width_mult: float = 1.0
    arch: str = "sononet-lr"    # a plane family (compress.nets.plane_student.build_student)
    seed: int = 0
    max_minutes: float = 25.0   # CPU budget (this process's CPU time, so other work on a shared machine does not
                                # shorten it): the LR schedule follows max(step share, time share), so a slow
                                # (shared) CPU still ends with a fully annealed model, after fewer epochs


def new_student(cfg: DistillConfig, images: np.ndarray, sononet_npz: str | Path | None = None) -> torch.nn.Module:
    """The student a training run starts from: its family (compress.nets.families), filled from SonoNet-16's
    published weights on a sample of these views when the family can be (`Family.from_sononet`, e.g. SonoNet-LR),
    else from scratch."""
    from compress.nets.families import family

    model = build_student(cfg.width_mult, arch=cfg.arch)
    fill = family(cfg.arch).from_sononet
    if fill is None:
        return model
    if sononet_npz is None:
        raise ValueError(f"arch {cfg.arch} starts from SonoNet-16's weights: give sononet_npz")
    fill(model, Path(sononet_npz), frames_for_selection(images, seed=cfg.seed))
    return model


class FeatureHint(torch.nn.Module):
    """Training-only projection of the student's pooled features onto the teacher's standardised features.

    With a few hundred labelled images, 8 teacher logits per view carry little; the teacher's feature vector
    (SonoNet-16 pooled activations) tells the student much more about each view. Never exported."""

    def __init__(self, student_dim: int, teacher_feats: np.ndarray) -> None:
        super().__init__()
        t = torch.from_numpy(teacher_feats.astype(np.float32))
        self.register_buffer("mu", t.mean(0))
        self.register_buffer("sd", t.std(0).clamp_min(1e-3))
        self.proj = torch.nn.Linear(student_dim, t.shape[1])

    def loss(self, pooled: torch.Tensor, teacher_feats: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.proj(pooled), (teacher_feats - self.mu) / self.sd)


def train_student(images: np.ndarray, teacher_logits: np.ndarray, targets: np.ndarray, plane_idx: np.ndarray,
                  cfg: DistillConfig = DistillConfig(), init: torch.nn.Module | None = None,
                  teacher_feats: np.ndarray | None = None, sononet_npz: str | Path | None = None) -> torch.nn.Module:
    """images (V,H,W) uint8 model-size images, teacher_logits (V,9), targets (V,) with -1 = brain sub-plane
    unknown, 8 = junk. Trained by `compress.training.fit` (warm-up + cosine over max(step, CPU-time) share).
    `init`: continue training this model (a second warm-restart cycle) instead of a fresh one (`new_student`;
    `sononet_npz` is needed for families cut from SonoNet-16).
    `teacher_feats` (V,D): the teacher's features of the same views, for the feature hint (cfg.feat_weight)."""
    if cfg.map_weight != 0:
        raise ConfigError(f"map_weight {cfg.map_weight}: the spatial hint was tried and dropped (docs/decisions.md, "
                          "1 Dec 2026); only 0 is accepted")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + (1 if init is not None else 0))
    model = init if init is not None else new_student(cfg, images, sononet_npz)
    hint = None
    if teacher_feats is not None and cfg.feat_weight > 0:
        hint = FeatureHint(model.classifier.in_features, teacher_feats)
    views = _Views(images, teacher_logits, targets, plane_idx, teacher_feats if hint is not None else None)
    per_epoch = batches_per_epoch(len(images), cfg.batch, min_size=2)
    schedule = Schedule(cfg.epochs, per_epoch, cfg.lr, "warmup_cosine", cfg.weight_decay, cpu_minutes=cfg.max_minutes)

    def loss_fn(x: torch.Tensor, y: dict[str, torch.Tensor], out: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        logits, pooled = out
        hard = partial_label_nll(logits, y["target"], y["weight"], label_smoothing=0.05)
        loss = distillation_loss(logits, y["teacher"], hard, cfg.temperature, cfg.alpha)
        return loss + cfg.feat_weight * hint.loss(pooled, y["feats"]) if hint is not None else loss

    extra = list(hint.parameters()) if hint is not None else None
    fit(model, views.batches(cfg.batch, gen), loss_fn, schedule, extra_params=extra, forward=_logits_and_pooled,
        label="student")
    return model.eval()


def _logits_and_pooled(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pooled = model.pooled(x)
    return model.classifier(model.dropout(pooled)), pooled


class _Views:
    """The training views as tensors; `batches` yields (runtime input, {target, weight, teacher, feats})."""

    def __init__(self, images: np.ndarray, teacher_logits: np.ndarray, targets: np.ndarray, plane_idx: np.ndarray,
                 feats: np.ndarray | None) -> None:
        self.x = torch.from_numpy(images)
        self.y = {"target": torch.from_numpy(targets.astype(np.int64)),
                  "weight": torch.from_numpy(class_weights(plane_idx)),
                  "teacher": torch.from_numpy(teacher_logits.astype(np.float32))}
        if feats is not None:
            self.y["feats"] = torch.from_numpy(feats.astype(np.float32))

    def batches(self, batch: int, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        for b in epoch_batches(len(self.x), batch, gen, min_size=2):
            yield model_input(self.x[b]), {k: v[b] for k, v in self.y.items()}


@torch.no_grad()
def student_logits(model: torch.nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    model.eval()
    x = torch.from_numpy(images)
    outs = [model(model_input(x[i:i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(outs).numpy()


def kl_to_teacher(student: np.ndarray, teacher: np.ndarray) -> float:
    s, t = torch.from_numpy(student), torch.from_numpy(teacher)
    return float(F.kl_div(F.log_softmax(s, 1), F.softmax(t, 1), reduction="batchmean"))
