"""`fetal-compress compare-cv BASE NEW`: two cv-biometry runs, paired image by image, against the ship rule."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare-cv", help="paired comparison of two cv-biometry results (cv_k<folds><tag>.json)")
    p.add_argument("base", type=Path, help="the current recipe's CV result")
    p.add_argument("new", type=Path, help="the candidate recipe's CV result")
    p.add_argument("--min-gain", type=float, default=0.10, help="mm the candidate must gain (default 0.10)")
    p.add_argument("--se", type=float, default=2.0, help="paired standard errors it must gain by (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.compare import format_comparison, load_rows, paired

    diffs, unanswered = paired(load_rows(args.base), load_rows(args.new))
    print(f"base {args.base}\nnew  {args.new}")
    print(format_comparison(diffs, unanswered, args.min_gain, args.se))
    return 0
