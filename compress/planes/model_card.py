"""Tables of the plane model card, from measured reports (no hand-typed numbers): compress.planes.card uses them."""

from __future__ import annotations

from pathlib import Path

from edge.planes.taxonomy import PLANES


def _row(label: str, m: dict) -> str:
    rec = " | ".join(f"{m['recall'][p]:.2f}" if p in m["recall"] else "-" for p in PLANES)
    thr = m.get("at_threshold") or {}
    cov = f"{thr['coverage']:.2f} / {thr['accuracy']:.3f}" if thr.get("accuracy") is not None else "-"
    return (f"| {label} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {rec} | "
            f"{m['ece_raw']:.3f} / {m['ece_calibrated']:.3f} | {cov} |")


def _short(plane: str) -> str:
    return plane.replace("Fetal ", "").replace("Maternal ", "")


def _md_row(cells: list) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def table(report: dict, sections: list[tuple[str, str]]) -> str:
    head = ("| set / model | n | acc | macro-F1 | " + " | ".join(_short(p) for p in PLANES)
            + " | ECE raw / T | coverage / acc at threshold |")
    lines = [head, "|" + "---|" * (len(PLANES) + 6)]
    for key, label in sections:
        for model, m in report.get(key, {}).items():
            lines.append(_row(f"{label} {model}", m))
    return "\n".join(lines)


def confusion_table(m: dict) -> str:
    """Markdown confusion matrix of one metrics dict: rows true plane, columns predicted (top-1, no threshold;
    a last "junk" column when the model has that output); planes absent from both the truth and the
    predictions are left out."""
    cm = m["confusion"]
    keep = [i for i in range(len(PLANES)) if sum(cm[i]) or sum(row[i] for row in cm)]
    cols = keep + ([len(PLANES)] if len(cm[0]) > len(PLANES) else [])
    names = [_short(PLANES[j]) if j < len(PLANES) else "junk" for j in cols]
    lines = [_md_row(["true \\ predicted"] + names), "|---|" + "---:|" * len(cols)]
    lines += [_md_row([_short(PLANES[i])] + [cm[i][j] for j in cols]) for i in keep]
    return "\n".join(lines)


def junk_section(report: dict) -> str:
    """The evaluation junk set per kind (seen / unseen in training) and real images called junk."""
    j = report.get("junk")
    if not j:
        return "Not measured."
    head = [_md_row(["kind", "in training?", "n", "answered unknown", "by frame check", "by junk output",
                     "by threshold", "answered a plane"]), "|---|---|---:|---:|---:|---:|---:|---:|"]
    body = [_md_row([k, "same family" if r["seen"] else "no", r["n"], f"{100 * r['unknown_rate']:.1f} %",
                     r["frame check"], r["junk output"], r["threshold"], r["answered"]])
            for k, r in j["kinds"].items()]
    body += [_md_row([f"**{g}**", "", r["n"], f"**{100 * r['unknown_rate']:.1f} %**", r["frame check"],
                      r["junk output"], r["threshold"], r["answered"]]) for g, r in j["groups"].items()]
    real = report.get("real_junk", {})
    rhead = [_md_row(["real images", "n", "called junk (junk output)", "refused by frame check",
                      "below threshold", "answered a plane"]), "|---|---:|---:|---:|---:|---:|"]
    rbody = [_md_row([src, r["n"], f"{r['junk_output']} ({100 * r['junk_rate']:.1f} %)", r["frame_check"],
                      r["threshold"], r["answered"]]) for src, r in real.items()]
    return "\n".join(head + body) + "\n\n" + "\n".join(rhead + rbody)


def junk_cost(report: dict) -> str:
    parts = []
    for key, label in (("cv_junk_cost", "CV out-of-fold"), ("heldout_junk_cost", "held-out")):
        c = report.get(key)
        if c:
            parts.append(f"{label} macro-F1 {c['with_junk']:.3f} with junk answers counted as misses against "
                         f"{c['junk_ignored']:.3f} with the junk output ignored "
                         f"({100 * (c['junk_ignored'] - c['with_junk']):.1f} points)")
    return "; ".join(parts) + "." if parts else ""


def coverage_table(m: dict) -> str:
    """Coverage against accuracy over the unknown thresholds the report swept (one metrics dict)."""
    pts = [c for c in m.get("coverage", []) if c["accuracy"] is not None]
    return "\n".join([_md_row(["threshold"] + [f"{c['threshold']:.2f}" for c in pts]), "|---|" + "---:|" * len(pts),
                      _md_row(["coverage"] + [f"{c['coverage']:.2f}" for c in pts]),
                      _md_row(["accuracy"] + [f"{c['accuracy']:.3f}" for c in pts])])
