"""`fetal-compress train-planes`: teacher (SonoNet-16 + new head) and distilled student, shipped as plane-cls.

Steps: 1. records + cache of augmented views with frozen SonoNet-16 features; 2. final teacher head on all
development views -> runs/planes/teacher.pt, final student distilled on them -> runs/planes/student_e<N>[...].pt;
3. patient-grouped CV (out-of-fold logits, student on the --cv-epochs schedule) -> temperature and unknown
threshold, chosen on validation data only; 4. ONNX + manifest into --ship. Held-out patients are never
touched here. Finished steps are reused from --out (cache, student checkpoint, CV predictions).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import torch

from compress.nets.plane_student import ARCHS, PRETRAINED
from compress.paths import require_data_dir
from compress.planes.distill import DistillConfig
from compress.planes.ship import ship_student
from compress.planes.workflow import calibrate, cv_predictions, final_models, prepare, student_name
from edge.errors import ConfigError

log = logging.getLogger(__name__)
DEFAULT_SHIP = Path(__file__).resolve().parents[2] / "edge" / "models" / "plane-cls"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-planes", help="train the plane teacher and distilled student, ship plane-cls")
    p.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--out", default="runs/planes", help="checkpoints, caches, CV predictions")
    p.add_argument("--ship", default=str(DEFAULT_SHIP), help="bundle directory to write (model.onnx + manifest)")
    p.add_argument("--n-aug", type=int, default=40, help="augmented views per development image")
    p.add_argument("--hc18-images", type=int, default=80, help="HC18 train-split heads added as trans-thalamic")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=40, help="at most this many epochs for the shipped student")
    p.add_argument("--cv-epochs", type=int, default=12, help="at most this many student epochs per CV fold")
    p.add_argument("--target-accuracy", type=float, default=0.97,
                   help="unknown threshold: lowest confidence whose answered frames reach this accuracy (CV)")
    p.add_argument("--max-minutes", type=float, default=45.0,
                   help="CPU time budget of the shipped student (the LR schedule anneals within it)")
    p.add_argument("--continue-minutes", type=float, default=25.0,
                   help="then a second cycle (peak LR / 3) of this many minutes from the shipped student (0: none)")
    p.add_argument("--cv-max-minutes", type=float, default=8.0, help="time budget of each CV fold's student")
    p.add_argument("--only", choices=("final", "cv"), default=None,
                   help="run just the final models or just the CV and stop (two processes can then share the "
                        "two cores; a later plain run reuses both and ships)")
    add_student_arguments(p)
    p.set_defaults(func=run)


def add_student_arguments(p: argparse.ArgumentParser) -> None:
    """The student recipe options train-planes and evaluate-planes share (they name the CV files)."""
    p.add_argument("--student", choices=ARCHS, default="sononet-s",
                   help="sononet-s (plane-cls 1.3.0): cut from SonoNet-16's own filters; sononet-lr: SonoNet-16's "
                        "full width with low-rank factorised convolutions; planenet-s (1.2.0): from scratch")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 3e-3 for planenet-s, 1e-3 for the pretrained sononet-s/-lr)")
    p.add_argument("--map-hint-weight", type=float, default=0.0,
                   help="weight of the spatial hint (student map -> SonoNet's last-block map; 0: off)")


def student_config(args: argparse.Namespace, epochs: int, max_minutes: float) -> DistillConfig:
    if args.map_hint_weight < 0:
        raise ConfigError(f"--map-hint-weight {args.map_hint_weight} must be >= 0")
    lr = args.lr if args.lr is not None else (1e-3 if args.student in PRETRAINED else DistillConfig.lr)
    if not 0 < lr < 1:
        raise ConfigError(f"--lr {lr} must be in (0, 1)")
    return DistillConfig(epochs=epochs, max_minutes=max_minutes, map_weight=args.map_hint_weight,
                         arch=args.student, lr=lr)


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1 or args.cv_epochs < 1 or args.n_aug < 0 or args.folds < 2:
        raise ConfigError(f"--epochs {args.epochs} >= 1, --n-aug {args.n_aug} >= 0, --folds {args.folds} >= 2 required")
    if not 0.5 <= args.target_accuracy < 1.0:
        raise ConfigError(f"--target-accuracy {args.target_accuracy} must be in [0.5, 1)")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = student_config(args, args.epochs, args.max_minutes)
    cv_cfg = replace(cfg, epochs=args.cv_epochs, max_minutes=args.cv_max_minutes)
    log.info("train-planes settings: %s", vars(args))

    # 1. records and the view / feature cache
    data = prepare(require_data_dir(args.data), out, args.n_aug, args.hc18_images)
    if args.only == "cv":
        cv_predictions(data, out, args.folds, cv_cfg)
        return 0
    # 2. final teacher head and distilled student on every development view
    _, student = final_models(data, out, cfg, continue_minutes=args.continue_minutes)
    if args.only == "final":
        return 0
    # 3. CV -> temperature and unknown threshold (validation data only)
    cv = cv_predictions(data, out, args.folds, cv_cfg)
    cv_recs = [data.records[i] for i in cv.record]
    temperature, threshold = calibrate(cv.logits["student"], cv_recs, args.target_accuracy)
    log.info("student calibration from CV: temperature %.3f, unknown threshold %.2f", temperature, threshold)
    # 4. ship
    provenance = {"training_data": "planes/labels.csv (FETAL_PLANES_DB subset + African cohort) development "
                                   f"patients + {args.hc18_images} HC18 train-split heads",
                  "split": "patient-hash held-out 20% per dataset/country (compress.data.planes)",
                  "source_checkpoint": str(out / student_name(cfg, args.continue_minutes)),
                  "teacher": "SonoNet-16 (frozen) + MLP head",
                  "architecture": cfg.arch,
                  "distillation": f"peak LR {cfg.lr:g}, T={cfg.temperature}, alpha={cfg.alpha}, feature hint weight {cfg.feat_weight}, "
                                  f"spatial hint weight {cfg.map_weight}, "
                                  f"<= {cfg.epochs} epochs within {cfg.max_minutes} min (time-annealed LR)"
                                  + (f", then {args.continue_minutes} min at peak LR / 3"
                                     if args.continue_minutes > 0 else ""),
                  "calibration": f"temperature and threshold from {args.folds}-fold CV out-of-fold logits, "
                                 f"students of <= {args.cv_epochs} epochs / {args.cv_max_minutes} min"}
    manifest = ship_student(student, Path(args.ship), temperature, threshold, provenance, {})
    summary = {"temperature": temperature, "unknown_threshold": threshold, "manifest": str(manifest)}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return 0
