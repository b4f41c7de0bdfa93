"""Evaluate any head segmenter on HC18 subjects: HC / BPD / OFD errors in mm, Dice, images without an answer.

`predict_fn(frame_gray) -> probability map (H, W) in frame coordinates`; the measurement is the device's own
`edge.biometry.measure.measure_head`, so what is evaluated is what ships. BPD / OFD are compared with the
landmark benchmark's end points (evaluation only, never shipped) and HC with the challenge CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from compress.data.hc18 import load_split
from compress.paths import require_data_dir

PredictFn = Callable[[np.ndarray], np.ndarray]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    s = a.sum() + b.sum()
    return float(2 * (a & b).sum() / s) if s else 1.0


def error_stats(prefix: str, err: list[float]) -> dict[str, float]:
    """Mean / median / p95 absolute error and bias (mm) of signed errors, keys `<prefix>_...`."""
    e = np.asarray(err, float)
    if e.size == 0:
        return {}
    a = np.abs(e)
    return {f"{prefix}_mae_mm": float(a.mean()), f"{prefix}_median_ae_mm": float(np.median(a)),
            f"{prefix}_p95_ae_mm": float(np.percentile(a, 95)), f"{prefix}_bias_mm": float(e.mean())}


def evaluate(predict_fn: PredictFn, split: str = "test", root: str | Path | None = None,
             limit: int | None = None) -> dict[str, float]:
    """Metrics over the HC18 images of `split` (subject-grouped): hc_mae_mm, dice_mean, no_answer_frac, ...

    `root` is the hc18 folder (default: the shared data's hc18/).
    """
    from edge.biometry.measure import measure_head

    records = load_split(Path(root) if root is not None else require_data_dir(None, "hc18"), split)[:limit]
    hc_err, hc_err_ok, bpd_err, ofd_err, dices, no_answer, reasons = [], [], [], [], [], 0, []
    per_image: dict[str, float] = {}
    for r in records:
        frame = r.image()
        prob = predict_fn(frame)
        dices.append(dice(prob >= 0.5, r.mask()))
        res = measure_head(prob, r.pixel_mm, None)
        if res.status != "measured":
            no_answer += 1
            reasons.append(f"{r.name}: {res.reason}")
            continue
        hc_err.append(res.hc.value - r.hc_mm)
        per_image[r.name] = res.hc.value - r.hc_mm
        if res.hc.flag == "ok":
            hc_err_ok.append(res.hc.value - r.hc_mm)
        if r.landmarks is not None:
            bpd_err.append(res.bpd.value - r.landmarks.bpd_mm(r.pixel_mm))
            ofd_err.append(res.ofd.value - r.landmarks.ofd_mm(r.pixel_mm))
    out: dict[str, float] = {"n_images": len(records), "n_subjects": len({r.subject for r in records}),
                             "no_answer": no_answer, "no_answer_frac": no_answer / max(len(records), 1),
                             "dice_mean": float(np.mean(dices)), "dice_median": float(np.median(dices))}
    for prefix, err in (("hc", hc_err), ("bpd", bpd_err), ("ofd", ofd_err), ("hc_flag_ok", hc_err_ok)):
        out.update(error_stats(prefix, err))
    out["flag_ok_frac"] = len(hc_err_ok) / max(len(records), 1)
    out["no_answer_reasons"] = reasons  # type: ignore[assignment]
    out["hc_errors"] = per_image  # type: ignore[assignment]  # signed, by image: for paired comparisons
    return out


def onnx_predict_fn(model: str | Path = "head-seg", threads: int = 1, precision: str | None = None) -> PredictFn:
    """predict_fn running a model bundle through the device runtime (checksum verified); `precision` picks the
    bundle's graph (None: its model_file)."""
    from edge.biometry.segment import HeadSegmenter

    seg = HeadSegmenter(model, threads=threads, precision=precision)
    return lambda frame: seg(frame).prob


def module_predict_fn(model, spec, logit_offset: float = 0.0) -> PredictFn:  # type: ignore[no-untyped-def]
    """predict_fn running a torch module on the runtime's preprocessing and frame mapping (as HeadSegmenter does)."""
    import torch

    from edge.biometry.segment import logits_to_frame
    from edge.preprocess import preprocess

    model.eval()

    def predict(frame: np.ndarray) -> np.ndarray:
        mi = preprocess(frame, spec)
        with torch.no_grad():
            logits = model(torch.from_numpy(mi.tensor))[0, 0].numpy()
        return logits_to_frame(logits + logit_offset, mi.geometry)

    return predict


def format_table(name: str, m: dict[str, float]) -> str:
    rows = [("images / subjects", f"{m['n_images']} / {m['n_subjects']}"),
            ("no answer", f"{m['no_answer']} ({m['no_answer_frac']:.1%})"),
            ("Dice mean / median", f"{m['dice_mean']:.4f} / {m['dice_median']:.4f}")]
    for q in ("hc", "bpd", "ofd", "hc_flag_ok"):
        if f"{q}_mae_mm" in m:
            rows.append((f"{q.upper()} abs err mean / median / p95 (mm)",
                         f"{m[f'{q}_mae_mm']:.2f} / {m[f'{q}_median_ae_mm']:.2f} / {m[f'{q}_p95_ae_mm']:.2f}"))
            rows.append((f"{q.upper()} bias (mm)", f"{m[f'{q}_bias_mm']:+.2f}"))
    rows.append(("images flagged ok (quality >= 0.5)", f"{m['flag_ok_frac']:.1%}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join([f"== {name} =="] + [f"{k:<{width}}  {v}" for k, v in rows])
