"""Train the head-segmentation teacher, then the student distilled from it (plus Dice + BCE on the labels).

Model selection uses the val subjects only; test subjects are never loaded here.
Checkpoints: `<out>/<role>.pt` = {"state_dict", "role", "arch", "width_mult"|"base", "epoch", "val_dice", "spec"}.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, WeightedRandomSampler

from compress.biometry.compare import LARGE_HC_MM
from compress.biometry.dataset import DEFAULT_SIZE, Augment, HC18SegDataset, preprocessing
from compress.distill_loss import distillation_loss
from compress.nets import SONO_HEAD_ARCHS
from compress.nets.segnet import build_student, build_teacher, count_params
from edge.manifest import PreprocessSpec, parse_preprocessing

log = logging.getLogger(__name__)
ROLES = ("teacher", "student")


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    role: str = "student"            # "teacher" | "student"
    epochs: int = 20
    batch: int = 8
    lr: float = 3e-3
    max_minutes: float = 25.0        # stop (keeping the best checkpoint) when the wall budget is spent
    width_mult: float = 1.0
    arch: str = "ds-seg"             # student network (compress.nets.HEAD_ARCHS)
    teacher_base: int = 12
    teacher: Path | None = None      # teacher checkpoint for distillation (student only)
    init: Path | None = None         # start from this checkpoint's weights (fine-tuning)
    tag: str = ""                    # checkpoint name suffix: <role><tag>.pt
    temperature: float = 2.0
    alpha: float = 0.5
    seed: int = 0
    threads: int = 1
    boundary_weight: float = 0.0     # extra BCE weight on pixels far from the true outline (0: plain Dice + BCE)
    boundary_cap_px: float = 8.0     # distance (model pixels) at which that extra weight is reached
    input_size: tuple[int, int] = DEFAULT_SIZE   # model input (height, width), multiples of 16
    crop_margin: float = 0.0         # > 0: a refine network, trained on crops around the head (edge.biometry.refine)
    train_fraction: float = 1.0      # CV only: share of each fold's training subjects used (learning curves)
    large_head_weight: float = 1.0   # how much more often heads with HC >= 200 mm are drawn in training (1: uniform)


def distance_weights(target: torch.Tensor, extra: float, cap_px: float) -> torch.Tensor:
    """Per-pixel BCE weight: 1 on the true outline, rising linearly with the distance from it to 1 + extra at
    cap_px. A mask that leaks several pixels past a faint skull then costs more than one that is off by a pixel
    at the edge (the leaks drive the HC error, docs/biometry.md)."""
    out = np.empty(target.shape, np.float32)
    for i, m in enumerate(target[:, 0].numpy() > 0.5):
        inside = m.astype(np.uint8)
        d = np.where(m, cv2.distanceTransform(inside, cv2.DIST_L2, 3),
                     cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3))
        out[i, 0] = 1.0 + extra * np.clip(d - 1.0, 0.0, cap_px) / cap_px
    return torch.from_numpy(out)


def dice_bce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight) + dice.mean()


@torch.no_grad()
def val_dice(model: torch.nn.Module, loader: DataLoader) -> float:
    model.eval()
    scores = []
    for x, m in loader:
        p = (model(x) > 0).float()
        t = (m > 0.5).float()
        scores += (2 * (p * t).sum((1, 2, 3)) / (p.sum((1, 2, 3)) + t.sum((1, 2, 3))).clamp_min(1)).tolist()
    return float(np.mean(scores))


def load_checkpoint(path: Path) -> torch.nn.Module:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = (build_teacher(ck["base"]) if ck["role"] == "teacher"
             else build_student(ck["width_mult"], ck.get("arch", "ds-seg")))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


def checkpoint_contract(ck: dict) -> dict:
    """The preprocessing contract a loaded checkpoint was trained with (checkpoints before input sizes: 160x240)."""
    return ck.get("spec") or preprocessing()


def checkpoint_spec(path: Path) -> PreprocessSpec:
    return parse_preprocessing(checkpoint_contract(torch.load(path, map_location="cpu", weights_only=False)))


def sononet_path(hc18_dir: Path) -> Path:
    """SonoNet-16's published weights beside hc18/ in the shared data folder."""
    return hc18_dir.parent / "peers" / "sononet" / "SonoNet16.npz"


def new_network(cfg: TrainConfig, train_ds: Dataset) -> torch.nn.Module:
    """The network `cfg` asks for: the U-Net teacher, a student from `cfg.init`, a fresh ds-seg student, or a
    sono-seg student whose encoder is cut from SonoNet-16 on 64 of the (augmented) training frames."""
    if cfg.role == "teacher":
        return build_teacher(cfg.teacher_base)
    if cfg.init is not None:
        init = load_checkpoint(cfg.init)
        model = build_student(cfg.width_mult, cfg.arch)
        model.load_state_dict(init.state_dict())
        return model
    if cfg.arch not in SONO_HEAD_ARCHS:
        return build_student(cfg.width_mult, cfg.arch)
    from compress.nets.sono_student import copy_strongest_filters
    from compress.nets.sononet import load_sononet16

    rng = np.random.default_rng(cfg.seed)
    pick = rng.choice(len(train_ds), size=min(64, len(train_ds)), replace=False)
    frames = torch.stack([train_ds[int(i)][0] for i in pick])
    model = build_student(cfg.width_mult, cfg.arch)
    copy_strongest_filters(load_sononet16(sononet_path(cfg.data)), model.encoder_units(), frames)
    return model


