"""`fetal-compress train|prune|calibrate|export|quantize --config FILE`: one pipeline stage alone, reading its
input from and writing its output to the recipe's work_dir (compress.pipeline.workdir)."""

from __future__ import annotations

import argparse

from compress.pipeline.cli_support import add_arguments, run_command

HELP = {"train": "train the student (and load or train the teacher); writes WORK/student.pt",
        "prune": "structured pruning + fine-tuning where its gate allows (reads WORK/student.pt; writes WORK/pruned.pt)",
        "calibrate": "fit the runtime's post-processing on validation data (reads WORK/pruned.pt or student.pt)",
        "export": "ONNX FP32 export + checks (writes WORK/model_fp32.onnx)",
        "quantize": "INT8 post-training quantisation (reads WORK/model_fp32.onnx; writes WORK/model_int8.onnx)"}


def register(sub: argparse._SubParsersAction) -> None:
    for name, text in HELP.items():
        p = sub.add_parser(name, help=text)
        add_arguments(p)
        p.set_defaults(func=lambda args, stage=name: run_command(args, (stage,)))
