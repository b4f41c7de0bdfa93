"""MODEL_CARD.md of the shipped plane classifier, written from the measured report (no hand-typed numbers)."""

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


def contract_section(report: dict) -> str:
    c = report.get("contract_cost")
    if not c:
        return ("Training inputs are made exactly as the device makes them (tests/test_planes_contract.py); "
                "the cost of the old mismatch was not measured for this card.")
    rows = "; ".join(f"{split} {r['n']} frames: macro-F1 {r['macro_f1_training_style']:.3f} with training-style "
                     f"inputs against {r['macro_f1_runtime']:.3f} with runtime inputs, {r['answers_changed']} "
                     f"answers changed" for split, r in c["splits"].items())
    return (f"Until 1.3.0, training resized twice (SonoNet's 224x288 view, then 112x144) and standardised with "
            f"the unbiased std, while the device resizes once and uses the population std. On {c['bundle']} "
            f"(benchmarks/plane_contract_cost.py) the two inputs of one frame differed by up to "
            f"{c['max_abs_input_difference']:.2f} (median frame {c['median_max_abs_input_difference']:.2f}; inputs "
            f"have std 1): {rows}. Since 1.4.0 training augments the full frame and then preprocesses it exactly "
            f"as the device does (tests/test_planes_contract.py checks they are equal).")


def coverage_table(m: dict) -> str:
    """Coverage against accuracy over the unknown thresholds the report swept (one metrics dict)."""
    pts = [c for c in m.get("coverage", []) if c["accuracy"] is not None]
    return "\n".join([_md_row(["threshold"] + [f"{c['threshold']:.2f}" for c in pts]), "|---|" + "---:|" * len(pts),
                      _md_row(["coverage"] + [f"{c['coverage']:.2f}" for c in pts]),
                      _md_row(["accuracy"] + [f"{c['accuracy']:.3f}" for c in pts])])


def _by_country(d: dict) -> str:
    return "; ".join(f"{m}: " + ", ".join(f"{c} {v:.2f}" for c, v in per.items()) for m, per in d.items())


def _targets(report: dict) -> str:
    st, te = report["heldout"]["student"], report["heldout"]["teacher"]
    afr = report["heldout_african"]["student"]["macro_f1"]
    big = {p: r for p, r in st["recall"].items() if st["support"][p] >= 20}
    gap = 100 * (te["macro_f1"] - st["macro_f1"])
    return (f"held-out African macro-F1 >= 0.95: {'met' if afr >= 0.95 else 'NOT met'} ({afr:.3f}); "
            f"recall >= 0.90 for planes with >= 20 held-out images ({', '.join(big) or 'none'}): "
            f"{'met' if all(r >= 0.9 for r in big.values()) else 'NOT met'}; student within 1 point of the "
            f"teacher's held-out macro-F1: {'met' if gap <= 1 else 'NOT met'} ({abs(gap):.1f} points "
            f"{'under' if gap > 0 else 'over'} the teacher); "
            "<= 2 ms per frame: see Speed.")


NETWORKS = {
    "planenet-s": "PlaneNet-S (`compress/nets/plane_student.py`): depthwise-separable CNN trained from scratch, "
                  "~0.19 M parameters, ~10 M multiply-accumulates",
    "sononet-s": "SonoNet-S (`compress/nets/sono_student.py`): SonoNet-16's topology with blocks 1-4 at half "
                 "width, every filter cut from the published SonoNet-16 weights (the channels with the largest "
                 "mean response on training views), then distilled; ~0.49 M parameters, ~94 M multiply-accumulates",
    "sononet-lr": "SonoNet-LR (`compress/nets/sono_lowrank.py`): SonoNet-16 at full width, every 3x3 convolution "
                  "after the first factorised into a 3x3 convolution to a quarter of its channels and a 1x1 "
                  "convolution back (both factors from the published SonoNet-16 weights and the principal "
                  "subspace of their responses on training views), then distilled; ~0.26 M parameters, "
                  "~89 M multiply-accumulates",
}


