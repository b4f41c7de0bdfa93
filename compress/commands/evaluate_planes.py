"""`fetal-compress evaluate-planes --data DIR`: SonoNet-16 (as it comes, mapped), teacher and student on the
same folds, in one table: patient-grouped CV on the development set, leave-one-country-out on the African
cohort, and the held-out patients (the shipped ONNX through the device runtime). Writes report.json.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from compress.paths import require_data_dir
from compress.planes.crossval import sononet_logits
from compress.commands.train_planes import add_student_arguments, student_config
from compress.planes.model_card import write_card
from compress.planes.report import format_table, model_metrics, subset
from compress.planes.teacher import TEACHER_CHECKPOINT, TeacherHead, head_logits
from compress.planes.workflow import cv_predictions, loco_predictions, prepare
from edge.errors import ModelError
from edge.imageio import read_gray
from edge.manifest import file_entry
from edge.models import load_model

log = logging.getLogger(__name__)
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "edge" / "models" / "plane-cls"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-planes", help="CV, leave-one-country-out and held-out plane metrics")
    p.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--out", default="runs/planes", help="where train-planes left its caches and checkpoints")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="shipped student bundle to evaluate")
    p.add_argument("--card", action="store_true", help="write MODEL_CARD.md into the model bundle")
    p.add_argument("--shipped-minutes", type=float, default=70.0,
                   help="CPU-minutes the shipped student trained (for the card; train-planes: 45 + 25)")
    p.add_argument("--n-aug", type=int, default=40)
    p.add_argument("--hc18-images", type=int, default=80)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--cv-epochs", type=int, default=12, help="student epochs of the CV runs (as in train-planes)")
    p.add_argument("--cv-max-minutes", type=float, default=8.0, help="time budget of each CV student (as in train-planes)")
    add_student_arguments(p)
    p.add_argument("--loco-epochs", type=int, default=12,
                   help="student epochs of the LOCO runs (0: teacher and SonoNet only, to save CPU)")
    p.add_argument("--loco-max-minutes", type=float, default=4.0, help="time budget of each LOCO student")
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
    out = Path(args.out)
    data = prepare(require_data_dir(args.data), out, args.n_aug, args.hc18_images)
    recs, cache = data.records, data.cache
    bundle = load_model(args.model, threads=2)
    cal = bundle.manifest.raw.get("calibration_params", {})
    t_student, thr = float(cal.get("temperature", 1.0)), float(cal.get("unknown_threshold", 0.5))
    report: dict = {"calibration": cal}
    rows: dict[str, dict] = {}

    # 1. patient-grouped CV (temperatures of teacher / SonoNet fitted on their own CV logits)
    cv = cv_predictions(data, out, args.folds, student_config(args, args.cv_epochs, args.cv_max_minutes))
    cv_recs = [recs[i] for i in cv.record]
    temps = {}
    for m, z in cv.logits.items():
        rows[f"CV{args.folds} dev  {m}"] = report.setdefault("cv", {})[m] = model_metrics(z, cv_recs, threshold=thr)
        temps[m] = rows[f"CV{args.folds} dev  {m}"]["temperature"]
        za, ra = subset(z, cv_recs, [r.dataset == "african" for r in cv_recs])
        rows[f"CV{args.folds} African {m}"] = report.setdefault("cv_african", {})[m] = model_metrics(za, ra, temps[m])
    # 2. leave-one-country-out (African cohort)
    loco = loco_predictions(data, out, student_config(args, args.loco_epochs, args.loco_max_minutes)
                            if args.loco_epochs > 0 else None)
    lrecs = [recs[i] for i in loco.record]
    for m, z in loco.logits.items():
        rows[f"LOCO African {m}"] = report.setdefault("loco", {})[m] = model_metrics(z, lrecs, temps[m], thr)
        report.setdefault("loco_by_country", {})[m] = {
            c: model_metrics(*subset(z, lrecs, [r.country == c for r in lrecs]), temps[m])["macro_f1"]
            for c in sorted({r.country for r in lrecs})}
    # 3. held-out patients: SonoNet and teacher on cached clean views, the shipped ONNX on the image files
    clean = {int(r): k for k, r in enumerate(cache.record) if cache.view[k] == 0}
    feats = cache.feats[[clean[i] for i in data.held]]
    held_recs = [recs[i] for i in data.held]
    held = {"sononet": sononet_logits(feats), "teacher": head_logits(_teacher_head(out), feats),
            "student": np.stack([bundle.infer(read_gray(r.path))[0] for r in held_recs])}
    t_of = {"sononet": temps["sononet"], "teacher": temps["teacher"], "student": t_student}
    for m, z in held.items():
        rows[f"held-out all {m}"] = report.setdefault("heldout", {})[m] = model_metrics(z, held_recs, t_of[m], thr)
        za, ra = subset(z, held_recs, [r.dataset == "african" for r in held_recs])
        ha = report.setdefault("heldout_african", {})
        rows[f"held-out African {m}"] = ha[m] = model_metrics(za, ra, t_of[m], thr)
    table = format_table(rows, f"plane classification (student T={t_student:.2f}, unknown threshold {thr:.2f}; "
                               "recall per plane; ECE raw / after temperature)")
    print(table)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "report.txt").write_text(table + "\n")
    if args.card:
        bench = out / "bench.txt"
        schedules = (f"CV and LOCO students were trained on short schedules (<= {args.cv_max_minutes:g} and "
                     f"<= {args.loco_max_minutes:g} CPU-minutes per fold, against {args.shipped_minutes:g} "
                     "for the shipped one)")
        write_card(Path(args.model), report, bundle.manifest.raw, bench.read_text() if bench.is_file() else None,
                   schedules)
        _write_metrics(Path(args.model), report)


def _write_metrics(model_dir: Path, report: dict) -> None:
    """Held-out numbers of the shipped student added to manifest.json `metrics`; files the manifest lists
    (the card just written) are hashed again so the bundle still verifies."""
    st, afr = report["heldout"]["student"], report["heldout_african"]["student"]
    metrics = {"heldout_n": st["n"], "heldout_accuracy": round(st["accuracy"], 4),
               "heldout_macro_f1": round(st["macro_f1"], 4), "heldout_african_macro_f1": round(afr["macro_f1"], 4),
               "heldout_coverage_at_threshold": round(st["at_threshold"]["coverage"], 4),
               "heldout_accuracy_at_threshold": round(st["at_threshold"]["accuracy"], 4),
               "heldout_ece_calibrated": round(st["ece_calibrated"], 4)}
    path = model_dir / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["metrics"] = {**(raw.get("metrics") or {}), **metrics}
    raw["files"] = {name: file_entry(model_dir / name) for name in raw.get("files", {})}
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return 0
