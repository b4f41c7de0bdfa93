"""`fetal-compress train-biometry`: train the head-segmentation teacher and/or the distilled student."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compress.nets import HEAD_ARCHS, SONO_HEAD_ARCHS
from compress.paths import require_data_dir


def add_recipe_arguments(p: argparse.ArgumentParser, epochs: int = 20, width_mult: float = 1.0) -> None:
    """The student training recipe, shared by train-biometry and cv-biometry."""
    p.add_argument("--data", type=Path, default=None, help="data folder holding hc18/ (default: $FETAL_EDGE_DATA)")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--arch", choices=HEAD_ARCHS, default="ds-seg",
                   help="student network: ds-seg (head-seg <= 1.2.0, depthwise-separable, from scratch), sono-seg "
                        "(encoder cut from SonoNet-16's published filters; fixed widths) or sono-seg-ctx (sono-seg "
                        "with a dilated context block at 1/16)")
    p.add_argument("--width-mult", type=float, default=None,
                   help=f"ds-seg width multiplier (default {width_mult}; sono-seg has fixed widths)")
    p.add_argument("--max-minutes", type=float, default=25.0, help="wall budget per network")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--init", type=Path, default=None,
                   help="start the student from this checkpoint (fine-tune); in cv-biometry a path with {fold} names "
                        "one per fold, e.g. runs/biometry/cv/student_sono_cv{fold}.pt")
    p.add_argument("--boundary-weight", type=float, default=0.0,
                   help="extra loss weight on pixels far from the true outline, reached at 8 model px (0: off)")
    p.add_argument("--tag", default="", help="checkpoint name suffix, e.g. _ft -> student_ft.pt")
    p.add_argument("--seed", type=int, default=0, help="initialisation, shuffling and augmentation seed")
    p.add_argument("--input-size", default="160x240", metavar="HxW",
                   help="model input height x width, each a multiple of 16 (default 160x240, head-seg <= 1.3.0)")
    p.add_argument("--crop-margin", type=float, default=0.0,
                   help="> 0: train a refine network on crops around the head (axes x this margin, e.g. 1.3)")
    p.add_argument("--large-head-weight", type=float, default=1.0,
                   help="draw heads with HC >= 200 mm this many times as often in training (1: uniform)")
    p.set_defaults(default_width=width_mult)


def recipe_options(args: argparse.Namespace) -> dict:
    """Checked TrainConfig keyword arguments from add_recipe_arguments' options."""
    from edge.errors import ConfigError

    if args.epochs < 1 or args.batch < 1:
        raise ConfigError(f"--epochs ({args.epochs}) and --batch ({args.batch}) must be >= 1")
    if args.init is not None and "{fold}" not in str(args.init) and not args.init.is_file():
        raise ConfigError(f"--init checkpoint {args.init} not found")
    if args.arch in SONO_HEAD_ARCHS and args.width_mult not in (None, 1.0):
        raise ConfigError(f"--width-mult {args.width_mult} conflicts with --arch {args.arch} (fixed widths); drop one")
    input_size = parse_input_size(args.input_size)
    if not 0 < args.large_head_weight <= 20:
        raise ConfigError(f"--large-head-weight {args.large_head_weight} must be in (0, 20]")
    if args.crop_margin and not 1.0 <= args.crop_margin <= 3.0:
        raise ConfigError(f"--crop-margin {args.crop_margin} must be 0 (whole frames) or in [1, 3]")
    width_mult = args.width_mult if args.width_mult is not None else (1.0 if args.arch in SONO_HEAD_ARCHS else args.default_width)
    return dict(data=require_data_dir(args.data, "hc18"), out=args.out, epochs=args.epochs, batch=args.batch,
                lr=args.lr, max_minutes=args.max_minutes, threads=args.threads, width_mult=width_mult, arch=args.arch,
                boundary_weight=args.boundary_weight, init=args.init, tag=args.tag, seed=args.seed,
                input_size=input_size, crop_margin=float(args.crop_margin),
                large_head_weight=float(args.large_head_weight))


def parse_input_size(text: str) -> tuple[int, int]:
    """'256x384' -> (256, 384); ConfigError unless it reads as HxW with both sides multiples of 16."""
    from compress.biometry.dataset import check_input_size
    from edge.errors import ConfigError

    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input-size {text!r}: write it as HxW, e.g. 256x384") from None
    try:
        check_input_size((h, w))
    except ValueError as exc:
        raise ConfigError(f"--input-size: {exc}") from None
    return h, w


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-biometry", help="train head segmentation (teacher, then distilled student) on HC18")
    add_recipe_arguments(p)
    p.add_argument("--out", type=Path, default=Path("runs/biometry"), help="checkpoint folder")
    p.add_argument("--role", choices=("teacher", "student", "both"), default="both")
    p.add_argument("--teacher-epochs", type=int, default=None, help="epochs for the teacher (default: --epochs)")
    p.add_argument("--no-distill", action="store_true", help="train the student on labels only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.train import TrainConfig, train
    from edge.errors import ConfigError

    opts = recipe_options(args)
    if "{fold}" in str(args.init):
        raise ConfigError(f"--init {args.init}: one checkpoint per fold is for cv-biometry; give one file here")
    if args.role in ("teacher", "both"):
        t = dict(opts, epochs=args.teacher_epochs or args.epochs, init=None, tag="")
        s = train(TrainConfig(role="teacher", **t))
        print(json.dumps({"role": "teacher", "best_val_dice": s["best_val_dice"], "params": s["params"]}))
    if args.role in ("student", "both"):
        teacher = None if args.no_distill else args.out / "teacher.pt"
        if teacher is not None and not teacher.is_file():
            raise ConfigError(f"teacher checkpoint {teacher} not found; train it first or pass --no-distill")
        s = train(TrainConfig(role="student", teacher=teacher, **opts))
        print(json.dumps({"role": "student", "best_val_dice": s["best_val_dice"], "params": s["params"]}))
    return 0
