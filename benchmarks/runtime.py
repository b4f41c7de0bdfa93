"""End-to-end runtime on this CPU: frames per second, per-stage latency and peak memory, FP32 and INT8
(`backend.precision`: the graph of each shipped bundle that runs).

Each bundle runs in its own process (so peak RSS is its own), through the real pipeline
(`ExamRunner`: capture thread, ROI blanking, plane classification + smoothing on every frame, head
biometry on candidate frames, exam built and stored in SQLite); the student is also set against SonoNet-16
(the published network) in the same processes: alone per frame, and end to end with SonoNet-16 run on every
frame. Frames come from memory so the number
measures the device's work, not PNG decoding: a "sweep" of real frames when the shared data is there
(FETAL_PLANES_DB / African non-head frames alternating with runs of HC18 heads with their pixel size),
else the synthetic sweep. Then each stage is timed alone on the same frames. Run:
    .venv/bin/python benchmarks/runtime.py [--frames 600] [--threads 1] [--accuracy]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PRECISIONS = ("fp32", "int8")  # backend.precision: which graph of each shipped bundle runs (manifest variants)


def real_sweep(data: Path, n: int) -> list[tuple[np.ndarray, float | None]]:
    """Runs of 40 non-head plane frames and 40 HC18 head frames (with their pixel size), repeated."""
    import csv

    from edge.imageio import read_gray

    rows = list(csv.DictReader(open(data / "planes" / "labels.csv", encoding="utf-8")))
    others = [r["file"] for r in rows if r["plane"] != "Fetal brain"][:40]
    sizes = list(csv.reader(open(data / "hc18" / "pixel_size_and_hc.csv", encoding="utf-8")))[1:41]
    heads = [(read_gray(data / "hc18" / "images" / r[0]), float(r[1])) for r in sizes]
    other = [(read_gray(data / "planes" / "images" / f), None) for f in others]
    seq: list[tuple[np.ndarray, float | None]] = []
    while len(seq) < n:
        seq += other + heads
    return seq[:n]


def synthetic_sweep(n: int) -> list[tuple[np.ndarray, float | None]]:
    from edge.sources import open_source

    src = open_source(f"synthetic://sweep?frames={n}")
    return [(f.image, f.pixel_spacing_mm) for f in iter(lambda: src.read(1.0), None)]


EVERY = {"biometry_interval_s": 0.0, "top_k": 100}   # every frame classified, every head candidate measured
MODES = {"default": {}, "every-cand": EVERY, "every-cand+sononet16": EVERY}


def sononet16(data: Path | None, threads: int):  # type: ignore[no-untyped-def]
    """frame -> SonoNet-16's logits (the published network, exported with the project's exporter), for the
    student-against-SonoNet-16 comparison in the same process; None without the shared data."""
    import tempfile

    from compress.nets.sononet import SONONET_INPUT, load_sononet16
    from compress.stages.common import ort_session
    from compress.stages.export import export_onnx
    from edge.manifest import parse_preprocessing
    from edge.preprocess import preprocess

    npz = (data or Path()) / "peers" / "sononet" / "SonoNet16.npz"
    if data is None or not npz.is_file():
        return None
    path = Path(tempfile.mkdtemp()) / "sononet16.onnx"
    export_onnx(load_sononet16(npz), (1, 1, *SONONET_INPUT["size"]), path)
    sess, spec = ort_session(path, threads), parse_preprocessing(SONONET_INPUT)
    return lambda frame: sess.run(None, {"input": preprocess(frame, spec).tensor})[0]


def one(label: str, frames: int, threads: int, data: str | None, mode: str) -> dict:
    from edge.config import parse_config
    from edge.frame_check import check_frame
    from edge.pipeline.app import build_runner
    from edge.roi import detect_roi
    from edge.sources.base import EOS, Frame, FrameSource

    seq = real_sweep(Path(data), frames) if data else synthetic_sweep(frames)

    class Replay(FrameSource):
        scheme = "replay"

        def __init__(self) -> None:
            super().__init__("replay://benchmark", {})
            self.i = 0

        def _read(self, timeout: float) -> Frame | None:
            if self.i >= len(seq):
                self.state = EOS
                return None
            img, mm = seq[self.i]
            self.i += 1
            return Frame(img, self.i - 1, self.i / 30.0, mm, self.uri)

    cfg = parse_config({"pipeline": MODES[mode],
                        "backend": {"threads": threads, "precision": label}, "store": {"path": "/tmp/fetal_edge_bench.sqlite"}})
    from edge.store import ResultStore

    sononet = sononet16(Path(data) if data else None, threads)
    with ResultStore(f"/tmp/fetal_edge_bench_{label}.sqlite") as store:
        runner = build_runner(cfg, store)
        clf = runner.planes.classifier
        if mode.endswith("+sononet16") and sononet is not None:
            # SonoNet-16 runs on every frame beside the student (whose answers drive the exam, so the head
            # work is the same): what a SonoNet-16 plane model would cost end to end, within the student's ms
            student = clf.probabilities
            clf.probabilities = lambda frame: (sononet(frame), student(frame))[1]
        t0 = time.perf_counter()
        out = runner.run(Replay())
        wall = time.perf_counter() - t0
    t = runner.timings
    n = out.exam.frames
    stage = {"roi_ms": 1e3 * t["roi"] / n, "planes_ms": 1e3 * t["planes"] / n,
             "biometry_ms_per_run": 1e3 * t["biometry"] / max(1, t["biometry_runs"]),
             "biometry_runs": int(t["biometry_runs"])}
    # each stage alone on the same frames (median ms)
    sample = [img for img, _ in seq[::7][:60]]
    alone = {}
    stages = [("frame_check", check_frame), ("roi_detect", detect_roi),
              ("plane_model", lambda im: runner.planes.classifier.probabilities(im)),
              ("head_segment", lambda im: runner.head.segmenter(im))]
    if sononet is not None:
        clf.__dict__.pop("probabilities", None)   # the student alone again
        stages.append(("sononet16", sononet))
    for name, fn in stages:
        ts = []
        for im in sample:
            s = time.perf_counter()
            fn(im)
            ts.append(1e3 * (time.perf_counter() - s))
        alone[name] = float(np.median(ts))
    return {"bundle": label, "mode": mode, "frames": n, "wall_s": wall, "fps": n / wall, **stage, "alone_ms": alone,
            "peak_rss_mb": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024, "input": "real sweep" if data else "synthetic sweep"}


def accuracy(data: Path, roi_for_models: bool = False) -> str:
    """HC through the whole runtime on the held-out HC18 test subjects: each image a 10-frame exam from a
    folder source with its pixel size (as a probe held still), shipped FP32 models."""
    import shutil
    import tempfile

    from compress.data.hc18 import load_split
    from edge.config import parse_config
    from edge.pipeline.app import build_runner
    from edge.sources import open_source

    records = load_split(data / "hc18", "test")
    runner = build_runner(parse_config({}), None)
    errors, missing = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for rec in records:
            d = Path(tmp) / rec.name
            d.mkdir()
            shutil.copy(rec.image_path, d / rec.image_path.name)
            (Path(tmp) / f"{rec.name}.csv").write_text(f"{rec.image_path.name},{rec.pixel_mm}\n", encoding="utf-8")
            runner.planes.smoother.reset()
            exam = runner.run(open_source(f"folder://{d}?loop=10&spacing_csv={tmp}/{rec.name}.csv")).exam
            hc = exam.measurements["hc"].value
            if hc is None:
                missing += 1
            else:
                errors.append(abs(hc - rec.hc_mm))
    e = np.array(errors)
    return (f"held-out HC18 test subjects through the runtime: {len(records)} images, {len(e)} measured "
            f"({len(e) / len(records):.0%}), HC abs error mean {e.mean():.2f} / median {np.median(e):.2f} / "
            f"p95 {np.percentile(e, 95):.2f} mm; {missing} without an answer")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads per model")
    ap.add_argument("--data", default=None, help="shared data dir (default: $FETAL_EDGE_DATA or ../shared/data)")
    ap.add_argument("--accuracy", action="store_true", help="also HC error through the runtime on held-out HC18")
    ap.add_argument("--one", nargs=2, metavar=("PRECISION", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        label, mode = args.one
        print(json.dumps(one(label, args.frames, args.threads, args.data, mode)))
        return
    from compress.paths import default_data_dir

    data = Path(args.data) if args.data else default_data_dir()
    data_arg = ["--data", str(data)] if (data / "hc18").is_dir() else []
    rows = []
    for label, mode in ((p, m) for p in PRECISIONS for m in MODES):
        proc = subprocess.run([sys.executable, __file__, "--one", label, mode, "--frames", str(args.frames),
                               "--threads", str(args.threads), *data_arg], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{label}: failed:\n{proc.stderr[-2000:]}")
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not rows:
        sys.exit(1)
    print(f"\nfetal-edge runtime, {rows[0]['input']}, {rows[0]['frames']} frames, onnxruntime CPU, "
          f"{args.threads} intra-op thread(s) per model, capture in its own thread")
    print("mode default: biometry at most every 0.25 s on a new best frame (top 5), the rest at the end;\n"
          "mode every-cand: every frame classified, biometry on every candidate (brain) frame as it arrives;\n"
          "mode every-cand+sononet16: the same with SonoNet-16 also run on every frame (the student still decides)")
    print(f"{'bundle':11s} {'mode':22s} {'fps':>6s} {'planes ms/frame':>15s} {'biometry ms/run':>15s} {'runs':>5s} "
          f"{'peak RSS MB':>11s}")
    for r in rows:
        print(f"{r['bundle']:11s} {r['mode']:22s} {r['fps']:6.1f} {r['planes_ms']:15.2f} "
              f"{r['biometry_ms_per_run']:15.1f} {r['biometry_runs']:5d} {r['peak_rss_mb']:11.0f}")
    print("\nstages alone (median ms per frame): " + "; ".join(
        f"{r['bundle']}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["alone_ms"].items())
        for r in rows if r["mode"] == "default"))
    for r in rows:
        alone = r["alone_ms"]
        if r["mode"] == "every-cand" and "sononet16" in alone:
            print(f"{r['bundle']}: plane model alone, student {alone['plane_model']:.2f} ms vs SonoNet-16 "
                  f"{alone['sononet16']:.2f} ms a frame (same process): SonoNet-16 / student "
                  f"{alone['sononet16'] / alone['plane_model']:.1f}x")
    every = {(r["bundle"], r["mode"]): r["fps"] for r in rows}
    for p in PRECISIONS:
        if (p, "every-cand") in every:
            extra = (f"; with SonoNet-16 on every frame too {every[(p, 'every-cand+sononet16')]:.1f} fps"
                     if (p, "every-cand+sononet16") in every else "")
            print(f"{p}: end to end with every frame classified and every head frame measured "
                  f"{every[(p, 'every-cand')]:.1f} fps{extra}")
    base = {r["mode"]: r["fps"] for r in rows if r["bundle"] == "fp32"}
    for r in rows:
        if r["bundle"] != "fp32" and r["mode"] in base:
            print(f"{r['bundle']} / fp32 fps ratio ({r['mode']}): {r['fps'] / base[r['mode']]:.2f}")
    if args.accuracy and data_arg:
        print(accuracy(data))


if __name__ == "__main__":
    main()
