"""The compression report: one row per stage (params, MACs, file size, latency, metric, gate), as JSON and
as a Markdown table a person reads."""

from __future__ import annotations

from typing import Any

ROWS = (("teacher", "teacher"), ("train", "student (distilled)"), ("prune", "student (pruned, fine-tuned)"),
        ("calibrate", "post-processing calibrated"), ("export", "ONNX FP32"), ("quantize", "ONNX INT8 (QDQ)"))


def _label(key: str, label: str, notes: dict[str, Any]) -> str:
    if key == "train" and not notes.get("epochs", 1):
        return "student (taken as is, not trained here)"
    if key == "train" and notes.get("teacher") is None:
        return "student (trained on labels alone, no teacher)"
    if key == "prune" and not notes.get("ratio"):
        return "student (unpruned: no ratio within budget)"
    return label


def build_report(state: dict[str, Any], metric: str, task: str) -> dict[str, Any]:
    rows = []
    teacher = state["values"].get("teacher")
    last_profile: dict[str, Any] = {}
    for key, label in ROWS:
        if key == "teacher":
            if not teacher:
                continue
            row = {"stage": key, "label": label, **teacher["profile"], "metric": teacher["metrics"].get(metric),
                   "gate": None}
        else:
            o = state["outcomes"].get(key)
            if o is None:
                continue
            # calibrate and quantize change no parameters; calibrate not the graph either
            prof = {**(last_profile if key == "calibrate" else {k: last_profile.get(k) for k in ("params", "macs")}),
                    **o["profile"]}
            notes = o.get("notes") or {}
            row = {"stage": key, "label": _label(key, label, notes), **prof, "metric": o["value"],
                   "gate": {"reference": o["reference_name"], "worse_by": round(o["worse_by"], 4),
                            "budget": o["budget"], "passed": o["passed"]},
                   "seconds": round(o["seconds"], 1), "notes": o["notes"]}
        last_profile = {k: row.get(k) for k in ("params", "macs", "onnx_bytes", "latency_median_ms", "latency_p95_ms")}
        rows.append(row)
    t_macs = rows[0].get("macs") if rows and rows[0]["stage"] == "teacher" else None
    final = rows[-1] if rows else {}
    return {"task": task, "metric": metric, "rows": rows,
            "macs_reduction_vs_teacher": round(t_macs / final["macs"], 2) if t_macs and final.get("macs") else None,
            "total_seconds": round(sum(r.get("seconds", 0) for r in rows), 1)}


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def report_markdown(report: dict[str, Any]) -> str:
    m = report["metric"]
    lines = [f"# Compression report: {report['task']}", "",
             f"| stage | params | MMACs | ONNX KB | latency median ms | p95 ms | {m} | worse by (budget) | gate |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in report["rows"]:
        g = r.get("gate")
        gate = "-" if g is None else f"{g['worse_by']:+.3f} vs {g['reference']} ({g['budget']})"
        ok = "-" if g is None else ("pass" if g["passed"] else "**FAIL**")
        lines.append(f"| {r['label']} | {_fmt(r.get('params'), ',')} | {_fmt((r.get('macs') or 0) / 1e6, '.2f')} | "
                     f"{_fmt((r.get('onnx_bytes') or 0) / 1024, '.1f')} | {_fmt(r.get('latency_median_ms'), '.2f')} | "
                     f"{_fmt(r.get('latency_p95_ms'), '.2f')} | {_fmt(r.get('metric'), '.3f')} | {gate} | {ok} |")
    t = report["macs_reduction_vs_teacher"]
    lines += ["", f"MACs reduction vs teacher: {f'{t}x' if t else 'no teacher'}; stage time {report['total_seconds']} s.",
              "Latency: onnxruntime CPU, batch 1, 2 threads, 50 runs after 5 warm-up runs, on the machine that ran "
              "the pipeline."]
    for r in report["rows"]:
        notes = r.get("notes") or {}
        if r["stage"] == "quantize":
            lines.append(f"INT8: method {notes.get('method')}, layers left in float: "
                         f"{notes.get('float_layers') or 'none'}, calibration frames {notes.get('calibration_frames')}.")
        if r["stage"] == "prune":
            tried = ", ".join(f"{a['ratio']}: {a['worse_by']:+.3f}" for a in notes.get("attempts", []))
            how = "searched" if notes.get("searched") else "from the recipe"
            lines.append(f"Pruning: ratio kept {notes.get('ratio')} ({how}); tried (ratio: worse by) {tried or 'none'}.")
        if r["stage"] == "train":
            kept = f"best validation epoch {notes.get('best_epoch')}" if notes.get("select") == "best_val" else "last epoch"
            lines.append(f"Training: {notes.get('epochs')} epochs ({notes.get('steps')} steps), {kept} kept.")
    return "\n".join(lines) + "\n"
