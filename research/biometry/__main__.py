"""`python -m research.biometry cv|compare|gate|curve ...` (run from the project root): see research/README.md."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path


def _cv(args: argparse.Namespace) -> int:
    import research.biometry.nets  # noqa: F401  (registers the research families)
    from compress.paths import require_data_dir
    from compress.pipeline.config import load_pipeline_config
    from research.biometry.crossval import run_cv

    cfg = load_pipeline_config(args.config)
    cfg = replace(cfg, seed=args.seed if args.seed is not None else cfg.seed,
                  student=replace(cfg.student, family=args.family or cfg.student.family),
                  train=replace(cfg.train, epochs=args.epochs or cfg.train.epochs, lr=args.lr or cfg.train.lr))
    s = run_cv(cfg, require_data_dir(args.data), args.out, args.tag, args.folds, args.limit, args.fold,
               args.fraction)["summary"]
    print(json.dumps(s))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from research.biometry.compare import format_comparison, load_rows, paired

    diffs, unanswered = paired(load_rows(args.base), load_rows(args.new))
    print(f"base {args.base}\nnew  {args.new}")
    print(format_comparison(diffs, unanswered, args.min_gain, args.se))
    return 0


def _gate(args: argparse.Namespace) -> int:
    from research.biometry.compare import load_rows
    from research.biometry.gate import format_report, gate_report

    report = gate_report(load_rows(args.result), args.max_unanswered, args.threshold)
    print(f"result {args.result}")
    print(format_report(report, args.min_gain, args.min_ratio))
    return 0


def _curve(args: argparse.Namespace) -> int:
    from research.biometry.learning_curve import run

    return run(args)


def parser() -> argparse.ArgumentParser:
    from research.biometry.learning_curve import add_arguments

    p = argparse.ArgumentParser(prog="python -m research.biometry", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    cv = sub.add_parser("cv", help="k-fold out-of-fold HC error of a head recipe (train + val subjects)")
    cv.add_argument("--config", type=Path, default=Path("compress/configs/biometry.yaml"), help="the recipe")
    cv.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    cv.add_argument("--out", type=Path, default=Path("runs/research/cv"))
    cv.add_argument("--tag", default="", help="names this recipe's files: cv_k<folds><tag>.json")
    cv.add_argument("--folds", type=int, default=3)
    cv.add_argument("--fold", type=int, default=None, help="this fold only (one per core; a later plain run gathers)")
    cv.add_argument("--fraction", type=float, default=1.0, help="share of each fold's training subjects (nested)")
    cv.add_argument("--limit", type=int, default=None, help="first N images of each split (smoke runs)")
    cv.add_argument("--epochs", type=int, default=None)
    cv.add_argument("--lr", type=float, default=None)
    cv.add_argument("--family", default=None, help="student family, e.g. sono-seg-l (research/biometry/nets.py)")
    cv.add_argument("--seed", type=int, default=None)
    cv.set_defaults(func=_cv)
    cmp_ = sub.add_parser("compare", help="paired comparison of two CV results against the ship rule")
    cmp_.add_argument("base", type=Path)
    cmp_.add_argument("new", type=Path)
    cmp_.add_argument("--min-gain", type=float, default=0.10)
    cmp_.add_argument("--se", type=float, default=2.0)
    cmp_.set_defaults(func=_compare)
    gate = sub.add_parser("gate", help="choose and judge the HC-spread gate on a CV result")
    gate.add_argument("result", type=Path)
    gate.add_argument("--max-unanswered", type=float, default=0.015)
    gate.add_argument("--threshold", type=float, default=None)
    gate.add_argument("--min-gain", type=float, default=0.10)
    gate.add_argument("--min-ratio", type=float, default=2.0)
    gate.set_defaults(func=_gate)
    curve = sub.add_parser("curve", help="out-of-fold HC MAE against training-set size (--fraction runs)")
    add_arguments(curve)
    curve.set_defaults(func=_curve)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
