"""Stage 2, prune: structured channel pruning with torch-pruning (channels are removed, so parameters, MACs
and the ONNX file shrink), then fine-tuning (by distillation from the teacher, or on the labels without one).
The ratios come from the config (tried in order, the first within budget kept) or one is searched on a grid so
that MACs <= max_macs_vs_teacher x the teacher's. Gated against the trained student."""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from compress.distill_loss import distillation_loss
from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import StageContext, load_module, params_and_macs, save_module, torch_predict
from compress.stages.export import profile_torch
from compress.training import Schedule, fit
from edge.errors import ConfigError

GRID = tuple(round(0.05 * i, 2) for i in range(1, 19))  # 0.05 .. 0.9


def output_layer(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    """The last Conv/Linear to run: its output channels are the model's outputs and must not be pruned."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d))]
    with torch.no_grad():
        model.eval()(torch.zeros(input_shape))
    for h in hooks:
        h.remove()
    if not order:
        raise ConfigError(f"{type(model).__name__} has no Conv2d/Linear layer to prune")
    return order[-1]


def prune_model(model: nn.Module, ratio: float, input_shape: tuple[int, ...]) -> nn.Module:
    """Remove `ratio` of the channels of every prunable layer (L2 magnitude, groups kept consistent)."""
    import torch_pruning as tp

    if ratio <= 0:
        return model
    example = torch.zeros(input_shape)
    pruner = tp.pruner.MetaPruner(model, example, importance=tp.importance.MagnitudeImportance(p=2),
                                  pruning_ratio=ratio, ignored_layers=[output_layer(model, input_shape)])
    pruner.step()
    return model.eval()


def search_ratio(model: nn.Module, max_macs: float, input_shape: tuple[int, ...]) -> float:
    """Smallest ratio on a 0.05 grid whose pruned model has MACs <= max_macs.

    A grid, not bisection: torch-pruning skips groups that a large ratio would empty, so MACs are not
    monotonic in the ratio (seen on depthwise-separable students)."""
    if params_and_macs(model, input_shape)[1] <= max_macs:
        return 0.0
    tried = {}
    for ratio in GRID:
        macs = params_and_macs(prune_model(copy.deepcopy(model), ratio, input_shape), input_shape)[1]
        tried[ratio] = macs
        if macs <= max_macs:
            return ratio
    best = min(tried, key=tried.get)
    raise ConfigError(f"prune.max_macs_vs_teacher: no pruning ratio up to {GRID[-1]} reaches {max_macs:.3g} MACs "
                      f"(fewest: {tried[best]:.3g} at ratio {best}); raise the budget or use a smaller "
                      "student.width_mult")


def _finetune(ctx: StageContext, pruned: nn.Module, teacher: nn.Module | None) -> None:
    """Fine-tune a pruned student: by distillation from the teacher, or on the labels when there is none."""
    cfg, task, dcfg = ctx.cfg.prune, ctx.task, ctx.cfg.distill

    def loss_fn(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        hard = task.hard_loss(out, y)
        if teacher is None:
            return hard
        with torch.no_grad():
            t_out = task.teacher_logits(teacher, x, y)
        return distillation_loss(out, t_out, hard, dcfg.temperature, dcfg.alpha)

    sched = Schedule(1, cfg.finetune_steps, cfg.lr, "cosine")
    with ctx.bar(cfg.finetune_steps, "prune") as bar:
        fit(pruned, task.train_batches(cfg.batch_size, ctx.cfg.seed + 2), loss_fn, sched, bar)


def _ratios(ctx: StageContext, student: nn.Module) -> list[float]:
    cfg, info = ctx.cfg.prune, ctx.task.info
    if cfg.ratios:
        return list(cfg.ratios)
    teacher_macs = (ctx.work.recall("teacher") or {}).get("profile", {}).get("macs")
    if not teacher_macs:
        raise ConfigError("prune.max_macs_vs_teacher needs the teacher's MACs from the train stage; "
                          "run `fetal-compress train` with this config first")
    return [search_ratio(student, cfg.max_macs_vs_teacher * teacher_macs, info.input_shape)]


@STAGES.register("prune")
def run(ctx: StageContext) -> StageOutcome:
    """Try each ratio in turn (fine-tuned, then gated against the trained student); keep the first within
    budget. When none is, the trained student goes on unpruned: pruning is used wherever its gate allows."""
    t0 = time.perf_counter()
    cfg, task, info = ctx.cfg.prune, ctx.task, ctx.task.info
    student = load_module(ctx.work.require("train", "prune"))
    reference = ctx.work.outcome("train")["value"]
    teacher_path = ctx.work.path("teacher")
    teacher = load_module(teacher_path) if ctx.cfg.teacher.enabled and teacher_path.is_file() else None
    before = params_and_macs(student, info.input_shape)
    attempts: list[dict] = []
    kept, metrics, ratio = student, None, 0.0
    for r in _ratios(ctx, student):
        pruned = prune_model(copy.deepcopy(student), r, info.input_shape)
        _finetune(ctx, pruned, teacher)
        m = task.evaluate(torch_predict(pruned))
        worse = task.worse_by(reference, m[info.metric])
        attempts.append({"ratio": r, info.metric: m[info.metric], "worse_by": worse,
                         "macs": params_and_macs(pruned, info.input_shape)[1]})
        if worse <= cfg.budget + 1e-9:
            kept, metrics, ratio = pruned, m, r
            break
    if metrics is None:  # no ratio within budget: the unpruned student, as the train stage measured it
        metrics = ctx.work.outcome("train")["metrics"]
    save_module(kept, ctx.work.path("prune"))
    after = params_and_macs(kept, info.input_shape)
    value = metrics[info.metric]
    return StageOutcome("prune", info.metric, "train", reference, value, task.worse_by(reference, value),
                        cfg.budget, metrics, profile_torch(kept, info.input_shape),
                        {"ratio": ratio, "attempts": attempts, "searched": not cfg.ratios,
                         "params_before": before[0], "macs_before": before[1], "params_after": after[0],
                         "macs_after": after[1], "finetune_steps": cfg.finetune_steps}, time.perf_counter() - t0)
