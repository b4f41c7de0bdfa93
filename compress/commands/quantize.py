"""`fetal-compress quantize --config FILE`: one pipeline stage alone, INT8 QDQ post-training quantisation (reads WORK/model_fp32.onnx; writes WORK/model_int8.onnx)."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="INT8 QDQ post-training quantisation (reads WORK/model_fp32.onnx; writes WORK/model_int8.onnx)")
    add_arguments(p)
    p.set_defaults(func=lambda args: run_command(args, ("quantize",)))
