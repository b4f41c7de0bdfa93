"""Stage 3, calibrate: fit the runtime's post-processing (biometry: the mask threshold; planes: temperature and
unknown threshold) for the model that will be exported, on validation data only. Every later stage evaluates
with it and the bundle's manifest carries it. Gated against the same model with the default post-processing."""

from __future__ import annotations

import time

from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import StageContext, load_module, torch_predict


def source_stage(ctx: StageContext) -> str:
    """The stage whose model goes on to export: the pruned student, or the trained one when pruning is off."""
    return "prune" if ctx.cfg.prune.enabled else "train"


@STAGES.register("calibrate")
def run(ctx: StageContext) -> StageOutcome:
    t0 = time.perf_counter()
    task, info, src = ctx.task, ctx.task.info, source_stage(ctx)
    model = load_module(ctx.work.require(src, "calibrate"))
    reference = ctx.work.outcome(src)["value"]
    predict = torch_predict(model)
    fitted = task.calibrate(predict)
    metrics = task.evaluate(predict)
    value = metrics[info.metric]
    return StageOutcome("calibrate", info.metric, src, reference, value, task.worse_by(reference, value),
                        ctx.cfg.calibrate.budget, metrics, {}, {"manifest": fitted}, time.perf_counter() - t0)


def restore(ctx: StageContext) -> None:
    """Re-apply the post-processing a finished calibrate stage fitted (for stages run alone after it)."""
    done = ctx.work.outcome("calibrate")
    if done:
        ctx.task.use_calibration(done["notes"]["manifest"])
