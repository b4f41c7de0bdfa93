"""`fetal-compress pipeline --task planes|biometry --config FILE`: every stage of the recipe, then the bundle."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command
from compress.pipeline.registry import ORDER


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="train, prune, calibrate, export, quantize (each accuracy-gated), write a bundle")
    add_arguments(p)
    p.add_argument("--from", dest="from_stage", choices=ORDER, default=None,
                   help="start at this stage, reusing the earlier stages' artifacts in the work dir (e.g. after a "
                        "change to quantisation, without training again)")
    p.set_defaults(func=lambda args: run_command(args, ORDER, write=True))
