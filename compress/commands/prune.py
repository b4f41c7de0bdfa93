"""`fetal-compress prune --config FILE`: one pipeline stage alone, structured pruning + fine-tuning (reads WORK/student.pt; writes WORK/pruned.pt)."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prune", help="structured pruning + fine-tuning (reads WORK/student.pt; writes WORK/pruned.pt)")
    add_arguments(p)
    p.set_defaults(func=lambda args: run_command(args, ("prune",)))
