"""Stage 2, prune: structured channel pruning with torch-pruning (channels are removed, so parameters, MACs
and the ONNX file shrink), then fine-tuning by distillation from the teacher. The ratio comes from the config
or is searched (bisection) so that MACs <= max_macs_vs_teacher x the teacher's. Gated against the student."""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from compress.distill_loss import distillation_loss
from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import StageContext, load_module, params_and_macs, save_module, torch_predict, train
from compress.stages.export import profile_torch
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


@STAGES.register("prune")
def run(ctx: StageContext) -> StageOutcome:
    t0 = time.perf_counter()
    cfg, task, info = ctx.cfg.prune, ctx.task, ctx.task.info
    student = load_module(ctx.work.require("distill", "prune"))
    before = params_and_macs(student, info.input_shape)
    if cfg.ratio is not None:
        ratio = cfg.ratio
    else:
        teacher_macs = (ctx.work.recall("teacher") or {}).get("profile", {}).get("macs")
        if not teacher_macs:
            raise ConfigError("prune.max_macs_vs_teacher needs the teacher's MACs from the distill stage; "
                              "run `fetal-compress distill` with this config first")
        ratio = search_ratio(student, cfg.max_macs_vs_teacher * teacher_macs, info.input_shape)
    pruned = prune_model(student, ratio, info.input_shape)
    after = params_and_macs(pruned, info.input_shape)
    teacher = load_module(ctx.work.require("teacher", "prune"))
    dcfg = ctx.cfg.distill

    def loss_fn(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t_out = task.teacher_logits(teacher, x, y)
        return distillation_loss(out, t_out, task.hard_loss(out, y), dcfg.temperature, dcfg.alpha)

    train(pruned, task.train_batches(cfg.batch_size, ctx.cfg.seed + 2), cfg.finetune_steps, cfg.lr, loss_fn, ctx,
          "prune")
    save_module(pruned, ctx.work.path("prune"))
    metrics = task.evaluate(torch_predict(pruned))
    reference = ctx.work.outcome("distill")["value"]
    value = metrics[info.metric]
    return StageOutcome("prune", info.metric, "distill", reference, value, task.worse_by(reference, value),
                        cfg.budget, metrics, profile_torch(pruned, info.input_shape),
                        {"ratio": ratio, "searched": cfg.ratio is None, "params_before": before[0],
                         "macs_before": before[1], "params_after": after[0], "macs_after": after[1],
                         "finetune_steps": cfg.finetune_steps}, time.perf_counter() - t0)
