"""The one training loop: every network the compression stage trains goes through `fit` — the plane teacher's
head, the plane student's distillation (`compress.planes.distill`), a pipeline student or teacher
(`compress.stages.train`) and a pruned student's fine-tuning (`compress.stages.prune`).

AdamW over `epochs x steps_per_epoch` steps with one of three learning-rate schedules:
- one_cycle / cosine: torch's schedulers, stepped once per step;
- warmup_cosine: linear warm-up then cosine to ~0 over the run's *progress*, and with `cpu_minutes` a budget of
  this process's CPU time (so other work on a shared machine does not shorten it): progress is
  max(step share, CPU-time share) and the run stops at 1, so a slow CPU still ends with an annealed model.
After each epoch an optional `select` score (higher is better, on validation data) keeps the best epoch's
weights; otherwise the last epoch's are kept.
"""

from __future__ import annotations

import copy
import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterator

import torch
from torch import nn

log = logging.getLogger(__name__)
SCHEDULES = ("one_cycle", "cosine", "warmup_cosine")
LossFn = Callable[[torch.Tensor, Any, Any], torch.Tensor]  # (x, y, forward's output) -> loss
ForwardFn = Callable[[nn.Module, torch.Tensor], Any]       # (model, x) -> what the loss reads (default model(x))


@dataclass(frozen=True)
class Schedule:
    epochs: int
    steps_per_epoch: int
    lr: float
    kind: str = "one_cycle"
    weight_decay: float = 1e-4
    warmup: float = 0.1                # one_cycle, warmup_cosine: share of the run spent rising to `lr`
    cpu_minutes: float | None = None   # warmup_cosine only: budget of this process's CPU time

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule {self.kind!r} is not one of {SCHEDULES}")
        if self.cpu_minutes is not None and (self.kind != "warmup_cosine" or not self.cpu_minutes > 0):
            raise ValueError("cpu_minutes needs kind 'warmup_cosine' (the LR follows the time share) and must be > 0")

    @property
    def total_steps(self) -> int:
        return max(1, self.epochs * self.steps_per_epoch)


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, score, last LR, minutes, cpu_minutes
    best_epoch: int = -1
    best_score: float | None = None
    stopped_on_budget: bool = False

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else float("nan")


def warmup_cosine(progress: float, peak: float, warmup: float = 0.1) -> float:
    """Linear warm-up from peak/10 to `peak`, then cosine to ~0, over progress in [0, 1]."""
    if progress < warmup:
        return peak * (0.1 + 0.9 * progress / warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / (1.0 - warmup))) + 1e-6


def epoch_batches(n: int, batch: int, generator: torch.Generator, min_size: int = 1) -> Iterator[torch.Tensor]:
    """Endless index batches: each epoch a fresh permutation of range(n) split into `batch`-sized pieces; a last
    piece smaller than `min_size` is left out (batch norm cannot train on one sample)."""
    while True:
        for b in torch.randperm(n, generator=generator).split(batch):
            if len(b) >= min_size:
                yield b


def batches_per_epoch(n: int, batch: int, min_size: int = 1) -> int:
    """How many batches `epoch_batches` yields per epoch."""
    return n // batch + (1 if n % batch >= max(1, min_size) else 0)


def _scheduler(opt: torch.optim.Optimizer, s: Schedule) -> Any:
    if s.kind == "one_cycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, s.lr, total_steps=s.total_steps, pct_start=s.warmup)
    if s.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.total_steps)
    return None  # warmup_cosine: set per step from the progress


class _Progress:
    """Share of the run done: max(steps done / total, CPU time used / budget)."""

    def __init__(self, schedule: Schedule) -> None:
        self.s, self.steps, self.cpu0 = schedule, 0, time.process_time()

    def cpu_minutes(self) -> float:
        return (time.process_time() - self.cpu0) / 60

    def share(self) -> float:
        by_steps = self.steps / self.s.total_steps
        return max(by_steps, self.cpu_minutes() / self.s.cpu_minutes) if self.s.cpu_minutes else by_steps


def fit(model: nn.Module, batches: Iterator[tuple[torch.Tensor, Any]], loss_fn: LossFn, schedule: Schedule,
        bar: Any = None, select: Callable[[nn.Module], float] | None = None,
        extra_params: list[nn.Parameter] | None = None, forward: ForwardFn | None = None,
        label: str | None = None) -> FitResult:
    """Train `model` in place on `batches` (an endless iterator of (x, y)); returns the per-epoch history.
    `extra_params` train alongside (training-only heads, never exported); `forward` replaces model(x) when the
    loss needs more than the logits. With `select`, the best-scoring epoch's weights are loaded back.
    `label`: name the run in the log, one INFO line per epoch (without it, DEBUG lines)."""
    params = list(model.parameters()) + list(extra_params or [])
    opt = torch.optim.AdamW(params, lr=schedule.lr, weight_decay=schedule.weight_decay)
    sched = _scheduler(opt, schedule)
    result, best_state, wall0, progress = FitResult(), None, time.perf_counter(), _Progress(schedule)
    for epoch in range(schedule.epochs):
        model.train()
        losses: list[float] = []
        last_lr = float("nan")
        for x, y in islice(batches, schedule.steps_per_epoch):
            if sched is None:
                share = progress.share()
                if share >= 1.0:
                    result.stopped_on_budget = True
                    break
                for group in opt.param_groups:
                    group["lr"] = warmup_cosine(share, schedule.lr, schedule.warmup)
            loss = loss_fn(x, y, forward(model, x) if forward is not None else model(x))
            opt.zero_grad()
            loss.backward()
            last_lr = opt.param_groups[0]["lr"]
            opt.step()
            if sched is not None:
                sched.step()
            progress.steps += 1
            losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{statistics.fmean(losses[-20:]):.4f}")
        model.eval()
        score = float(select(model)) if select is not None else None
        result.history.append({"epoch": epoch, "loss": statistics.fmean(losses) if losses else float("nan"),
                               "score": score if score is not None else float("nan"),
                               "lr": last_lr, "minutes": (time.perf_counter() - wall0) / 60,
                               "cpu_minutes": progress.cpu_minutes()})
        log.log(logging.INFO if label else logging.DEBUG, "%s epoch %d/%d loss %.4f score %s (%.1f CPU-min)",
                label or "fit", epoch + 1, schedule.epochs, result.history[-1]["loss"], score, progress.cpu_minutes())
        if select is None or result.best_score is None or score > result.best_score:
            result.best_epoch, result.best_score = epoch, score
            if select is not None:
                best_state = copy.deepcopy(model.state_dict())
        if result.stopped_on_budget:
            log.warning("%s: CPU budget of %.0f min used after %d epochs (LR annealed on time)", label or "fit",
                        schedule.cpu_minutes, epoch + 1)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result
