"""Plane classifiers side by side: the shipped student vs SonoNet-16 (onnxruntime, CPU, 2 threads, batch 1).

Prints parameters, multiply-accumulates, ONNX file size, latency median / p95 (model run only, input
prepared beforehand) and 6-plane accuracy / macro-F1 on the same frames (held-out patients). Run:
    .venv/bin/python benchmarks/planes.py [--runs 300] [--bundle DIR ...]
--bundle (repeatable; default the shipped edge/models/plane-cls) puts other student bundles, e.g. a candidate
from `fetal-compress pipeline`, in the same run, so their latencies compare as ratios on one loaded machine:
every student against SonoNet-16, and every FP32 graph against the first bundle's (the per-frame budget of
issue #25: <= 2x plane-cls 1.3.0's FP32 median in the same run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from compress.data.planes import load_records, split_dev_heldout
from compress.nets.sononet import SONONET_CLASSES, load_sononet16, sononet_input
from compress.paths import default_data_dir
from compress.planes.evaluate import classification_metrics
from compress.stages.export import export_onnx
from edge.imageio import read_gray
from edge.manifest import load_manifest
from edge.models import shipped_model_dir
from edge.planes.taxonomy import sononet_to_model_classes, to_planes
from edge.preprocess import preprocess

REPO = Path(__file__).resolve().parent.parent


def session(path: Path, threads: int = 2) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def latency_ms(sess: ort.InferenceSession, x: np.ndarray, runs: int) -> tuple[float, float]:
    name = sess.get_inputs()[0].name
    for _ in range(20):
        sess.run(None, {name: x})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 95))


def onnx_params(path: Path) -> int:
    return int(sum(np.prod(t.dims) for t in onnx.load(str(path)).graph.initializer))


def onnx_macs(path: Path) -> int:
    """Multiply-accumulates of the graph's Conv and Gemm/MatMul nodes for one input, from ONNX shape inference,
    so that any bundle is counted the same way whatever network family made it."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output)}
    dims.update({t.name: list(t.dims) for t in g.initializer})
    total = 0
    for node in g.node:
        if node.op_type == "Conv":
            w, out = dims.get(node.input[1]), dims.get(node.output[0])
            if w and out:  # (Cout, Cin/groups, kh, kw) x output elements / Cout
                total += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = dims.get(node.input[0]), dims.get(node.output[0])
            if a and out:
                total += int(np.prod(out)) * int(a[-1])
    return total


def _row(name: str, path: Path, sess: ort.InferenceSession, xs: list[np.ndarray], macs: int, y: np.ndarray,
         runs: int, sononet: bool = False) -> tuple:
    """(name, input, params, MMAC, MB, median ms, p95 ms, acc, macro-F1) of one model on the held-out frames."""
    probs = []
    for x in xs:
        z = sess.run(None, {"input": x})[0][0]
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        probs.append(to_planes(sononet_to_model_classes(p, SONONET_CLASSES) if sononet else p))
    med, p95 = latency_ms(sess, xs[-1], runs)
    m = classification_metrics(y, np.stack(probs))
    return (name, "x".join(map(str, xs[-1].shape[2:])), onnx_params(path), macs / 1e6, path.stat().st_size / 1e6,
            med, p95, m["accuracy"], m["macro_f1"])


def _student_rows(bundle, grays: list[np.ndarray], y: np.ndarray, runs: int, label: bool) -> list[tuple]:
    """One row per precision variant (int8, fp32) of a student bundle on the held-out frames."""
    macs = onnx_macs(bundle.variant("fp32").model_path if "fp32" in bundle.variants else bundle.model_path)
    variants = {p: bundle.variant(p) for p in bundle.variants} or {"model": bundle}
    xs = [preprocess(g, bundle.preprocessing).tensor for g in grays]
    name = f"plane-cls {bundle.version} " if label else "plane-cls student "
    return [_row(name + precision, m.model_path, session(m.model_path), xs, macs, y, runs)
            for precision, m in variants.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--sononet-onnx", default=str(REPO / "runs" / "planes" / "sononet16.onnx"))
    ap.add_argument("--bundle", action="append", default=None,
                    help="student bundle directory (repeatable; default: the shipped plane-cls)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = default_data_dir()
    sn_path = Path(args.sononet_onnx)
    sononet = load_sononet16(data / "peers" / "sononet" / "SonoNet16.npz")
    if not sn_path.is_file():
        export_onnx(sononet, (1, 1, 224, 288), sn_path)
    bundles = [load_manifest(Path(b)) for b in (args.bundle or [shipped_model_dir("plane-cls")])]
    sn_sess = session(sn_path)
    records = load_records(data)
    _, held = split_dev_heldout(records)
    y = np.array([records[i].plane_idx for i in held])
    grays = [read_gray(records[i].path) for i in held]
    rows = []
    for bundle in bundles:
        rows += _student_rows(bundle, grays, y, args.runs, label=len(bundles) > 1)
    xs = [sononet_input(g) for g in grays]
    rows.append(_row("SonoNet-16 (mapped)", sn_path, sn_sess, xs, onnx_macs(sn_path), y, args.runs,
                     sononet=True))
    print(f"held-out frames: {len(held)}; onnxruntime {ort.__version__}, CPU, 2 threads, batch 1, {args.runs} runs")
    print(f"{'model':22s} {'input':>8s} {'params':>9s} {'MMAC':>8s} {'MB':>6s} {'med ms':>7s} {'p95 ms':>7s} "
          f"{'acc':>6s} {'mF1':>6s}")
    for r in rows:
        print(f"{r[0]:22s} {r[1]:>8s} {r[2]:9d} {r[3]:8.1f} {r[4]:6.2f} {r[5]:7.3f} {r[6]:7.3f} "
              f"{r[7]:6.3f} {r[8]:6.3f}")
    for r in rows[:-1]:
        print(f"{r[0]} vs SonoNet-16 (median): {r[5] / rows[-1][5]:.3f}x the time ({rows[-1][5] / r[5]:.1f}x faster)")
    fp32 = [r for r in rows[:-1] if r[0].endswith("fp32")]
    for r in fp32[1:]:  # the per-frame budget of issue #25: FP32 median <= 2x the first bundle's, same run
        print(f"FP32 median {r[0]} vs {fp32[0][0]}: {r[5] / fp32[0][5]:.2f}x (budget <= 2x)")


if __name__ == "__main__":
    main()
