"""Soak: the whole runtime on a looping recorded source for a long stretch, printing memory and speed over time.

Exam after exam (`--exam-s` each, stored in SQLite like on the device) through the real pipeline (folder source
decoding real HC18 heads and FETAL_PLANES_DB / African frames, capture thread, planes on every frame, head
biometry on candidates, exam built and saved), for `--minutes` in total (>= 30 when run by hand). Every
`--every` seconds one row: elapsed time, RSS (VmRSS), threads, open files, frames and fps in that window.
At the end: RSS and fps of the first and last quarter, and the RSS slope over the second half (least squares),
so growth beyond noise or a drop in fps shows as numbers. Without the shared data: the synthetic sweep.

Run (at low priority on a shared machine):
    nice -n 15 .venv/bin/python benchmarks/soak.py --minutes 30 [--every 60] [--exam-s 120] [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def vm_rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def recorded_source(data: Path, tmp: Path) -> str:
    """A folder of links to 40 HC18 heads and 40 non-head plane frames, their pixel sizes in a CSV, looped."""
    rows = list(csv.reader(open(data / "hc18" / "pixel_size_and_hc.csv", encoding="utf-8")))[1:41]
    planes = [r["file"] for r in csv.DictReader(open(data / "planes" / "labels.csv", encoding="utf-8"))
              if r["plane"] != "Fetal brain"][:40]
    frames = tmp / "frames"
    frames.mkdir()
    for i, name in enumerate(planes):   # interleaved by name: a run of other planes, then a run of heads
        (frames / f"{i:03d}a_{name}").symlink_to(data / "planes" / "images" / name)
    for i, (name, _px, _hc) in enumerate(rows):
        (frames / f"{i:03d}b_{name}").symlink_to(data / "hc18" / "images" / name)
    (tmp / "px.csv").write_text("".join(f"{i:03d}b_{r[0]},{r[1]}\n" for i, r in enumerate(rows)), encoding="utf-8")
    return f"folder://{frames}?loop=1000000&spacing_csv={tmp / 'px.csv'}"


def summary(rows: list[tuple[float, float, float]]) -> str:
    """rows of (minutes, rss_mb, fps): first vs last quarter and the RSS slope over the second half."""
    t, rss, fps = (np.array(c) for c in zip(*rows))
    q = max(1, len(rows) // 4)
    half = t >= t[-1] / 2
    slope = float(np.polyfit(t[half], rss[half], 1)[0]) * 60 if half.sum() >= 3 else float("nan")
    return (f"RSS MB first quarter {rss[:q].mean():.1f}, last quarter {rss[-q:].mean():.1f} "
            f"(window-to-window sd {np.std(np.diff(rss)):.2f}); slope over the second half {slope:+.1f} MB/hour\n"
            f"fps first quarter {fps[:q].mean():.2f}, last quarter {fps[-q:].mean():.2f} "
            f"(ratio {fps[-q:].mean() / fps[:q].mean():.3f})")


def main() -> None:
    from compress.paths import default_data_dir
    from edge.config import parse_config
    from edge.pipeline.app import build_runner
    from edge.sources import open_source
    from edge.store import ResultStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="total duration (default 30)")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between rows (default 60)")
    parser.add_argument("--exam-s", type=float, default=120.0, help="length of one exam (default 120 s)")
    parser.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    parser.add_argument("--source", default=None, help="source URI (default: looped real frames, else synthetic)")
    args = parser.parse_args()
    logging.getLogger("edge.sources.folder").setLevel(logging.ERROR)   # plane frames have no pixel size: by design
    data = default_data_dir()
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.source or (recorded_source(data, Path(tmp)) if (data / "hc18").is_dir()
                              else "synthetic://sweep?frames=100000000")
        cfg = parse_config({"backend": {"threads": args.threads}, "pipeline": {"status_interval_s": 1.0}})
        store = ResultStore(Path(tmp) / "soak.sqlite")
        runner = build_runner(cfg, store)
        print(f"soak: {uri.split('?')[0]} for {args.minutes:g} min, exams of {args.exam_s:g} s, "
              f"{args.threads} thread(s), pid {os.getpid()}", flush=True)
        print(f"{'min':>6} {'RSS MB':>8} {'threads':>8} {'fds':>5} {'exams':>6} {'frames':>8} {'fps':>7}", flush=True)
        rows: list[tuple[float, float, float]] = []
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        state = {"frames": 0, "last_t": t0, "last_frames": 0, "exams": 0, "base": 0}

        def sample(status: object) -> None:
            state["frames"] = state["base"] + status.frames
            now = time.monotonic()
            if now - state["last_t"] < args.every:
                return
            fps = (state["frames"] - state["last_frames"]) / (now - state["last_t"])
            rss = vm_rss_mb()
            rows.append(((now - t0) / 60, rss, fps))
            print(f"{(now - t0) / 60:6.1f} {rss:8.1f} {threading.active_count():8d} "
                  f"{len(os.listdir('/proc/self/fd')):5d} {state['exams']:6d} {state['frames']:8d} {fps:7.2f}",
                  flush=True)
            state["last_t"], state["last_frames"] = now, state["frames"]

        while time.monotonic() < end:
            stop = threading.Event()
            timer = threading.Timer(min(args.exam_s, max(0.0, end - time.monotonic())), stop.set)
            timer.start()
            outcome = runner.run(open_source(uri), stop, sample)
            timer.cancel()
            runner.planes.smoother.reset()
            state["exams"] += 1
            state["base"] += outcome.exam.frames
        store.close()
    if len(rows) >= 4:
        print(summary(rows))


if __name__ == "__main__":
    main()
