"""`fetal-compress export --config FILE`: one pipeline stage alone, ONNX FP32 export + checks (reads WORK/pruned.pt; writes WORK/model_fp32.onnx)."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="ONNX FP32 export + checks (reads WORK/pruned.pt; writes WORK/model_fp32.onnx)")
    add_arguments(p)
    p.set_defaults(func=lambda args: run_command(args, ("export",)))
