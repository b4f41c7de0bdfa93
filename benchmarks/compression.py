"""Compression benchmark: per task, teacher / student / pruned student / INT8 student, in one run.

Reads the work directory the pipeline left (runs/compress/<task>/work, see compress/configs/<task>.yaml)
and prints parameters, MACs, ONNX file size, onnxruntime CPU latency (batch 1, 2 threads; median and p95,
the models measured round-robin so that load on this shared CPU hits them alike) and the task metric on the
same validation data.

    .venv/bin/python benchmarks/compression.py [--tasks planes biometry] [--runs 100] [--no-metric]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def latency_table(paths: dict[str, Path], shapes: dict[str, tuple[int, ...]], runs: int) -> dict[str, tuple[float, float]]:
    from compress.stages.common import ort_session

    sessions = {k: ort_session(p, threads=2) for k, p in paths.items()}
    inputs = {k: (s.get_inputs()[0].name, np.random.default_rng(0).standard_normal(shapes[k]).astype(np.float32))
              for k, s in sessions.items()}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for i in range(runs + 5):
        for k, s in sessions.items():
            name, x = inputs[k]
            t0 = time.perf_counter()
            s.run(None, {name: x})
            if i >= 5:
                times[k].append((time.perf_counter() - t0) * 1000)
    return {k: (statistics.median(v), float(np.percentile(v, 95))) for k, v in times.items()}


def bench_task(task_name: str, runs: int, with_metric: bool) -> list[dict]:
    import torch

    from compress.paths import default_data_dir
    from compress.pipeline.config import load_pipeline_config
    from compress.stages.common import load_module, ort_predict, params_and_macs, torch_predict
    from compress.stages.export import export_onnx
    from compress.tasks import create_task

    torch.set_num_threads(2)
    cfg = load_pipeline_config(ROOT / "compress" / "configs" / f"{task_name}.yaml")
    work = cfg.work_dir
    needed = ["student.pt", "model_int8.onnx"]   # teacher.pt and pruned.pt when the recipe has those stages
    missing = [n for n in needed if not (work / n).is_file()]
    if missing:
        print(f"{task_name}: run `fetal-compress pipeline --config compress/configs/{task_name}.yaml` first "
              f"(missing {missing} in {work})")
        return []
    task = create_task(task_name, cfg.data_dir or default_data_dir(), cfg.task_options)
    info = task.info
    tmp = Path(tempfile.mkdtemp())
    models = {k: load_module(work / f) for k, f in (("teacher", "teacher.pt"), ("student", "student.pt"),
                                                    ("pruned", "pruned.pt")) if (work / f).is_file()}
    if "teacher" in models and cfg.teacher.checkpoint:  # adapters that cache teacher outputs
        models["teacher"] = task.load_teacher(models["teacher"], cfg.resolve(cfg.teacher.checkpoint))
    shapes = {"teacher": info.teacher_input_shape or info.input_shape, "student": info.input_shape,
              "pruned": info.input_shape, "int8": info.input_shape}
    paths = {k: export_onnx(m, shapes[k], tmp / f"{k}.onnx") for k, m in models.items()}
    paths["int8"] = work / "model_int8.onnx"
    lat = latency_table(paths, shapes, runs)
    rows = []
    for k in [m for m in ("teacher", "student", "pruned") if m in models] + ["int8"]:
        params, macs = params_and_macs(models["pruned" if k == "int8" and "pruned" in models else
                                              "student" if k == "int8" else k], shapes[k])
        metric = None
        if with_metric:
            if k == "teacher":
                metric = task.teacher_metrics(models[k])[info.metric]
            elif k == "int8":
                metric = task.evaluate(ort_predict(paths[k]))[info.metric]
            else:
                metric = task.evaluate(torch_predict(models[k]))[info.metric]
        rows.append({"task": task_name, "model": k, "params": params, "macs": macs,
                     "bytes": paths[k].stat().st_size, "median_ms": lat[k][0], "p95_ms": lat[k][1],
                     "metric": metric, "metric_name": info.metric})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["planes", "biometry"])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--no-metric", action="store_true")
    args = ap.parse_args()
    rows = [r for t in args.tasks for r in bench_task(t, args.runs, not args.no_metric)]
    if not rows:
        return 1
    print(f"{'task':<9} {'model':<8} {'params':>9} {'MMACs':>9} {'KB':>8} {'median ms':>10} {'p95 ms':>8} "
          f"{'metric':>22} {'MACs vs first':>16} {'speed-up':>9}")
    for r in rows:
        t = next(x for x in rows if x["task"] == r["task"])   # the teacher, or the student when there is none
        metric = "-" if r["metric"] is None else f"{r['metric_name']} {r['metric']:.3f}"
        print(f"{r['task']:<9} {r['model']:<8} {r['params']:>9,} {r['macs'] / 1e6:>9.1f} {r['bytes'] / 1024:>8.1f} "
              f"{r['median_ms']:>10.2f} {r['p95_ms']:>8.2f} {metric:>22} {t['macs'] / r['macs']:>15.1f}x "
              f"{t['median_ms'] / r['median_ms']:>8.1f}x")
    print("latency: onnxruntime CPU, batch 1, 2 threads, models interleaved; metric on the task's validation split")
    return 0


if __name__ == "__main__":
    sys.exit(main())
