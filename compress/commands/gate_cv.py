"""`fetal-compress gate-cv RESULT`: choose and judge the outline-uncertainty gate on a cv-biometry run."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate-cv", help="choose the HC-spread gate on a cv-biometry result and judge it by the rule")
    p.add_argument("result", type=Path, help="a cv_k<folds><tag>.json whose rows carry hc_spread_rel")
    p.add_argument("--max-unanswered", type=float, default=0.015,
                   help="fraction of images allowed without an answer, gate included (default 0.015)")
    p.add_argument("--threshold", type=float, default=None, help="judge this S instead of choosing one")
    p.add_argument("--min-gain", type=float, default=0.10, help="mm the gate must gain (default 0.10)")
    p.add_argument("--min-ratio", type=float, default=2.0,
                   help="refused heads' MAE over the ungated MAE it must reach (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.compare import load_rows
    from compress.biometry.gate import format_report, gate_report

    report = gate_report(load_rows(args.result), args.max_unanswered, args.threshold)
    print(f"result {args.result}")
    print(format_report(report, args.min_gain, args.min_ratio))
    return 0
