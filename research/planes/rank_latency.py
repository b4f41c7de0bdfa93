"""Latency of SonoNet-LR rank layouts beside SonoNet-S (plane-cls 1.3.0's network), in one run.

Random weights: latency only (onnxruntime, CPU, 2 threads, batch 1, 112x144, legacy exporter). Asks whether
another rank layout would bring the factorised student's onnxruntime latency near SonoNet-S's at similar
multiply-accumulates (the front cuts' probe accuracy: research/planes/backbone_probe.py). Run (project root):
    .venv/bin/python -m research.planes.rank_latency [--runs 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import research.planes.sononet_s  # noqa: F401 (registers sononet-s)
from compress.nets.plane_student import build_student, count_macs
from compress.nets.sono_lowrank import SonoLowRank, default_ranks
from compress.stages.export import export_onnx
from research.planes.backbone_probe import front_cut

INPUT_HW = (112, 144)


def layouts() -> dict[str, torch.nn.Module]:
    d = default_ranks()
    return {
        "sononet-s (1.3.0)": build_student(arch="sononet-s"),
        "sononet-lr 1/4": SonoLowRank(d),
        "lr, ranks >= 8": SonoLowRank(tuple(0 if i == 0 else max(8, r) for i, r in enumerate(d))),
        "lr, block 1 full": SonoLowRank(tuple(0 if i < 2 else r for i, r in enumerate(d))),
        "lr, blocks 1-2 full": SonoLowRank(tuple(0 if i < 4 else r for i, r in enumerate(d))),
        "lr, block 1 as S": front_cut(d, 1),
        "lr, blocks 1-2 as S": front_cut(d, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="rounds over all layouts (interleaved against drift)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = np.random.default_rng(0).random((1, 1, *INPUT_HW), dtype=np.float32)
    sessions, macs, times = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, model) in enumerate(layouts().items()):
            path = Path(tmp) / f"layout{i}.onnx"
            export_onnx(model.eval(), (1, 1, *INPUT_HW), path)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 2
            sessions[name] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            macs[name], times[name] = count_macs(model) / 1e6, []
    for _ in range(args.repeats):
        for name, sess in sessions.items():
            feed = {sess.get_inputs()[0].name: x}
            for _ in range(30):
                sess.run(None, feed)
            for _ in range(args.runs):
                t0 = time.perf_counter()
                sess.run(None, feed)
                times[name].append((time.perf_counter() - t0) * 1e3)
    base = float(np.median(times["sononet-s (1.3.0)"]))
    print(f"onnxruntime {ort.__version__}, CPU, 2 threads, batch 1, {INPUT_HW[0]}x{INPUT_HW[1]}, "
          f"{args.repeats} x {args.runs} runs")
    print(f"{'layout':22s} {'MMAC':>7s} {'med ms':>7s} {'vs 1.3.0':>8s}")
    for name in sessions:
        med = float(np.median(times[name]))
        print(f"{name:22s} {macs[name]:7.1f} {med:7.3f} {med / base:7.2f}x")


if __name__ == "__main__":
    main()
