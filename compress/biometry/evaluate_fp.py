"""Generalisation check on another machine: FETAL_PLANES_DB head images with expert BPD / OFD end points.

`planes/biometry_landmarks/head.csv` (CC BY-NC-SA 4.0: evaluation only, never shipped) gives end points in
the image's own pixel coordinates (`scale`, `center_w/h` describe the benchmark's resizing and are not
applied; `center` is the image centre) and `px_to_mm_rate`. These BPD end points are placed by experts
(FP protocol: outer-to-outer per the README), while our BPD is the fitted ellipse's minor axis.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from compress.biometry.evaluate import PredictFn
from edge.imageio import read_gray


MIN_LANDMARK_PX = 20.0


def _dist(row: dict[str, str], k: str) -> float:
    return float(np.hypot(float(row[f"{k}_1_x"]) - float(row[f"{k}_2_x"]), float(row[f"{k}_1_y"]) - float(row[f"{k}_2_y"])))


def evaluate_fp_heads(predict_fn: PredictFn, planes_dir: str | Path) -> dict[str, float]:
    """BPD / OFD errors (mm and %) and no-answer count on the FP head images present in `planes_dir`."""
    from edge.biometry.measure import measure_head

    planes_dir = Path(planes_dir)
    bpd_err, ofd_err, bpd_rel, ofd_rel, n, no_answer = [], [], [], [], 0, 0
    with open(planes_dir / "biometry_landmarks" / "head.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        path = planes_dir / "images" / row["image_name"]
        if not path.is_file() or not row["px_to_mm_rate"].strip():
            continue  # image held back, or no pixel size: cannot be measured in mm
        if min(_dist(row, "bpd"), _dist(row, "ofd")) < MIN_LANDMARK_PX:
            continue  # degenerate end points in the CSV (e.g. Patient01070_Plane3_2_of_6: 3 px BPD)
        n += 1
        px = float(row["px_to_mm_rate"])
        res = measure_head(predict_fn(read_gray(path)), px, None)
        if res.status != "measured":
            no_answer += 1
            continue
        bpd, ofd = _dist(row, "bpd") * px, _dist(row, "ofd") * px
        bpd_err.append(res.bpd.value - bpd)
        ofd_err.append(res.ofd.value - ofd)
        bpd_rel.append((res.bpd.value - bpd) / bpd)
        ofd_rel.append((res.ofd.value - ofd) / ofd)
    out: dict[str, float] = {"n_images": n, "no_answer": no_answer}
    for name, e, r in (("bpd", bpd_err, bpd_rel), ("ofd", ofd_err, ofd_rel)):
        if e:
            out[f"{name}_mae_mm"] = float(np.mean(np.abs(e)))
            out[f"{name}_median_ae_mm"] = float(np.median(np.abs(e)))
            out[f"{name}_bias_mm"] = float(np.mean(e))
            out[f"{name}_mape_pct"] = float(np.mean(np.abs(r)) * 100)
    return out


def format_fp_table(m: dict[str, float]) -> str:
    lines = ["== FETAL_PLANES_DB head images (another machine; expert BPD/OFD end points) ==",
             f"images {m['n_images']}, no answer {m['no_answer']}"]
    for q in ("bpd", "ofd"):
        if f"{q}_mae_mm" in m:
            lines.append(f"{q.upper()} abs err mean / median (mm) {m[f'{q}_mae_mm']:.2f} / {m[f'{q}_median_ae_mm']:.2f}"
                         f", bias {m[f'{q}_bias_mm']:+.2f} mm, mean abs rel err {m[f'{q}_mape_pct']:.1f}%")
    return "\n".join(lines)
