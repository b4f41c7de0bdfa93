"""`fetal-compress distill --config FILE`: one pipeline stage alone, distil the teacher into the student (reads the teacher checkpoint; writes WORK/student.pt)."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="distil the teacher into the student (reads the teacher checkpoint; writes WORK/student.pt)")
    add_arguments(p)
    p.set_defaults(func=lambda args: run_command(args, ("distill",)))
