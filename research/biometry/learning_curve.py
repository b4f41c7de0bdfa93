"""Out-of-fold HC MAE against training-set size, from `python -m research.biometry cv --fraction F` runs of one recipe.

`python -m research.biometry curve RESULT.json...` (each a cv_k<folds><tag>.json) prints, over the
images every run measured, each run's MAE and mean training-set size, the fit MAE = a + b ln(N), and the fit
read at the sizes asked for (`--at`, default 541 = our train split and 999 = HC18's published training set).
Three points of a curve that must flatten somewhere: an estimate of whether more heads would help, no more.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from compress.data.hc18 import load_split
from edge.errors import ConfigError
from research.biometry.compare import load_rows
from research.biometry.crossval import DEV_SPLITS, in_fraction, subject_fold


def training_size(path: Path) -> float:
    """Mean number of training images per fold of a result, recomputed from its fold students' summaries (data
    folder and train fraction, beside it) and the CV's subject folds."""
    result = json.loads(path.read_text())
    folds = int(result["summary"]["folds"])
    tag = path.stem.split(f"cv_k{folds}", 1)[1]
    config = json.loads((path.parent / f"student{tag}_cv0_summary.json").read_text())
    fraction = float(config.get("fraction", 1.0))
    records = [r for split in DEV_SPLITS for r in load_split(Path(config["data"]) / "hc18", split)]
    names = {row["name"] for row in result["rows"]}
    if {r.name for r in records} != names:
        raise ConfigError(f"{path}: its rows are not the development images of {config['data']} (a --limit run?)")
    return float(np.mean([sum(subject_fold(r.subject, folds) != k and in_fraction(r.subject, fraction)
                              for r in records) for k in range(folds)]))


def common_maes(paths: list[Path]) -> tuple[list[float], int]:
    """Each result's HC MAE over the images every result measured, and how many those are."""
    tables = [{r["name"]: r for r in load_rows(p)} for p in paths]
    common = sorted(set.intersection(*[{n for n, r in t.items() if r["hc_mm"] is not None} for t in tables]))
    if not common:
        raise ConfigError("these results share no measured image; give runs of the same folds")
    return [float(np.mean([abs(t[n]["hc_mm"] - t[n]["hc_ref_mm"]) for n in common])) for t in tables], len(common)


def fit_log(sizes: list[float], maes: list[float]) -> tuple[float, float]:
    """(a, b) of MAE = a + b ln N, least squares."""
    b, a = np.polyfit(np.log(sizes), maes, 1)
    return float(a), float(b)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--at", type=float, nargs="*", default=[541, 999])


def run(args: argparse.Namespace) -> int:
    maes, n = common_maes(args.results)
    sizes = [training_size(p) for p in args.results]
    print(f"{n} images measured by every run")
    for path, size, mae in zip(args.results, sizes, maes):
        print(f"{path.name:<28} N {size:6.1f}  HC MAE {mae:.3f} mm")
    if len(sizes) >= 2:
        a, b = fit_log(sizes, maes)
        print(f"fit: MAE = {a:.3f} {b:+.3f} ln N  ({b * np.log(2):+.3f} mm per doubling)")
        for at in args.at:
            print(f"  at N = {at:.0f}: {a + b * np.log(at):.2f} mm")
    return 0

