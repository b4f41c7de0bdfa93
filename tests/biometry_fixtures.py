"""Helpers shared by the head-biometry recipe tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from compress.biometry.train import TrainConfig
from compress.commands.train_biometry import add_recipe_arguments, recipe_options


def recipe(hc18_dir: Path, out: Path, *argv: str) -> TrainConfig:
    """The TrainConfig that `train-biometry` / `cv-biometry` build from these command-line options."""
    p = argparse.ArgumentParser()
    add_recipe_arguments(p)
    p.add_argument("--out", type=Path, default=out)
    return TrainConfig(**recipe_options(p.parse_args(["--data", str(hc18_dir.parent), *argv])))
