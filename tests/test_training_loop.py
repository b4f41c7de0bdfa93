"""compress.training.fit, the one training loop: schedules, the CPU-time budget, batches, best-epoch selection."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compress.training import Schedule, batches_per_epoch, epoch_batches, fit, warmup_cosine


def _regression(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


def _batches(x: torch.Tensor, y: torch.Tensor, batch: int, seed: int = 0):  # type: ignore[no-untyped-def]
    return ((x[b], y[b]) for b in epoch_batches(len(x), batch, torch.Generator().manual_seed(seed)))


def _mse(_x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(out, y)


def test_warmup_cosine_rises_then_anneals() -> None:
    assert warmup_cosine(0.0, 1.0) == pytest.approx(0.1)
    assert warmup_cosine(0.1, 1.0) == pytest.approx(1.0, abs=1e-5)
    assert warmup_cosine(0.5, 1.0) > warmup_cosine(0.8, 1.0) > warmup_cosine(1.0, 1.0)
    assert warmup_cosine(1.0, 1.0) < 1e-5


@pytest.mark.parametrize("n,batch,min_size", [(150, 64, 1), (150, 64, 2), (129, 64, 2), (129, 64, 1), (128, 64, 2)])
def test_every_epoch_is_a_permutation_in_the_promised_number_of_batches(n: int, batch: int, min_size: int) -> None:
    it = epoch_batches(n, batch, torch.Generator().manual_seed(0), min_size)
    per_epoch = batches_per_epoch(n, batch, min_size)
    for _ in range(3):
        seen = torch.cat([next(it) for _ in range(per_epoch)])
        dropped = n % batch if 0 < n % batch < min_size else 0  # a one-sample remnant cannot train batch norm
        assert len(seen) == n - dropped and len(set(seen.tolist())) == len(seen)


@pytest.mark.parametrize("kind", ["one_cycle", "cosine", "warmup_cosine"])
def test_each_schedule_fits_a_linear_model(kind: str) -> None:
    torch.manual_seed(0)
    x, y = _regression()
    model = nn.Linear(4, 1)
    with torch.no_grad():
        before = float(_mse(x, y, model(x)))
    result = fit(model, _batches(x, y, 16), _mse, Schedule(60, batches_per_epoch(64, 16), 0.05, kind))
    after = float(_mse(x, y, model(x).detach()))
    assert after < 0.01 * before and len(result.history) == 60 and not result.stopped_on_budget


def test_a_cpu_budget_stops_the_run_early_with_the_lr_annealed() -> None:
    """The budget is the process's CPU time: a run with far more steps than it can afford stops when the budget
    is spent, and its last steps ran at the end of the cosine (LR near 0), not at the peak."""
    torch.manual_seed(0)
    x, y = torch.randn(256, 64), torch.randn(256, 1)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))
    schedule = Schedule(100_000, 4, 0.01, "warmup_cosine", cpu_minutes=0.01)  # 0.6 s of CPU, 400,000 steps
    result = fit(model, _batches(x, y, 64), _mse, schedule)
    lrs = [h["lr"] for h in result.history if h["lr"] == h["lr"]]
    assert result.stopped_on_budget and 3 < len(result.history) < schedule.epochs
    assert max(lrs) > 0.9 * 0.01 and lrs[-1] < 0.05 * 0.01


def test_select_keeps_the_best_epochs_weights() -> None:
    torch.manual_seed(0)
    x, y = _regression()
    model = nn.Linear(4, 1)
    scores = iter([1.0, 5.0, 2.0, 0.0])
    snapshots: list[torch.Tensor] = []

    def select(m: nn.Module) -> float:
        snapshots.append(m.weight.detach().clone())
        return next(scores)

    result = fit(model, _batches(x, y, 16), _mse, Schedule(4, 4, 0.05, "cosine"), select=select)
    assert result.best_epoch == 1 and result.best_score == 5.0
    assert torch.equal(model.weight, snapshots[1]) and not torch.equal(model.weight, snapshots[-1])


def test_a_budget_needs_the_time_following_schedule() -> None:
    with pytest.raises(ValueError, match="cpu_minutes"):
        Schedule(1, 1, 0.1, "one_cycle", cpu_minutes=1.0)
    with pytest.raises(ValueError, match="not one of"):
        Schedule(1, 1, 0.1, "step")
