"""What the old train/run preprocessing mismatch cost plane-cls 1.3.0 (issue #25 item 3).

Until 1.3.0 training made the student's input by resizing twice (SonoNet's 224x288 view, then area to
112x144) and standardising with torch's unbiased std; the device resizes once (edge.preprocess) and uses
numpy's population std. This runs the shipped 1.3.0 FP32 graph (or --bundle) on every labelled real frame
both ways and prints the input difference, how many answers change and macro-F1 each way. Run:
    .venv/bin/python benchmarks/plane_contract_cost.py [--bundle edge/models/plane-cls]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from compress.data.planes import load_records, split_dev_heldout
from compress.paths import default_data_dir
from compress.planes.augment import clean_view
from compress.planes.evaluate import as_planes, classification_metrics, softmax
from edge.imageio import read_gray
from edge.models import load_model, shipped_model_dir
from edge.preprocess import preprocess


def legacy_input(gray: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The 1.3.0 training input of a clean frame: 224x288 view, area resize to hw, unbiased std."""
    import cv2

    small = cv2.resize(clean_view(gray), (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(small.astype(np.float32))[None, None]
    return ((x - x.mean()) / x.std().clamp_min(1e-6)).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(shipped_model_dir("plane-cls")))
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args()
    model = load_model(Path(args.bundle), precision="fp32", threads=1)
    spec = model.manifest.preprocessing
    records = load_records(default_data_dir())
    dev, held = split_dev_heldout(records)
    rows, diffs, changed = {}, [], {}
    for split, idx in (("development", dev), ("held-out", held)):
        p_old, p_new = [], []
        for i in idx:
            gray = read_gray(records[i].path)
            new = preprocess(gray, spec).tensor
            old = legacy_input(gray, (spec.height, spec.width))
            diffs.append(float(np.abs(new - old).max()))
            p_new.append(as_planes(softmax(model.backend.run(new)[model.manifest.output_name][0])))
            p_old.append(as_planes(softmax(model.backend.run(old)[model.manifest.output_name][0])))
        y = np.array([records[i].plane_idx for i in idx])
        a, b = np.stack(p_old), np.stack(p_new)
        changed[split] = int((a.argmax(1) != b.argmax(1)).sum())
        rows[split] = {"n": len(idx), "macro_f1_training_style": classification_metrics(y, a)["macro_f1"],
                       "macro_f1_runtime": classification_metrics(y, b)["macro_f1"],
                       "answers_changed": changed[split],
                       "mean_abs_confidence_change": float(np.abs(a.max(1) - b.max(1)).mean())}
    out = {"bundle": f"{model.manifest.name} {model.manifest.version}", "max_abs_input_difference": max(diffs),
           "median_max_abs_input_difference": float(np.median(diffs)), "splits": rows}
    print(f"{out['bundle']}: max |input difference| {out['max_abs_input_difference']:.3f} (median over frames "
          f"{out['median_max_abs_input_difference']:.3f}; inputs are standardised, std 1)")
    print(f"{'split':12s} {'n':>4s} {'mF1 train-style':>16s} {'mF1 runtime':>12s} {'changed':>8s} {'|dconf|':>8s}")
    for split, r in rows.items():
        print(f"{split:12s} {r['n']:4d} {r['macro_f1_training_style']:16.4f} {r['macro_f1_runtime']:12.4f} "
              f"{r['answers_changed']:8d} {r['mean_abs_confidence_change']:8.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
