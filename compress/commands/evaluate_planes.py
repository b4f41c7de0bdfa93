"""`fetal-compress evaluate-planes`: the plane bundle against SonoNet-16 and the teacher, from the recipe in
`--config` (the same task_options train-planes used): SonoNet-16 (as it comes, mapped), teacher and student
on the same patient-grouped CV folds, leave-one-country-out on the African cohort, the held-out patients
(the bundle through the device runtime), the evaluation junk set (tests/junk_frames.py) per kind and every
real image of the shared data (how many are wrongly called junk). Writes report.json / report.txt under the
recipe's cache_dir. The model card itself is written by the pipeline run that makes the bundle.

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
from compress.paths import REPO_ROOT, require_data_dir
from compress.planes.crossval import sononet_logits
from compress.planes.card import JUNK_PER_KIND, JUNK_SEED, junk_material, real_frames
from compress.planes.outofdist import junk_table, load_junk_generator, real_junk_rate
from compress.planes.report import format_table, model_metrics, subset
from compress.planes.teacher import TEACHER_CHECKPOINT, TeacherHead, head_logits
from compress.planes.workflow import cv_predictions, loco_predictions, prepare_recipe
from edge.errors import ModelError
from edge.imageio import read_color, read_gray
from edge.models import load_model
from edge.planes.classifier import PlaneClassifier

log = logging.getLogger(__name__)
DEFAULT_MODEL = REPO_ROOT / "edge" / "models" / "plane-cls"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-planes", help="CV, LOCO, held-out, junk-set and real-image plane metrics")
    p.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline YAML whose task_options hold the recipe")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="plane bundle to evaluate")
    p.add_argument("--precision", choices=("int8", "fp32"), default="int8",
                   help="graph of the bundle for the junk and real-image runs (the shipped default is int8)")
    p.add_argument("--no-heldout", action="store_true", help="skip everything that reads the held-out patients")
    p.add_argument("--junk-per-kind", type=int, default=JUNK_PER_KIND, help="evaluation junk frames per kind (12 kinds)")
    p.add_argument("--loco-minutes", type=float, default=4.0,
                   help="time budget of each LOCO student (0: teacher and SonoNet only, to save CPU)")
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
    report["junk"] = junk_table(clf.classify, gen.junk_set(args.junk_per_kind, JUNK_SEED, junk_material(data_dir, recs)),
                                tuple(gen.SEEN))
    report["junk"]["precision"] = args.precision
    real = ((f, src) for f, src in real_frames(data_dir, recs) if not (args.no_heldout and "held-out" in src))
    report["real_junk"] = real_junk_rate(clf.classify, real)
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
    return 0
