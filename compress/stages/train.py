"""Stage 1, train: the student, from the data, by the recipe's `student` and `train` sections.

The student family comes from the registry, starts from scratch, from SonoNet-16's published filters
(`student.init: sononet16`) or from a checkpoint, and is trained by compress.training.fit on the task's
batches: on the labels alone, or (teacher enabled) on the teacher's logits softened by `distill.temperature`
plus the labels, optionally matching one intermediate feature map. Gated against the teacher when there is one.
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from compress.distill_loss import distillation_loss
from compress.pipeline.config import RECIPE, sononet_weights
from compress.pipeline.manifest import git_commit
from compress.pipeline.registry import STAGES
from compress.pipeline.workdir import StageOutcome
from compress.stages.common import StageContext, load_state_into, save_module, torch_predict
from compress.stages.export import profile_torch
from compress.training import FitResult, Schedule, fit
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
    """The trained teacher: from teacher.checkpoint, or (smoke runs) trained here for teacher.train_epochs."""
    cfg, task = ctx.cfg.teacher, ctx.task
    torch.manual_seed(ctx.cfg.seed)
    teacher = task.build_teacher(cfg.family, cfg.width_mult)
    if cfg.checkpoint == RECIPE:
        return task.recipe_teacher(teacher).eval()
    if cfg.checkpoint is not None:
        return task.load_teacher(teacher, ctx.cfg.resolve(cfg.checkpoint)).eval()
    bs = ctx.cfg.train.batch_size
    sched = Schedule(cfg.train_epochs, task.steps_per_epoch(bs), 2e-3, "cosine")
    with ctx.bar(sched.total_steps, "teacher") as bar:
        fit(teacher, task.train_batches(bs, ctx.cfg.seed + 1), lambda x, y, out: task.hard_loss(out, y), sched, bar)
    return teacher.eval()


def initial_student(ctx: StageContext) -> nn.Module:
    """The student before training: its family at its width, filled from SonoNet-16 or a checkpoint if asked."""
    cfg, task = ctx.cfg, ctx.task
    torch.manual_seed(cfg.seed)
    student = task.build_student(cfg.student.family, cfg.student.width_mult)
    if cfg.init_checkpoint is not None:
        load_state_into(student, cfg.init_checkpoint, "student", task.info.input_shape[2:])
    elif cfg.student.init == "sononet16":
        from compress.nets.families import family

        fill = family(cfg.student.family).from_sononet
        if fill is None:
            raise ConfigError(f"student.init sononet16: family {cfg.student.family!r} cannot be cut from SonoNet-16; "
                              "use scratch or a checkpoint")
        fill(student, sononet_weights(ctx.data_dir), torch.from_numpy(task.init_frames(64, cfg.seed)))
    return student


def _distill_loss(ctx: StageContext, teacher: nn.Module, student: nn.Module) -> tuple[Any, list[nn.Parameter]]:
    cfg, task, info = ctx.cfg.distill, ctx.task, ctx.task.info
    feature_loss, extra = None, []
    if cfg.feature_layers and cfg.feature_weight > 0:
        t_tap = FeatureTap(_module(teacher, cfg.feature_layers[0], "teacher"))
        s_tap = FeatureTap(_module(student, cfg.feature_layers[1], "student"))
        with torch.no_grad():
            teacher(torch.zeros(info.teacher_input_shape or info.input_shape)), student(torch.zeros(info.input_shape))
        proj = nn.Conv2d(s_tap.value.shape[1], t_tap.value.shape[1], 1)
        extra = list(proj.parameters())

        def feature_loss() -> torch.Tensor:
            fs, ft = proj(s_tap.value), t_tap.value
            if fs.shape[-2:] != ft.shape[-2:]:
                fs = F.interpolate(fs, size=ft.shape[-2:], mode="bilinear", align_corners=False)
            return F.mse_loss(fs, ft)

    def loss_fn(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t_out = task.teacher_logits(teacher, x, y)
        loss = distillation_loss(out, t_out, task.hard_loss(out, y), cfg.temperature, cfg.alpha)
        return loss + cfg.feature_weight * feature_loss() if feature_loss is not None else loss

    return loss_fn, extra


def train_student(ctx: StageContext, student: nn.Module, teacher: nn.Module | None) -> FitResult:
    cfg, task = ctx.cfg.train, ctx.task
    if teacher is None:
        loss_fn, extra = (lambda x, y, out: task.hard_loss(out, y)), []
    else:
        loss_fn, extra = _distill_loss(ctx, teacher, student)
    sched = Schedule(cfg.epochs, task.steps_per_epoch(cfg.batch_size), cfg.lr, cfg.schedule, cfg.weight_decay,
                     cfg.warmup)
    select = task.validation_score if cfg.select == "best_val" else None
    with ctx.bar(sched.total_steps, "train") as bar:
        return fit(student, task.train_batches(cfg.batch_size, ctx.cfg.seed), loss_fn, sched, bar, select, extra)


@STAGES.register("train")
def run(ctx: StageContext) -> StageOutcome:
    t0 = time.perf_counter()
    task, info = ctx.task, ctx.task.info
    teacher = None
    if ctx.cfg.teacher.enabled:
        teacher = teacher_model(ctx)
        for p in teacher.parameters():
            p.requires_grad_(False)
        save_module(teacher, ctx.work.path("teacher"))
        ctx.work.remember("teacher", {"metrics": task.teacher_metrics(teacher),
                                      "profile": profile_torch(teacher, info.teacher_input_shape or info.input_shape)})
    student = initial_student(ctx)
    fitted = train_student(ctx, student, teacher) if ctx.cfg.train.epochs else FitResult()
    save_module(student, ctx.work.path("train"))
    (ctx.work.root / "train_history.json").write_text(json.dumps(fitted.history, indent=1), encoding="utf-8")
    metrics = task.evaluate(torch_predict(student))
    value = metrics[info.metric]
    ref_name, ref = "none (no teacher)", value
    if teacher is not None:
        ref_name, ref = "teacher", ctx.work.recall("teacher")["metrics"][info.metric]
    notes = {"family": ctx.cfg.student.family, "width_mult": ctx.cfg.student.width_mult, "init": ctx.cfg.student.init,
             "epochs": ctx.cfg.train.epochs, "steps": ctx.cfg.train.epochs * task.steps_per_epoch(ctx.cfg.train.batch_size),
             "teacher": ctx.cfg.teacher.family or ("task teacher" if teacher is not None else None),
             "select": ctx.cfg.train.select, "best_epoch": fitted.best_epoch, "best_score": fitted.best_score,
             "final_loss": fitted.final_loss if fitted.history else None, "git_commit": git_commit(ctx.cfg.base)}
    return StageOutcome("train", info.metric, ref_name, ref, value, task.worse_by(ref, value), ctx.cfg.train.budget,
                        metrics, profile_torch(student, info.input_shape), notes, time.perf_counter() - t0)
