"""The pipeline runner: builds the task once, runs the stages in order (each with its own progress bar),
gates each on its accuracy budget, and writes the bundle only when every stage passed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from compress.pipeline.config import PipelineConfig, check_inputs
from compress.pipeline.registry import ORDER, stage
from compress.pipeline.report import build_report, report_markdown
from compress.pipeline.workdir import StageOutcome, WorkDir
from compress.tasks.base import TaskAdapter
from edge.errors import ModelError

log = logging.getLogger(__name__)


class AccuracyGateError(ModelError):
    """A stage lost more accuracy than its budget allows; nothing is shipped."""


@dataclass
class PipelineResult:
    outcomes: list[StageOutcome]
    bundle: Path | None
    report_path: Path


def _context(cfg: PipelineConfig, data_dir: Path, progress: bool, task: TaskAdapter | None):  # -> StageContext
    import torch

    from compress.stages.common import StageContext
    from compress.tasks import create_task

    torch.set_num_threads(cfg.threads)
    task = task or create_task(cfg.task, data_dir, cfg.task_options)
    return StageContext(cfg, task, WorkDir(cfg.work_dir), Path(data_dir), progress)


def skipped(cfg: PipelineConfig, name: str) -> bool:
    return (name == "prune" and not cfg.prune.enabled) or (name == "calibrate" and not cfg.calibrate.enabled)


def run_stages(cfg: PipelineConfig, data_dir: Path, names: Sequence[str] = ORDER, progress: bool = True,
               write: bool = True, task: TaskAdapter | None = None) -> PipelineResult:
    """Run `names` in order; raise AccuracyGateError (report written) at the first stage over budget.

    `task` overrides the adapter built from the config (tests use it to inject a task). Every file the recipe
    names is checked first, so a bad recipe fails before any work starts."""
    check_inputs(cfg, Path(data_dir))
    from compress.stages.calibrate import restore

    ctx = _context(cfg, data_dir, progress, task)
    ctx.work.invalidate(ORDER[ORDER.index(names[0]):])  # a report never mixes this run with an older one
    restore(ctx)  # post-processing calibrated by an earlier run of the stages before these
    log.info("pipeline config in force: %s", cfg)
    outcomes: list[StageOutcome] = []
    for name in names:
        if skipped(cfg, name):
            continue
        outcome = stage(name)(ctx)
        ctx.work.record(outcome)
        outcomes.append(outcome)
        if not outcome.passed:
            path = _write_report(ctx, "failed_report")
            raise AccuracyGateError(
                f"stage {name!r} is over its accuracy budget: {outcome.metric} {outcome.value:.4f} vs "
                f"{outcome.reference_name} {outcome.reference:.4f} is worse by {outcome.worse_by:.4f} > "
                f"{name}.budget {outcome.budget}; no bundle written. Report: {path}. Train longer, use a wider "
                "student or a smaller prune ratio, or (if justified) raise the budget")
    report = _write_report(ctx, "report")
    bundle = None
    if write and list(names)[-1] == ORDER[-1]:
        from compress.pipeline.bundle import write_bundle

        bundle = write_bundle(cfg, ctx.task, ctx.work)
    return PipelineResult(outcomes, bundle, report)


def _write_report(ctx, stem: str) -> Path:
    report = build_report(ctx.work.state(), ctx.task.info.metric, ctx.cfg.task)
    path = ctx.work.root / f"{stem}.md"
    path.write_text(report_markdown(report), encoding="utf-8")
    return path
