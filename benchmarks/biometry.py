"""Head biometry speed, in one run: `fetal-edge measure` wall time (fresh process, model load included) and
the in-process stages (model load, segmentation, ellipse measurement), for each model bundle given.

Run:
    .venv/bin/python benchmarks/biometry.py [--bundle edge/models/head-seg --bundle runs/...] [--runs 20]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from compress.data.hc18 import load_split
from compress.paths import REPO_ROOT, default_data_dir
from edge.biometry.measure import measure_head
from edge.biometry.segment import HeadSegmenter


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def _cli(argv: list[str]) -> None:
    code = subprocess.run(argv, capture_output=True).returncode
    if code not in (0, 10):  # measured or no measurement: both are complete runs
        raise SystemExit(f"{' '.join(argv)} failed with exit code {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", default=None, help="model bundle dir (repeatable)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    bundles = args.bundle or [str(REPO_ROOT / "edge" / "models" / "head-seg")]
    rec = load_split(default_data_dir() / "hc18", "test")[0]
    frame = rec.image()
    cli = [str(Path(sys.executable).parent / "fetal-edge"), "measure", str(rec.image_path),
           "--pixel-size", str(rec.pixel_mm), "--threads", str(args.threads)]
    rows = []
    for bundle in bundles:
        seg = HeadSegmenter(bundle, threads=args.threads)
        prob = seg(frame).prob
        rows.append((bundle, {
            "load": timed(lambda: HeadSegmenter(bundle, threads=args.threads), max(3, args.runs // 4)),
            "segment": timed(lambda: seg(frame), args.runs),
            "measure": timed(lambda: measure_head(prob, rec.pixel_mm, seg.ref), args.runs),
            "cli total": timed(lambda: _cli(cli + ["--model", bundle]),
                               max(3, args.runs // 4)),
        }))
    print(f"frame {rec.image_path.name} {frame.shape[1]}x{frame.shape[0]}, {args.threads} threads; ms median / p95")
    stages = list(rows[0][1])
    print(f"{'bundle':<40}" + "".join(f"{s:>20}" for s in stages))
    for bundle, t in rows:
        print(f"{Path(bundle).name:<40}" + "".join(f"{t[s][0]:>11.1f} / {t[s][1]:>6.1f}" for s in stages))


if __name__ == "__main__":
    main()
