"""`fetal-compress evaluate-planes`: the plane bundle's numbers for its model card, from the recipe in
`--config` (the same task_options train-planes used): SonoNet-16 (as it comes, mapped), teacher and student
on the same patient-grouped CV folds, leave-one-country-out on the African cohort, the held-out patients
(the bundle through the device runtime), the evaluation junk set (tests/junk_frames.py) per kind and every
real image of the shared data (how many are wrongly called junk). Writes report.json (and, with --card,
MODEL_CARD.md + the manifest's metrics).

--no-heldout leaves out everything that reads the held-out patients (for a ship decision made before them).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from compress.commands.train_planes import DEFAULT_CONFIG, add_recipe_overrides, recipe_of
from compress.data.planes import load_records
from compress.paths import REPO_ROOT, require_data_dir
from compress.planes.crossval import sononet_logits
from compress.planes.model_card import write_card
from compress.planes.outofdist import junk_table, load_junk_generator, real_junk_rate
from compress.planes.report import format_table, model_metrics, subset
from compress.planes.teacher import TEACHER_CHECKPOINT, TeacherHead, head_logits
from compress.planes.workflow import cv_predictions, loco_predictions, prepare_recipe
from edge.errors import ModelError
from edge.imageio import read_color, read_gray
from edge.manifest import file_entry
from edge.models import load_model
from edge.planes.classifier import PlaneClassifier

log = logging.getLogger(__name__)
DEFAULT_MODEL = REPO_ROOT / "edge" / "models" / "plane-cls"
JUNK_SEED = 2027  # the evaluation junk set's seed (the training negatives use the recipe's junk_seed)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-planes", help="CV, LOCO, held-out, junk-set and real-image plane metrics")
    p.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline YAML whose task_options hold the recipe")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="plane bundle to evaluate")
    p.add_argument("--precision", choices=("int8", "fp32"), default="int8",
                   help="graph of the bundle for the junk and real-image runs (the shipped default is int8)")
    p.add_argument("--card", action="store_true", help="write MODEL_CARD.md into the model bundle")
    p.add_argument("--no-heldout", action="store_true", help="skip everything that reads the held-out patients")
    p.add_argument("--junk-per-kind", type=int, default=100, help="evaluation junk frames per kind (12 kinds)")
    p.add_argument("--loco-minutes", type=float, default=4.0,
                   help="time budget of each LOCO student (0: teacher and SonoNet only, to save CPU)")
    p.add_argument("--contract-cost", default=None,
                   help="JSON written by benchmarks/plane_contract_cost.py, quoted in the card")
    add_recipe_overrides(p)
    p.set_defaults(func=run)


def _teacher_head(out: Path) -> TeacherHead:
    path = out / TEACHER_CHECKPOINT.name
    if not path.is_file():
        raise ModelError(f"no teacher checkpoint {path}; run `fetal-compress train-planes` first")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    head = TeacherHead(int(ckpt["in_dim"]))
    head.load_state_dict(ckpt["head"])
    return head.eval()


def _real_frames(data_dir: Path, records: list, include_heldout: bool):  # type: ignore[no-untyped-def]
    """(frame, source) for every real image of the shared data (plane records, all HC18, SonoNet examples)."""
    seen = set()
    for r in records:
        if r.heldout and not include_heldout:
            continue
        seen.add(r.path.name)
        yield read_color(r.path), f"{r.dataset} {'held-out' if r.heldout else 'development'}"
    for p in sorted((data_dir / "hc18" / "images").glob("*.png")):
        if p.name not in seen:
            yield read_color(p), "hc18 (not in plane training)"
    for p in sorted((data_dir / "peers" / "sononet" / "examples").glob("*.png")):
        yield read_color(p), "sononet examples"


def _junk_material(data_dir: Path, records: list) -> list[np.ndarray]:
    """Real frames for the shuffled junk kind: HC18 heads the plane model never trained on."""
    used = {r.path.name for r in records}
    return [read_gray(p) for p in sorted((data_dir / "hc18" / "images").glob("*.png"))[::40] if p.name not in used]


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    recipe = recipe_of(args)
    data, out = prepare_recipe(recipe, args.data)
    data_dir = require_data_dir(args.data)
    recs, cache = data.records, data.cache
    bundle = load_model(args.model, threads=2)
    cal = bundle.manifest.raw.get("calibration_params", {})
    t_student, thr = float(cal.get("temperature", 1.0)), float(cal.get("unknown_threshold", 0.5))
    report: dict = {"calibration": cal, "recipe": asdict(recipe)}
    rows: dict[str, dict] = {}

    # 1. patient-grouped CV (temperatures of teacher / SonoNet fitted on their own CV logits)
    cv = cv_predictions(data, out, recipe.folds, recipe.cv_config())
    cv_recs = [recs[i] for i in cv.record]
    temps = {}
    for m, z in cv.logits.items():
        rows[f"CV{recipe.folds} dev  {m}"] = report.setdefault("cv", {})[m] = model_metrics(z, cv_recs, threshold=thr)
        temps[m] = report["cv"][m]["temperature"]
        za, ra = subset(z, cv_recs, [r.dataset == "african" for r in cv_recs])
        rows[f"CV{recipe.folds} African {m}"] = report.setdefault("cv_african", {})[m] = model_metrics(za, ra, temps[m])
    # the junk output's cost on CV: junk answers as misses vs the junk output ignored
    z = cv.logits["student"]
    report["cv_junk_cost"] = {"with_junk": report["cv"]["student"]["macro_f1"],
                              "junk_ignored": model_metrics(z[:, :8], cv_recs, temps["student"])["macro_f1"],
                              "answered_junk": int((z.argmax(1) == 8).sum()) if z.shape[1] == 9 else 0}
    # 2. leave-one-country-out (African cohort)
    loco_cfg = replace(recipe.cv_config(), max_minutes=args.loco_minutes) if args.loco_minutes > 0 else None
    loco = loco_predictions(data, out, loco_cfg)
    lrecs = [recs[i] for i in loco.record]
    loco_rows = {}
    for m, z in loco.logits.items():
        loco_rows[m] = model_metrics(z, lrecs, temps[m], thr)
        report.setdefault("loco_by_country", {})[m] = {
            c: model_metrics(*subset(z, lrecs, [r.country == c for r in lrecs]), temps[m])["macro_f1"]
            for c in sorted({r.country for r in lrecs})}
    if not args.no_heldout:  # LOCO predicts every image of a country, held-out patients included
        report["loco"] = loco_rows
        rows.update({f"LOCO African {m}": v for m, v in loco_rows.items()})
    # 3. junk set and real images through the device classifier (frame check + model + threshold)
    clf = PlaneClassifier(load_model(args.model, precision=args.precision, threads=2))
    gen = load_junk_generator(REPO_ROOT)
    report["junk"] = junk_table(clf, gen.junk_set(args.junk_per_kind, JUNK_SEED, _junk_material(data_dir, recs)),
                                tuple(gen.SEEN))
    report["junk"]["precision"] = args.precision
    report["real_junk"] = real_junk_rate(clf, _real_frames(data_dir, load_records(data_dir, recipe.hc18_images),
                                                           not args.no_heldout))
    # 4. held-out patients: SonoNet and teacher on cached clean views, the bundle's ONNX on the image files
    if not args.no_heldout:
        clean = {int(r): k for k, r in enumerate(cache.record) if cache.view[k] == 0}
        feats = cache.feats[[clean[i] for i in data.held]]
        held_recs = [recs[i] for i in data.held]
        held = {"sononet": sononet_logits(feats), "teacher": head_logits(_teacher_head(out), feats),
                "student": np.stack([bundle.infer(read_gray(r.path))[0] for r in held_recs])}
        t_of = {"sononet": temps["sononet"], "teacher": temps["teacher"], "student": t_student}
        for m, z in held.items():
            rows[f"held-out all {m}"] = report.setdefault("heldout", {})[m] = model_metrics(z, held_recs, t_of[m], thr)
            za, ra = subset(z, held_recs, [r.dataset == "african" for r in held_recs])
            rows[f"held-out African {m}"] = report.setdefault("heldout_african", {})[m] = model_metrics(za, ra, t_of[m], thr)
        z = held["student"]
        report["heldout_junk_cost"] = {"with_junk": report["heldout"]["student"]["macro_f1"],
                                       "junk_ignored": model_metrics(z[:, :8], held_recs, t_student, thr)["macro_f1"]
                                       if z.shape[1] == 9 else report["heldout"]["student"]["macro_f1"]}
    table = format_table(rows, f"plane classification (student T={t_student:.2f}, unknown threshold {thr:.2f}; "
                               "recall per plane; ECE raw / after temperature)")
    print(table)
    print(json.dumps({k: report[k] for k in ("cv_junk_cost", "heldout_junk_cost") if k in report}))
    print(json.dumps(report["junk"]["groups"]), json.dumps(report["real_junk"]["all"]))
    name = "report_no_heldout.json" if args.no_heldout else "report.json"
    (out / name).write_text(json.dumps(report, indent=1, default=str) + "\n")
    (out / name.replace(".json", ".txt")).write_text(table + "\n")
    if args.card:
        if args.no_heldout:
            raise ModelError("--card needs the held-out rows: run without --no-heldout")
        if args.contract_cost:
            report["contract_cost"] = json.loads(Path(args.contract_cost).read_text(encoding="utf-8"))
        bench = out / "bench.txt"
        schedules = (f"CV and LOCO students were trained on short schedules (<= {recipe.cv_max_minutes:g} and "
                     f"<= {args.loco_minutes:g} CPU-minutes per fold, against "
                     f"{recipe.max_minutes + recipe.continue_minutes:g} for the shipped one)")
        write_card(Path(args.model), report, bundle.manifest.raw, bench.read_text() if bench.is_file() else None,
                   schedules)
        _write_metrics(Path(args.model), report)
    return 0


def _write_metrics(model_dir: Path, report: dict) -> None:
    """Held-out and junk numbers of the shipped student added to manifest.json `metrics`; files the manifest
    lists (the card just written) are hashed again so the bundle still verifies."""
    st, afr = report["heldout"]["student"], report["heldout_african"]["student"]
    metrics = {"heldout_n": st["n"], "heldout_accuracy": round(st["accuracy"], 4),
               "heldout_macro_f1": round(st["macro_f1"], 4), "heldout_african_macro_f1": round(afr["macro_f1"], 4),
               "heldout_coverage_at_threshold": round(st["at_threshold"]["coverage"], 4),
               "heldout_accuracy_at_threshold": round(st["at_threshold"]["accuracy"], 4),
               "heldout_ece_calibrated": round(st["ece_calibrated"], 4),
               "junk_unknown_rate": round(report["junk"]["groups"]["all"]["unknown_rate"], 4),
               "junk_frames": report["junk"]["groups"]["all"]["n"],
               "real_images_called_junk": round(report["real_junk"]["all"]["junk_rate"], 4)}
    path = model_dir / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["metrics"] = {**(raw.get("metrics") or {}), **metrics}
    raw["files"] = {name: file_entry(model_dir / name) for name in raw.get("files", {})}
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
