"""The plane bundle's results, measured by the pipeline run that makes it, for its manifest and model card.

`device_metrics(task, predict)`: a finished graph as the device runs it (frame check, the model, temperature,
unknown threshold; `edge.planes.classifier.classify_frame`) on the held-out patients, on the evaluation junk
set (tests/junk_frames.py) and on every real image of the shared data. `results_markdown` turns the INT8 and
FP32 results plus the recipe's CV into the card's results section (tables from compress.planes.model_card).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compress.paths import REPO_ROOT
from compress.planes.evaluate import softmax
from compress.planes.model_card import confusion_table, coverage_table, junk_cost, junk_section, table
from compress.planes.outofdist import junk_table, load_junk_generator, real_junk_rate
from compress.planes.report import model_metrics, subset
from edge.imageio import read_color, read_gray
from edge.manifest import ModelRef
from edge.planes.classifier import classify_frame
from edge.preprocess import preprocess

JUNK_SEED, JUNK_PER_KIND = 2027, 100  # the card's junk set: 12 kinds x 100 frames, seed apart from the tests'


def junk_material(data_dir, records) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """Real frames for the tile-shuffled junk kind: HC18 heads the plane model never trained on."""
    used = {r.path.name for r in records}
    return [read_gray(p) for p in sorted((data_dir / "hc18" / "images").glob("*.png"))[::40] if p.name not in used]


def real_frames(data_dir, records, every_image: bool = True):  # type: ignore[no-untyped-def]
    """(frame, source) for every real image of the shared data: plane records, all other HC18 images, SonoNet's
    examples (every_image False: the records only)."""
    seen = set()
    for r in records:
        seen.add(r.path.name)
        yield read_color(r.path), f"{r.dataset} {'held-out' if r.heldout else 'development'}"
    if not every_image:
        return
    for p in sorted((data_dir / "hc18" / "images").glob("*.png")):
        if p.name not in seen:
            yield read_color(p), "hc18 (not in plane training)"
    for p in sorted((data_dir / "peers" / "sononet" / "examples").glob("*.png")):
        yield read_color(p), "sononet examples"


def device_metrics(task, predict) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Numbers of one graph (`predict`: (N,1,H,W) -> logits) for the manifest, details for the card."""
    t, thr = float(task.cal.get("temperature", 1.0)), float(task.cal.get("unknown_threshold", 0.5))
    ref = ModelRef(task.info.model_name, "candidate", "")

    def probs(frame: np.ndarray) -> np.ndarray:
        return softmax(predict(preprocess(frame, task.spec).tensor)[0], t)

    def classify(frame: np.ndarray):  # type: ignore[no-untyped-def]
        return classify_frame(frame, probs, thr, ref)

    recs = [task.data.records[i] for i in task.data.held]
    logits = np.stack([predict(preprocess(read_gray(r.path), task.spec).tensor)[0] for r in recs])
    held = model_metrics(logits, recs, t, thr)
    held_afr = model_metrics(*subset(logits, recs, [r.dataset == "african" for r in recs]), t, thr)
    smoke = getattr(task, "limit_records", None) is not None  # a smoke run: a few junk frames, its own records
    gen = load_junk_generator(REPO_ROOT)
    material = junk_material(task.data_dir, task.data.records)
    junk = junk_table(classify, gen.junk_set(2 if smoke else JUNK_PER_KIND, JUNK_SEED, material[:2] if smoke else material),
                      tuple(gen.SEEN))
    real = real_junk_rate(classify, real_frames(task.data_dir, task.data.records, every_image=not smoke))
    ignored = model_metrics(logits[:, :8], recs, t, thr)["macro_f1"] if logits.shape[1] == 9 else held["macro_f1"]
    return {"heldout_macro_f1": held["macro_f1"], "heldout_accuracy": held["accuracy"],
            "heldout_african_macro_f1": held_afr["macro_f1"],
            "heldout_coverage_at_threshold": held["at_threshold"]["coverage"],
            "heldout_accuracy_at_threshold": held["at_threshold"]["accuracy"] or 0.0,
            "heldout_macro_f1_junk_output_ignored": ignored,
            "junk_unknown_rate": junk["groups"]["all"]["unknown_rate"], "junk_frames": junk["groups"]["all"]["n"],
            "real_images_called_junk": real["all"]["junk_rate"], "real_images": real["all"]["n"],
            "details": {"heldout": held, "heldout_african": held_afr, "junk": junk, "real_junk": real}}


