"""`fetal-compress evaluate-biometry`: HC / BPD / OFD errors in mm, Dice and unanswered images on HC18 subjects."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-biometry", help="evaluate head biometry on held-out HC18 subjects")
    p.add_argument("--data", type=Path, default=None, help="data folder holding hc18/ (default: $FETAL_EDGE_DATA)")
    p.add_argument("--model", default="head-seg", help="model bundle name or directory (default: shipped head-seg)")
    p.add_argument("--precision", choices=("int8", "fp32"), default=None,
                   help="which graph of the bundle runs (default: its model_file, INT8 for pipeline bundles)")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default="test")
    p.add_argument("--limit", type=int, default=None, help="first N images only (quick checks)")
    p.add_argument("--planes", action="store_true",
                   help="also check BPD/OFD on the FETAL_PLANES_DB head images (another machine)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON after the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.evaluate import evaluate, format_table, onnx_predict_fn
    from compress.paths import require_data_dir

    root = require_data_dir(args.data, "hc18")
    name, fn = f"{args.model} ({args.precision or 'model_file'})", onnx_predict_fn(args.model, precision=args.precision)
    metrics = evaluate(fn, args.split, root, args.limit)
    print(format_table(f"{name} on HC18 {args.split} subjects", metrics))
    for line in metrics["no_answer_reasons"]:
        print(f"  no answer: {line}")
    if args.planes:
        from compress.biometry.evaluate_fp import evaluate_fp_heads, format_fp_table

        fp = evaluate_fp_heads(fn, require_data_dir(args.data, "planes"))
        print(format_fp_table(fp))
        metrics["fetal_planes_db"] = fp
    if args.json:
        print(json.dumps({k: v for k, v in metrics.items() if k != "hc_errors"}))
    return 0
