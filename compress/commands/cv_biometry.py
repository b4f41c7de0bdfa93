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
    p.add_argument("--fold", type=int, default=None,
                   help="train and measure this fold only (0-based), e.g. one fold per core; a later run without "
                        "--fold reuses every fold a finished run of the same recipe left, and writes the result")
    p.add_argument("--train-fraction", type=float, default=1.0,
                   help="use this share of each fold's training subjects (nested subsets, for a learning curve); "
                        "raise --epochs by 1/fraction to keep the number of training steps")
    p.add_argument("--first-pass", type=Path, default=None,
                   help="with --crop-margin: each fold's whole-frame student, a path with {fold} "
                        "(e.g. runs/biometry/cv/student_sono_cv{fold}.pt), behind which the refine pass is measured")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.crossval import run_cv
    from compress.biometry.train import TrainConfig
    from edge.errors import ConfigError

    if args.folds < 2:
        raise ConfigError(f"--folds {args.folds} must be >= 2")
    if args.fold is not None and not 0 <= args.fold < args.folds:
        raise ConfigError(f"--fold {args.fold} does not exist with --folds {args.folds} (0 to {args.folds - 1})")
    if args.first_pass is not None and "{fold}" not in str(args.first_pass):
        raise ConfigError(f"--first-pass {args.first_pass}: name one student per fold with {{fold}} in the path; "
                          "a single student trained on all images would have seen every fold's held-out images")
    cfg = TrainConfig(role="student", train_fraction=args.train_fraction, **recipe_options(args))
    s = run_cv(cfg, args.folds, args.limit, args.fold, args.first_pass)["summary"]
    if args.fold is not None:
        print(f"fold {args.fold} of {args.folds} ({s['n_images']} images): HC MAE {s['hc_mae_mm']:.2f} mm; run "
              "again without --fold once every fold is done to write the CV result")
        return 0
    print(f"{args.folds}-fold CV over {s['n_images']} train+val images: HC MAE {s['hc_mae_mm']:.2f} mm "
          f"(+- {s['hc_mae_se_mm']:.2f} standard error), median {s['hc_median_ae_mm']:.2f}, bias "
          f"{s['hc_bias_mm']:+.2f}, {s['no_answer']} without an answer")
    print(json.dumps(s))
    return 0
