"""`fetal-compress cv-biometry`: subject-grouped k-fold CV of a head-student recipe over train + val subjects."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compress.commands.train_biometry import add_recipe_arguments, recipe_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cv-biometry", help="k-fold out-of-fold HC error of a head-student recipe (train + val "
                                           "subjects; test never touched)")
    add_recipe_arguments(p, epochs=40, width_mult=1.5)
    p.add_argument("--out", type=Path, default=Path("runs/biometry/cv"), help="fold checkpoints and results")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--limit", type=int, default=None, help="first N images of each split (smoke runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.crossval import run_cv
    from compress.biometry.train import TrainConfig
    from edge.errors import ConfigError

    if args.folds < 2:
        raise ConfigError(f"--folds {args.folds} must be >= 2")
    s = run_cv(TrainConfig(role="student", **recipe_options(args)), args.folds, args.limit)["summary"]
    print(f"{args.folds}-fold CV over {s['n_images']} train+val images: HC MAE {s['hc_mae_mm']:.2f} mm "
          f"(+- {s['hc_mae_se_mm']:.2f} standard error), median {s['hc_median_ae_mm']:.2f}, bias "
          f"{s['hc_bias_mm']:+.2f}, {s['no_answer']} without an answer")
    print(json.dumps(s))
    return 0
