"""check_frame speed on real frames of each kind, in one run (median / p95 ms per frame, 1 thread).

Compares the frame check with what the models do anyway (an INTER_AREA resize to 224x288), so the
ratio says what the check adds. Run:
    .venv/bin/python benchmarks/frame_check.py [--runs 500]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from compress.paths import default_data_dir
from edge.frame_check import check_frame


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    for _ in range(20):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    data = args.data or default_data_dir()
    planes = sorted((data / "planes" / "images").glob("*.png"))
    colour = next(p for p in planes if cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim == 3)
    frames = {
        "HC18 gray 800x540": cv2.imread(str(data / "hc18" / "images" / "010_HC.png"), cv2.IMREAD_UNCHANGED),
        f"planes BGR {colour.name[:18]}": cv2.imread(str(colour), cv2.IMREAD_UNCHANGED),
        "SonoNet BGR 975x735": cv2.imread(str(data / "peers" / "sononet" / "examples" / "LVOT.png")),
    }
    frames["224x288 BGR downsample"] = cv2.resize(frames["SonoNet BGR 975x735"], (288, 224),
                                                  interpolation=cv2.INTER_AREA)
    print(f"{'frame':32s} {'check ms (med/p95)':>20s} {'resize ms (med)':>16s} {'check/resize':>13s}")
    for name, frame in frames.items():
        med, p95 = timed(lambda: check_frame(frame), args.runs)
        rmed, _ = timed(lambda: cv2.resize(frame, (288, 224), interpolation=cv2.INTER_AREA), args.runs)
        print(f"{name:32s} {med:9.3f} / {p95:7.3f} {rmed:16.3f} {med / rmed:13.2f}")


if __name__ == "__main__":
    main()