def cv_rows(task) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """The recipe's CV (out-of-fold logits of SonoNet-16 as it comes, the teacher and the student)."""
    from compress.planes.workflow import cv_predictions

    r = task.recipe
    cv = cv_predictions(task.data, task.out, r.folds, r.cv_config())
    recs = [task.data.records[i] for i in cv.record]
    thr = float(task.cal.get("unknown_threshold", 0.5))
    out: dict[str, dict] = {"cv": {}, "cv_african": {}}
    for m, z in cv.logits.items():
        out["cv"][m] = model_metrics(z, recs, threshold=thr)
        out["cv_african"][m] = model_metrics(*subset(z, recs, [x.dataset == "african" for x in recs]),
                                             out["cv"][m]["temperature"])
    z = cv.logits["student"]
    out["cv_junk_cost"] = {"with_junk": out["cv"]["student"]["macro_f1"],
                           "junk_ignored": model_metrics(z[:, :8], recs, out["cv"]["student"]["temperature"])["macro_f1"]}
    return out


def card_report(task, final: dict[str, dict[str, Any]]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The report `results_markdown` reads: the recipe's CV + the final graphs' device metrics."""
    report = cv_rows(task)
    report["heldout"] = {f"student {p}": f["details"]["heldout"] for p, f in final.items()}
    report["heldout_african"] = {f"student {p}": f["details"]["heldout_african"] for p, f in final.items()}
    report.update({k: final["int8"]["details"][k] for k in ("junk", "real_junk")})
    report["heldout_junk_cost"] = {"with_junk": final["int8"]["heldout_macro_f1"],
                                   "junk_ignored": final["int8"]["heldout_macro_f1_junk_output_ignored"]}
    r = task.recipe
    report["schedule"] = {"cv_minutes": r.cv_max_minutes, "shipped_minutes": r.max_minutes + r.continue_minutes}
    report["calibration"] = dict(task.cal)
    return report


def results_markdown(report: dict[str, Any]) -> str:
    """The card's results: held-out (INT8 and FP32 graphs, device rules), CV, confusion matrices, coverage
    against accuracy, the junk set per kind and the real images called junk."""
    cal, sched = report.get("calibration", {}), report.get("schedule", {})
    return f"""## Results

Calibration (from the CV, validation data only): temperature {cal.get('temperature')}, unknown threshold
{cal.get('unknown_threshold')}. Six-plane metrics; macro-F1 over the planes present; a real frame answered
junk counts as a miss; ECE of the top-1 confidence before / after temperature scaling; coverage = share of
frames answered at the threshold. CV rows: students of {sched.get('cv_minutes')} CPU-minutes per fold
(the shipped one had {sched.get('shipped_minutes')}), so they understate it.

{table(report, [('heldout', 'held-out all'), ('heldout_african', 'held-out African'), ('cv', 'CV dev'),
                ('cv_african', 'CV African')])}

Confusion matrix, INT8 student on the held-out patients (top-1 after temperature, before the threshold):

{confusion_table(report['heldout']['student int8'])}

Confusion matrix, CV students out of fold (development patients):

{confusion_table(report['cv']['student'])}

Coverage against accuracy as the unknown threshold rises (CV out of fold, where the threshold is chosen):

{coverage_table(report['cv']['student'])}

### Junk frames (out of distribution, issue #27)
The evaluation junk set (tests/junk_frames.py: its own code and seed {JUNK_SEED}, {JUNK_PER_KIND} frames per kind)
through the device's classifier, INT8 graph: frame check, then the model (the "Not ultrasound" output), then
the threshold. "same family" kinds have a training counterpart drawn differently; "no" kinds never were in
training.

{junk_section(report)}

Cost of the junk output on real frames: {junk_cost(report)}
"""
