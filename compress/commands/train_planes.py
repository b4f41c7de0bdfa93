"""`fetal-compress train-planes`: teacher (SonoNet-16 + new head) and distilled student, by the recipe in
the pipeline YAML (`--config`, default compress/configs/planes.yaml, its `task_options`).

Steps: 1. records + cache of augmented views with frozen SonoNet-16 features, and the junk-class views;
2. final teacher head on all development views -> <cache_dir>/teacher.pt, final student distilled on them ->
<cache_dir>/student_<arch>_<recipe key>.pt; 3. patient-grouped CV (out-of-fold logits) -> temperature and
unknown threshold, chosen on validation data only. Held-out patients are never touched here. Finished steps
are reused when their recipe key matches. `fetal-compress pipeline --config` then prunes, quantises,
calibrates and writes the bundle from the same recipe.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import torch

from compress.paths import REPO_ROOT
from compress.planes.recipe import PlaneRecipe, load_recipe
from compress.planes.workflow import calibrate, cv_predictions, final_models, prepare_recipe, student_name

log = logging.getLogger(__name__)
DEFAULT_CONFIG = REPO_ROOT / "compress" / "configs" / "planes.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-planes", help="train the plane teacher and distilled student by the recipe")
    p.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline YAML whose task_options hold the recipe")
    p.add_argument("--only", choices=("final", "cv"), default=None,
                   help="run just the final models or just the CV and stop (two processes can then share the "
                        "two cores; a later plain run reuses both)")
    add_recipe_overrides(p)
    p.set_defaults(func=run)


def add_recipe_overrides(p: argparse.ArgumentParser) -> None:
    """Options that replace a recipe value (for experiments; the shipped model uses the YAML as it is)."""
    p.add_argument("--student", default=None, help="student family (default the YAML's student.family, sononet-lr)")
    p.add_argument("--n-junk", type=int, default=None, help="junk-class training frames (0: no junk class data)")
    p.add_argument("--out", default=None, help="cache_dir: checkpoints, caches, CV predictions")


def recipe_of(args: argparse.Namespace) -> PlaneRecipe:
    recipe = load_recipe(args.config)
    over = {"student_arch": args.student, "n_junk": args.n_junk, "cache_dir": args.out}
    return replace(recipe, **{k: v for k, v in over.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    recipe = recipe_of(args)
    log.info("train-planes recipe: %s", recipe)
    data, out = prepare_recipe(recipe, args.data)
    if args.only == "cv":
        cv_predictions(data, out, recipe.folds, recipe.cv_config())
        return 0
    cfg = recipe.student_config()
    final_models(data, out, cfg, continue_minutes=recipe.continue_minutes)
    if args.only == "final":
        return 0
    cv = cv_predictions(data, out, recipe.folds, recipe.cv_config())
    temperature, threshold = calibrate(cv.logits["student"], [data.records[i] for i in cv.record],
                                       recipe.target_accuracy)
    summary = {"student_checkpoint": str(out / student_name(data, cfg, recipe.continue_minutes)),
               "temperature": temperature, "unknown_threshold": threshold, "data_key": data.key}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return 0
