"""Compression stages, registered by name; the pipeline runs them in ORDER."""

from __future__ import annotations

import importlib
from typing import Callable

from edge.registry import Registry

ORDER = ("train", "prune", "calibrate", "export", "quantize")
STAGES: Registry[Callable] = Registry("compression stage")


def stage(name: str) -> Callable:
    """The entry point of one stage: `fn(ctx: StageContext) -> StageOutcome`."""
    if name not in STAGES and name in ORDER:
        importlib.import_module(f"compress.stages.{name}")
    return STAGES.get(name)
