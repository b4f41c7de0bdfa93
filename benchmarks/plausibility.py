"""Physical plausibility on real heads: the shipped head model on every HC18 image, measured at its true pixel
size and at wrong ones, and how many answers the rule (edge.clinical.physical) refuses. At the true size the
count must be 0; the wrong sizes show which mistakes the rule catches (a factor of 2 cannot be caught without
knowing the gestational age). Not timed.

Run:
    .venv/bin/python benchmarks/plausibility.py [--limit N]
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter

from compress.paths import default_data_dir
from edge.biometry.measure import measure_head
from edge.biometry.segment import HeadSegmenter
from edge.clinical.physical import MAX_FOV_MM, MIN_FOV_MM, RANGES_MM
from edge.imageio import read_gray
from edge.results import FLAG_OUT_OF_RANGE

FACTORS = (1.0, 0.1, 0.5, 2.0, 10.0)   # pixel size used / true pixel size
FIXED = (2.0, 0.0001)                  # the values of issue #27 finding 2, whatever the true size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    args = parser.parse_args()
    hc18 = default_data_dir() / "hc18"
    with open(hc18 / "pixel_size_and_hc.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[: args.limit]
    seg = HeadSegmenter("head-seg", threads=1)
    tried = {f"x{k:g}": Counter() for k in FACTORS} | {f"{v:g} mm": Counter() for v in FIXED}
    for row in rows:
        true_px = float(row["pixel size(mm)"])
        prob = seg(read_gray(hc18 / "images" / row["filename"])).prob
        sizes = {f"x{k:g}": true_px * k for k in FACTORS} | {f"{v:g} mm": v for v in FIXED}
        for label, px in sizes.items():
            if px > 2.0:
                tried[label]["pixel size refused (> 2 mm)"] += 1
                continue
            r = measure_head(prob, px, seg.ref)
            outcome = ("refused: field of view" if r.hc.flag == FLAG_OUT_OF_RANGE and "pixel size" in (r.reason or "")
                       and "image" in (r.reason or "") else "refused: length" if r.hc.flag == FLAG_OUT_OF_RANGE
                       else "measured" if r.status == "measured" else "no measurement (quality gate)")
            tried[label][outcome] += 1
    print(f"{len(rows)} HC18 images, head-seg {seg.ref.version}; field of view {MIN_FOV_MM:g}-{MAX_FOV_MM:g} mm; "
          f"ranges (mm): " + ", ".join(f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in RANGES_MM.items()))
    kinds = ["measured", "no measurement (quality gate)", "refused: length", "refused: field of view",
             "pixel size refused (> 2 mm)"]
    print(f"| pixel size | {' | '.join(kinds)} |")
    print("|---" * (len(kinds) + 1) + "|")
    for label, counts in tried.items():
        print(f"| {label} | " + " | ".join(str(counts[k]) for k in kinds) + " |")


if __name__ == "__main__":
    main()
