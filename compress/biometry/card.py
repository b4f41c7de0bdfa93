"""The head-seg model card's results section, written by the pipeline run that made the bundle: the INT8 and
FP32 graphs on the held-out test subjects beside the head-seg installed in edge/models, and the paired
difference against it image by image (is the new model the same within noise, better, or worse?)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.manifest import load_manifest


def paired(new: dict[str, float], old: dict[str, float]) -> tuple[int, float, float]:
    """(images both measured, mean of |new error| - |old error| in mm, its standard error)."""
    both = sorted(set(new) & set(old))
    d = np.array([abs(new[n]) - abs(old[n]) for n in both], float)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return len(both), float(d.mean()) if d.size else float("nan"), se


def _installed(installed: Path | None, task: Any) -> tuple[str, dict[str, Any], dict[str, float]] | None:
    """(name version, its test metrics, its val per-image errors) of the installed model, measured here."""
    if installed is None:
        return None
    from compress.biometry.evaluate import evaluate, onnx_predict_fn

    m = load_manifest(installed, verify=True)
    fn = onnx_predict_fn(installed)
    limit = task.opts["limit_images"]
    test, val = evaluate(fn, "test", task.root, limit), evaluate(fn, "val", task.root, limit)
    return f"{m.name} {m.version}", test, val["hc_errors"]


def _cell(m: dict[str, Any], key: str, fmt: str = ".2f") -> str:
    return format(m[key], fmt) if isinstance(m.get(key), (int, float)) else "-"


def _rows(cols: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    def big(m: dict[str, Any]) -> str:
        errs = np.abs(list(m.get("hc_errors", {}).values()))
        return f"{int((errs > 10).sum())} / {int((errs > 5).sum())}" if errs.size else "-"

    return [
        ("HC absolute error: mean / median / p95 (mm)",
         [f"{_cell(m, 'hc_mae_mm')} / {_cell(m, 'hc_median_ae_mm')} / {_cell(m, 'hc_p95_ae_mm')}" for m in cols]),
        ("HC bias (mm)", [_cell(m, "hc_bias_mm", "+.2f") for m in cols]),
        ("HC errors > 10 mm / > 5 mm", [big(m) for m in cols]),
        ("Dice (frame resolution): mean / median", [f"{_cell(m, 'dice_mean', '.3f')} / {_cell(m, 'dice_median', '.3f')}"
                                                    for m in cols]),
        ("images without an answer", [f"{int(m.get('no_answer', 0))} of {int(m.get('n_images', 0))}" for m in cols]),
        ("BPD / OFD vs landmark end points, MAE (mm)", [f"{_cell(m, 'bpd_mae_mm')} / {_cell(m, 'ofd_mae_mm')}"
                                                        for m in cols]),
        ("images flagged ok (quality >= 0.5); their HC MAE (mm)",
         [f"{100 * m.get('flag_ok_frac', 0):.1f} %; {_cell(m, 'hc_flag_ok_mae_mm')}" for m in cols]),
        ("FETAL_PLANES_DB heads (another hospital): BPD / OFD MAE (mm)",
         [f"{_cell(m, 'fp_heads.bpd_mae_mm')} / {_cell(m, 'fp_heads.ofd_mae_mm')}" for m in cols]),
    ]


def results_section(task: Any, final: dict[str, dict[str, Any]], installed: Path | None) -> str:
    int8, fp32 = final["int8"], final["fp32"]
    old = _installed(installed, task)
    cols, heads = [int8, fp32], ["INT8 model.onnx", "FP32 model_fp32.onnx"]
    if old is not None:
        cols.append(old[1])
        heads.append(f"installed {old[0]} (INT8)")
    lines = [f"## Results on the held-out test subjects ({int(int8.get('n_subjects', 0))} subjects, "
             f"{int(int8.get('n_images', 0))} images; nothing else in the run reads them)", "",
             "| metric | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in _rows(cols)]
    if old is not None:
        n_t, d_t, se_t = paired(int8["hc_errors"], old[1]["hc_errors"])
        n_v, d_v, se_v = paired(int8["val_hc_errors"], old[2])
        verdict = ("the same within noise (|difference| < 2 paired SE on both splits)"
                   if abs(d_t) < 2 * se_t and abs(d_v) < 2 * se_v else
                   "different beyond noise on at least one split (|difference| >= 2 paired SE)")
        lines += ["", f"Paired against the installed {old[0]}, image by image (|new HC error| - |old HC error|): "
                      f"test {d_t:+.3f} mm (SE {se_t:.3f}, {n_t} images), val {d_v:+.3f} mm (SE {se_v:.3f}, "
                      f"{n_v} images): {verdict}."]
    return "\n".join(lines) + "\n"
