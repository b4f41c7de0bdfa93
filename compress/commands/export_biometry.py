"""`fetal-compress export-biometry`: student checkpoint -> ONNX bundle (checked against PyTorch) + test metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-biometry", help="export a head-seg checkpoint as a device model bundle")
    p.add_argument("--checkpoint", type=Path, default=Path("runs/biometry/student.pt"))
    p.add_argument("--out", type=Path, default=Path("edge/models/head-seg"), help="bundle directory")
    p.add_argument("--data", type=Path, default=None, help="data folder holding hc18/ (default: $FETAL_EDGE_DATA)")
    p.add_argument("--threshold", type=float, default=None,
                   help="probability threshold to ship (default: calibrated on val subjects for HC MAE)")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out test evaluation (metrics left empty)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compress.biometry.evaluate import evaluate, format_table, onnx_predict_fn, torch_predict_fn
    from compress.biometry.export import calibrate_threshold, export_bundle, write_manifest
    from compress.data.hc18 import load_split
    from compress.paths import require_data_dir
    from edge.errors import ConfigError

    if not args.checkpoint.is_file():
        raise ConfigError(f"checkpoint {args.checkpoint} not found; run `fetal-compress train-biometry` first")
    root = require_data_dir(args.data, "hc18")
    val = load_split(root, "val")
    threshold, maes = args.threshold, {}
    if threshold is None:
        threshold, maes = calibrate_threshold(torch_predict_fn(args.checkpoint), val)
        print("val HC MAE by threshold: " + ", ".join(f"{t}: {m:.2f} mm" for t, m in maes.items()))
    if not 0.05 <= threshold <= 0.95:
        raise ConfigError(f"--threshold {threshold} must be within [0.05, 0.95]")
    note = "lowest HC MAE on val subjects" if maes else "given on the command line"
    res = export_bundle(args.checkpoint, args.out, [r.image() for r in val[:8]], threshold=threshold,
                        threshold_note=note)
    print(f"exported {res.onnx_path} (onnxruntime vs PyTorch max |logit diff| {res.max_abs_diff:.2e}), "
          f"threshold {threshold}")
    if args.no_eval:
        return 0
    metrics = evaluate(onnx_predict_fn(args.out), "test", root)
    print(format_table(f"{args.out} on HC18 test subjects", metrics))
    keep = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items() if k != "no_answer_reasons"}
    keep["onnx_vs_torch_max_abs_logit_diff"] = res.max_abs_diff
    if maes:
        keep["val_hc_mae_mm_by_threshold"] = {str(t): round(m, 3) for t, m in maes.items()}
    write_manifest(args.out, args.checkpoint, {"eval_split": "test", **keep}, threshold=threshold,
                   threshold_note=note)
    print(json.dumps(keep))
    return 0
