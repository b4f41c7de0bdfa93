"""Student training: knowledge distillation from the teacher's logits on the same cached views + labels.

The views are the cached augmented full frames (zoom, shift, rotation, flip, gain/gamma, speckle), each made
into the model-size image exactly as the device makes it; a batch is standardised as the device does it
(compress.planes.contract.model_input). No further augmentation happens at model size: the training input is
always a runtime input of some frame (until plane-cls 1.3.0 a flip/gain/gamma/speckle/shift jitter was added
here, which no device input can look like, e.g. the shift wrapped around the border).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from compress.distill_loss import distillation_loss
from compress.nets.plane_student import PRETRAINED, build_student
from compress.planes.contract import model_input
from compress.planes.losses import partial_label_nll
from compress.planes.teacher import class_weights
from edge.errors import ConfigError

log = logging.getLogger(__name__)


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
    arch: str = "planenet-s"    # or "sononet-s" / "sononet-lr": from SonoNet-16's own filters (PRETRAINED)
    seed: int = 0
    max_minutes: float = 25.0   # CPU budget (this process's CPU time, so other work on a shared machine does not
                                # shorten it): the LR schedule follows max(step share, time share), so a slow
                                # (shared) CPU still ends with a fully annealed model, after fewer epochs


def new_student(cfg: DistillConfig, images: np.ndarray, sononet_npz: str | Path | None = None) -> torch.nn.Module:
    """The student a training run starts from: its family (compress.nets.families) from scratch, or, for the
    PRETRAINED families (SonoNet-S, SonoNet-LR), filled from SonoNet-16's published weights on a sample of
    these views (`Family.from_sononet`)."""
    from compress.nets.families import family

    model = build_student(cfg.width_mult, arch=cfg.arch)
    if cfg.arch not in PRETRAINED:
        return model
    if sononet_npz is None:
        raise ValueError(f"arch {cfg.arch} starts from SonoNet-16's weights: give sononet_npz")
    from compress.nets.sono_student import frames_for_selection

    family(cfg.arch).from_sononet(model, Path(sononet_npz), frames_for_selection(images, seed=cfg.seed))
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
    unknown, 8 = junk.
    `init`: continue training this model (a second warm-restart cycle) instead of a fresh one (`new_student`;
    `sononet_npz` is needed for the PRETRAINED arches).
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
        f_all = torch.from_numpy(teacher_feats.astype(np.float32))
    x_all = torch.from_numpy(images)
    t_all = torch.from_numpy(teacher_logits.astype(np.float32))
    y_all = torch.from_numpy(targets.astype(np.int64))
    w_all = torch.from_numpy(class_weights(plane_idx))
    steps = cfg.epochs * ((len(x_all) + cfg.batch - 1) // cfg.batch)
    params = [p for m in (model, hint) if m is not None for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, wall, step, progress = time.process_time(), time.time(), 0, 0.0
    for epoch in range(cfg.epochs):
        model.train()
        total, seen = 0.0, 0
        for b in torch.randperm(len(x_all), generator=gen).split(cfg.batch):
            progress = max(step / steps, (time.process_time() - start) / (60.0 * cfg.max_minutes))
            if len(b) < 2 or progress >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(progress, cfg.lr)
            step += 1
            pooled = model.pooled(model_input(x_all[b]))
            logits = model.classifier(model.dropout(pooled))
            hard = partial_label_nll(logits, y_all[b], w_all[b], label_smoothing=0.05)
            loss = distillation_loss(logits, t_all[b], hard, cfg.temperature, cfg.alpha)
            if hint is not None:
                loss = loss + cfg.feat_weight * hint.loss(pooled, f_all[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            seen += len(b)
        minutes = (time.process_time() - start) / 60
        log.info("student epoch %d/%d loss %.4f (%.1f CPU-min, %.1f min wall, schedule %.0f %%)", epoch + 1,
                 cfg.epochs, total / max(seen, 1), minutes, (time.time() - wall) / 60, 100 * progress)
        if progress >= 1.0:
            log.warning("time budget of %.0f min used after %d epochs (LR annealed on time)", cfg.max_minutes,
                        epoch + 1)
            break
    return model.eval()


def lr_at(progress: float, peak: float, warmup: float = 0.1) -> float:
    """Linear warm-up to `peak`, then cosine to ~0, over progress in [0, 1]."""
    if progress < warmup:
        return peak * (0.1 + 0.9 * progress / warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / (1.0 - warmup))) + 1e-6


@torch.no_grad()
def student_logits(model: torch.nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    model.eval()
    x = torch.from_numpy(images)
    outs = [model(model_input(x[i:i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(outs).numpy()


def kl_to_teacher(student: np.ndarray, teacher: np.ndarray) -> float:
    s, t = torch.from_numpy(student), torch.from_numpy(teacher)
    return float(F.kl_div(F.log_softmax(s, 1), F.softmax(t, 1), reduction="batchmean"))