def write_card(directory: Path, report: dict, manifest: dict, bench: str | None, schedules: str) -> Path:
    """MODEL_CARD.md from the measured report; `schedules` says how the CV / LOCO students were trained."""
    cal = manifest.get("calibration_params", {})
    prov = manifest.get("provenance", {})
    ho = report["heldout_african"]["student"]
    text = f"""# plane-cls {manifest.get('version')} - standard-plane classifier (distilled student)

**Task.** One ultrasound frame -> Fetal brain (with sub-plane Trans-thalamic / Trans-ventricular /
Trans-cerebellum), Fetal abdomen, Fetal femur, Fetal thorax, Maternal cervix, Other; `unknown` below the
confidence threshold, when the frame check refuses the frame, or when the "Not ultrasound" output beats
every plane (reason "not an ultrasound view (junk score p)"). {len(manifest.get('output', {}).get('class_names', [])) or 8}
outputs: 3 brain sub-planes + 5 planes (+ "Not ultrasound" from 1.4.0); the brain probability is the sum of
the sub-planes. See docs/planes.md.

**Network.** {NETWORKS[prov.get('architecture') or 'planenet-s']}, gray 112x144 input
(centre crop to the 7:9 aspect, area resize, per-image standardisation - all in manifest.json), ONNX opset 17. model.onnx is the INT8 QDQ graph,
model_fp32.onnx the float one (onnxruntime on a CPU runs the float one by default: it is faster there).
How the bundle was compressed (distil, export, INT8, each gated): report.md in this directory.

**Training.** {prov.get('training_data')}. Held-out: {prov.get('split')}. Teacher: {prov.get('teacher')}
(SonoNet-16 weights: Baumgartner et al. 2017, Apache-2.0). Distillation: {prov.get('distillation')},
plus label loss (African brain images have no sub-plane label: loss -log of the summed brain probability).
Augmentation of the whole frame before the device's own preprocessing: zoom and shift, rotation +-10 deg,
horizontal flip (no vertical flip), gain, gamma, speckle. Junk class: {(prov.get('recipe') or {}).get('n_junk', 0)}
synthesised frames (compress/planes/junk.py: Gaussian, uniform, salt-and-pepper and Rayleigh-speckle noise at
any level, speckle sectors without anatomy, blank and gradient sectors, text/UI screens, smooth pictures,
tile-shuffled development frames).
Calibration: temperature {cal.get('temperature')} and unknown threshold {cal.get('unknown_threshold')},
{prov.get('calibration')} (validation data only; held-out patients never used).

**Results** (6-plane metrics; macro-F1 over the planes present in the set; ECE of the top-1 confidence
before / after temperature scaling; coverage = share of frames answered at the threshold).

{table(report, [('heldout', 'held-out all'), ('heldout_african', 'held-out African'), ('cv', 'CV dev'),
                ('cv_african', 'CV African'), ('loco', 'LOCO African')])}

Held-out African patients, student: macro-F1 {ho['macro_f1']:.3f} on {ho['n']} images (target >= 0.95).
Leave-one-country-out macro-F1 by country: {_by_country(report.get('loco_by_country', {}))}.
{schedules}; their numbers understate the shipped student.
The held-out set has no Malawi patient (hash split); LOCO covers Malawi.

Confusion matrix, student on the held-out patients (all 83; top-1 after temperature, before the unknown threshold):

{confusion_table(report['heldout']['student'])}

Confusion matrix, student, CV out-of-fold (development patients, the short-schedule CV students):

{confusion_table(report['cv']['student'])}

Coverage against accuracy of the student's answers as the unknown threshold rises (CV out-of-fold, where the
threshold is chosen; the shipped threshold is {cal.get('unknown_threshold')}):

{coverage_table(report['cv']['student'])}

**Junk frames (out of distribution, issue #27).** The evaluation junk set (tests/junk_frames.py, its own
code and seed, {report.get('junk', {}).get('groups', {}).get('all', {}).get('n', 0)} frames) through the device
classifier (frame check, then the model, then the threshold; {report.get('junk', {}).get('precision', 'int8')}
graph). "same family" kinds have a training counterpart drawn differently; "no" kinds were never in training.

{junk_section(report)}

Cost of the junk output on real frames: {junk_cost(report)}

**Preprocessing contract.** {contract_section(report)}

**Targets.** {_targets(report)}

**Speed** (benchmarks/planes.py, onnxruntime CPU, 2 threads, batch 1, this 2-core machine):
```
{bench or 'run benchmarks/planes.py'}
```

**Limits.** Trained on 425 development images (+80 HC18 heads) from Spain and five African countries;
no videos. Cervix and Other classes are small (22 and 31 training images); the African cohort has neither.
SonoNet-16 has no cervix class and calls many unfamiliar frames background. Not a medical device.
"""
    path = directory / "MODEL_CARD.md"
    path.write_text(text, encoding="utf-8")
    return path