def split_dataset(cfg: TrainConfig, spec: PreprocessSpec, split: str, augment: bool) -> Dataset:
    """One split's dataset for `cfg`: whole frames, or head crops for a refine network (cfg.crop_margin > 0);
    `augment` for training (crops then sit on a jittered reference ellipse)."""
    if cfg.crop_margin > 0:
        from compress.biometry.crop_dataset import HC18CropDataset

        return HC18CropDataset(cfg.data, split, spec, cfg.crop_margin, train=augment, seed=cfg.seed)
    return HC18SegDataset(cfg.data, split, cfg.out / "cache", spec, augment=Augment() if augment else None,
                          seed=cfg.seed)


def item_records(ds: Dataset) -> list:
    """The HC18 record behind each item of a (Subset / ConcatDataset of) HC18 dataset(s), in item order."""
    if isinstance(ds, Subset):
        inner = item_records(ds.dataset)
        return [inner[int(i)] for i in ds.indices]
    if isinstance(ds, ConcatDataset):
        return [r for d in ds.datasets for r in item_records(d)]
    return list(ds.records)


def sampling(cfg: TrainConfig, train_ds: Dataset) -> dict:
    """DataLoader arguments: a plain shuffle, or, with cfg.large_head_weight != 1, a seeded weighted draw (with
    replacement, one epoch = as many items as the dataset) in which large heads weigh that much more."""
    if cfg.large_head_weight == 1.0:
        return {"shuffle": True}
    weights = [cfg.large_head_weight if r.hc_mm >= LARGE_HC_MM else 1.0 for r in item_records(train_ds)]
    gen = torch.Generator().manual_seed(cfg.seed)
    return {"sampler": WeightedRandomSampler(weights, len(weights), replacement=True, generator=gen)}


RUN_ONLY = ("threads", "max_minutes")   # settings that change how a run goes, not what it trains


def checkpoint_path(cfg: TrainConfig) -> Path:
    return cfg.out / f"{cfg.role}{cfg.tag}.pt"


def summary_path(cfg: TrainConfig) -> Path:
    """Written when a run ends: its config and per-epoch history."""
    return cfg.out / f"{cfg.role}{cfg.tag}_summary.json"


def finished_run(cfg: TrainConfig) -> bool:
    """True when `checkpoint_path(cfg)` comes from a run of this same recipe that trained every epoch (so a
    resumed cross-validation can reuse it instead of training it again)."""
    path = summary_path(cfg)
    if not path.is_file() or not checkpoint_path(cfg).is_file():
        return False
    try:
        s = json.loads(path.read_text())
        done, config = len(s["history"]), s["config"]
    except (ValueError, KeyError, TypeError):
        return False
    want = {k: str(v) for k, v in asdict(cfg).items() if k not in RUN_ONLY}
    # a summary written before a recipe option existed trained with that option's default
    defaults = {f.name: str(f.default) for f in fields(TrainConfig) if f.default is not MISSING}
    return done == cfg.epochs and {k: config.get(k, defaults.get(k)) for k in want} == want


def train(cfg: TrainConfig, train_ds: Dataset | None = None) -> dict:
    """Train one network; returns a summary dict (also written to `<out>/<role><tag>_summary.json`).

    Default: the train split, keeping the epoch with the best val Dice. `train_ds` given (cross-validation):
    train on it and keep the last epoch, since no untouched images are left to choose a checkpoint with."""
    if cfg.role not in ROLES:
        raise ValueError(f"role {cfg.role!r} is not one of {ROLES}")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    contract = preprocessing(cfg.input_size)
    spec = parse_preprocessing(contract)
    val_loader = None
    if train_ds is None:
        train_ds = split_dataset(cfg, spec, "train", augment=True)
        val_loader = DataLoader(split_dataset(cfg, spec, "val", augment=False), batch_size=16)
    loader = DataLoader(train_ds, batch_size=cfg.batch, drop_last=True, **sampling(cfg, train_ds))
    model = new_network(cfg, train_ds)
    teacher = load_checkpoint(cfg.teacher) if (cfg.role == "student" and cfg.teacher) else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * len(loader), pct_start=0.1)
    log.info("training %s (%d params) on %d images, checkpoint by %s, distil=%s", cfg.role, count_params(model),
             len(train_ds), "val Dice" if val_loader else "last epoch", teacher is not None)
    best, history, t0 = -1.0, [], time.time()
    cfg.out.mkdir(parents=True, exist_ok=True)
    # a summary is written only by a run that ended; the checkpoints this run overwrites are no longer its
    summary_path(cfg).unlink(missing_ok=True)
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for x, m in loader:
            logits = model(x)
            w = distance_weights(m, cfg.boundary_weight, cfg.boundary_cap_px) if cfg.boundary_weight > 0 else None
            loss = dice_bce(logits, m, w)
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(x)
                loss = distillation_loss(logits, t_logits, loss, cfg.temperature, cfg.alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        vd = val_dice(model, val_loader) if val_loader is not None else float("nan")
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_dice": vd,
                        "minutes": (time.time() - t0) / 60})
        log.info("%s epoch %d loss %.4f val dice %.4f (%.1f min)", cfg.role, epoch, np.mean(losses), vd,
                 history[-1]["minutes"])
        if val_loader is None or vd > best:
            best = vd
            torch.save({"state_dict": model.state_dict(), "role": cfg.role, "arch": cfg.arch,
                        "width_mult": cfg.width_mult,
                        "base": cfg.teacher_base, "epoch": epoch, "val_dice": vd,
                        "spec": contract, "crop_margin": cfg.crop_margin},
                       checkpoint_path(cfg))
        if (time.time() - t0) / 60 > cfg.max_minutes:
            log.warning("wall budget of %.0f min spent after epoch %d; stopping", cfg.max_minutes, epoch)
            break
    summary = {"config": {k: str(v) for k, v in asdict(cfg).items()}, "params": count_params(model),
               "best_val_dice": best, "history": history}
    summary_path(cfg).write_text(json.dumps(summary, indent=1))
    return summary
