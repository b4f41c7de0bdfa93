"""Stage 1, distill: train the student on the teacher's softened logits (temperature T) plus the task loss,
optionally matching one intermediate feature map (1x1 projection, MSE). Gated against the teacher."""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from compress.distill_loss import distillation_loss
from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import StageContext, load_state_into, save_module, torch_predict, train
from compress.stages.export import profile_torch
from edge.errors import ConfigError


def _module(model: nn.Module, name: str, role: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        some = [n for n in modules if n][:12]
        raise ConfigError(f"distill.feature_layers: {role} has no module {name!r}; some valid names: {some}")
    return modules[name]


class FeatureTap:
    """Captures one module's output on every forward pass."""

    def __init__(self, module: nn.Module) -> None:
        self.value: torch.Tensor | None = None
        module.register_forward_hook(self._hook)

    def _hook(self, _m: nn.Module, _i: Any, out: torch.Tensor) -> None:
        self.value = out


def teacher_model(ctx: StageContext) -> nn.Module:
    """The trained teacher: from teacher.checkpoint, or (smoke runs) trained from scratch for train_steps."""
    cfg, task = ctx.cfg.teacher, ctx.task
    torch.manual_seed(ctx.cfg.seed)
    teacher = task.build_teacher()
    if cfg.checkpoint is not None:
        teacher = task.load_teacher(teacher, ctx.cfg.resolve(cfg.checkpoint))
    else:
        train(teacher, task.train_batches(ctx.cfg.distill.batch_size, ctx.cfg.seed + 1), cfg.train_steps, 2e-3,
              lambda x, y, out: task.hard_loss(out, y), ctx, "teacher")
    return teacher.eval()


def _without_teacher(ctx: StageContext, t0: float) -> StageOutcome:
    """teacher.enabled false: the warm-start student (trained on labels alone) goes on as it is; nothing to
    compare it with, so the gate is against itself (the config check guarantees 0 steps and no pruning)."""
    task, info = ctx.task, ctx.task.info
    student = task.build_student(ctx.cfg.student.width_mult)
    load_state_into(student, ctx.cfg.resolve(ctx.cfg.student.checkpoint), "student", info.input_shape[2:])
    save_module(student, ctx.work.path("distill"))
    metrics = task.evaluate(torch_predict(student))
    value = metrics[info.metric]
    return StageOutcome("distill", info.metric, "none (no teacher)", value, value, 0.0, ctx.cfg.distill.budget,
                        metrics, profile_torch(student, info.input_shape),
                        {"steps": 0, "teacher": None, "width_mult": ctx.cfg.student.width_mult},
                        time.perf_counter() - t0)


@STAGES.register("distill")
def run(ctx: StageContext) -> StageOutcome:
    t0 = time.perf_counter()
    if not ctx.cfg.teacher.enabled:
        return _without_teacher(ctx, t0)
    cfg, task, info = ctx.cfg.distill, ctx.task, ctx.task.info
    teacher = teacher_model(ctx)
    for p in teacher.parameters():
        p.requires_grad_(False)
    save_module(teacher, ctx.work.path("teacher"))
    teacher_metrics = task.teacher_metrics(teacher)
    ctx.work.remember("teacher", {"metrics": teacher_metrics,
                                  "profile": profile_torch(teacher, info.teacher_input_shape or info.input_shape)})

    torch.manual_seed(ctx.cfg.seed)
    student = task.build_student(ctx.cfg.student.width_mult)
    if ctx.cfg.student.checkpoint:
        load_state_into(student, ctx.cfg.resolve(ctx.cfg.student.checkpoint), "student", info.input_shape[2:])
    extra: list[nn.Parameter] = []
    feature_loss = None
    if cfg.feature_layers and cfg.feature_weight > 0:
        t_tap = FeatureTap(_module(teacher, cfg.feature_layers[0], "teacher"))
        s_tap = FeatureTap(_module(student, cfg.feature_layers[1], "student"))
        with torch.no_grad():
            teacher(torch.zeros(info.teacher_input_shape or info.input_shape)), student(torch.zeros(info.input_shape))
        proj = nn.Conv2d(s_tap.value.shape[1], t_tap.value.shape[1], 1)
        extra = list(proj.parameters())

        def feature_loss() -> torch.Tensor:
            fs = proj(s_tap.value)
            ft = t_tap.value
            if fs.shape[-2:] != ft.shape[-2:]:
                fs = F.interpolate(fs, size=ft.shape[-2:], mode="bilinear", align_corners=False)
            return F.mse_loss(fs, ft)

    def loss_fn(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t_out = task.teacher_logits(teacher, x, y)
        loss = distillation_loss(out, t_out, task.hard_loss(out, y), cfg.temperature, cfg.alpha)
        return loss + cfg.feature_weight * feature_loss() if feature_loss is not None else loss

    final_loss = train(student, task.train_batches(cfg.batch_size, ctx.cfg.seed), cfg.steps, cfg.lr, loss_fn, ctx,
                       "distill", extra)
    save_module(student, ctx.work.path("distill"))
    metrics = task.evaluate(torch_predict(student))
    ref, value = teacher_metrics[info.metric], metrics[info.metric]
    return StageOutcome("distill", info.metric, "teacher", ref, value, task.worse_by(ref, value), cfg.budget,
                        metrics, profile_torch(student, info.input_shape),
                        {"steps": cfg.steps, "temperature": cfg.temperature, "alpha": cfg.alpha,
                         "feature_layers": list(cfg.feature_layers or []), "final_loss": final_loss if cfg.steps else None,
                         "width_mult": ctx.cfg.student.width_mult}, time.perf_counter() - t0)
