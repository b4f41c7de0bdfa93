"""`fetal-compress pipeline --task planes|biometry --config FILE`: all stages, then the model bundle."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command
from compress.pipeline.registry import ORDER


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="distill, prune, export, quantize (each accuracy-gated), write a bundle")
    add_arguments(p)
    p.set_defaults(func=lambda args: run_command(args, ORDER))
