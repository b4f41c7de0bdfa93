"""The one training loop: every network the pipeline trains (a student on the labels, a student distilled from
a teacher, a pruned student's fine-tuning, a smoke teacher) goes through `fit`.

AdamW with a one-cycle or cosine learning-rate schedule over `epochs x steps_per_epoch` steps; after each epoch
an optional `select` score (higher is better, on validation data) keeps the best epoch's weights, otherwise
the last epoch's are kept.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterator

import torch
from torch import nn

log = logging.getLogger(__name__)
SCHEDULES = ("one_cycle", "cosine")
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x, y, model output) -> loss


@dataclass(frozen=True)
class Schedule:
    epochs: int
    steps_per_epoch: int
    lr: float
    kind: str = "one_cycle"
    weight_decay: float = 1e-4
    warmup: float = 0.1            # one_cycle: share of the steps spent rising to `lr`

    @property
    def total_steps(self) -> int:
        return max(1, self.epochs * self.steps_per_epoch)


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, score, minutes
    best_epoch: int = -1
    best_score: float | None = None

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else float("nan")


def _scheduler(opt: torch.optim.Optimizer, s: Schedule) -> Any:
    if s.kind == "one_cycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, s.lr, total_steps=s.total_steps, pct_start=s.warmup)
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.total_steps)


def fit(model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], loss_fn: LossFn, schedule: Schedule,
        bar: Any = None, select: Callable[[nn.Module], float] | None = None,
        extra_params: list[nn.Parameter] | None = None) -> FitResult:
    """Train `model` in place on `batches` (an endless iterator of (x, y)); returns the per-epoch history.
    With `select`, the weights of the best-scoring epoch are loaded back at the end."""
    if schedule.kind not in SCHEDULES:
        raise ValueError(f"schedule {schedule.kind!r} is not one of {SCHEDULES}")
    params = list(model.parameters()) + list(extra_params or [])
    opt = torch.optim.AdamW(params, lr=schedule.lr, weight_decay=schedule.weight_decay)
    sched = _scheduler(opt, schedule)
    result, best_state, t0 = FitResult(), None, time.perf_counter()
    for epoch in range(schedule.epochs):
        model.train()
        losses: list[float] = []
        for x, y in islice(batches, schedule.steps_per_epoch):
            loss = loss_fn(x, y, model(x))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{statistics.fmean(losses[-20:]):.4f}")
        model.eval()
        score = float(select(model)) if select is not None else None
        result.history.append({"epoch": epoch, "loss": statistics.fmean(losses) if losses else float("nan"),
                               "score": score if score is not None else float("nan"),
                               "minutes": (time.perf_counter() - t0) / 60})
        log.info("epoch %d loss %.4f score %s", epoch, result.history[-1]["loss"], score)
        if select is None or result.best_score is None or score > result.best_score:
            result.best_epoch, result.best_score = epoch, score
            if select is not None:
                best_state = copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result
