"""`pipeline:` section: models, smoothing, best-frame selection, biometry and clinical methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from edge.clinical import EFW_METHODS, GA_METHODS
from edge.config import SECTIONS, check_keys, typed

GA_CHOICES = ("best_ga",) + GA_METHODS      # best_ga: INTERGROWTH-21st in its window, Hadlock outside it
DEFAULT_GA_METHOD = "best_ga"
DEFAULT_EFW_METHOD = "intergrowth21_hc_ac"  # the EFW the INTERGROWTH-21st EFW standard was built on

_KEYS = {"plane_model", "head_model", "queue_size", "smoothing_window", "min_confidence", "top_k",
         "biometry_interval_s", "head_min_prob", "ga_method", "efw_method", "status_interval_s", "max_frames"}


@dataclass(frozen=True)
class PipelineSettings:
    plane_model: str = "plane-cls"     # shipped model name or bundle directory
    head_model: str = "head-seg"
    queue_size: int = 4                # capture -> inference queue; the oldest frame is dropped when full
    smoothing_window: int = 8          # frames of plane probabilities averaged
    min_confidence: float = 0.6        # smoothed confidence for a frame to count as a plane candidate
    top_k: int = 5                     # best frames kept per plane; biometry = median over them
    head_min_prob: float = 0.4         # brain probability (the top plane) for a frame to be measured
    biometry_interval_s: float = 0.25  # at most one live biometry run per interval (rest at the end)
    ga_method: str = DEFAULT_GA_METHOD
    efw_method: str = DEFAULT_EFW_METHOD
    status_interval_s: float = 0.5
    max_frames: int | None = None      # stop after this many frames (None: until the source ends)


@SECTIONS.register("pipeline")
def parse(d: Mapping[str, Any]) -> PipelineSettings:
    d = check_keys(d, "pipeline", _KEYS)
    p = "pipeline"
    return PipelineSettings(
        plane_model=typed(d, p, "plane_model", str, "plane-cls"),
        head_model=typed(d, p, "head_model", str, "head-seg"),
        queue_size=typed(d, p, "queue_size", int, 4, lo=1, hi=1024),
        smoothing_window=typed(d, p, "smoothing_window", int, 8, lo=1, hi=1000),
        min_confidence=typed(d, p, "min_confidence", float, 0.6, lo=0.0, hi=1.0),
        top_k=typed(d, p, "top_k", int, 5, lo=1, hi=100),
        head_min_prob=typed(d, p, "head_min_prob", float, 0.4, lo=0.0, hi=1.0),
        biometry_interval_s=typed(d, p, "biometry_interval_s", float, 0.25, lo=0.0, hi=60.0),
        ga_method=typed(d, p, "ga_method", str, DEFAULT_GA_METHOD, choices=GA_CHOICES),
        efw_method=typed(d, p, "efw_method", str, DEFAULT_EFW_METHOD, choices=EFW_METHODS),
        status_interval_s=typed(d, p, "status_interval_s", float, 0.5, lo=0.05, hi=60.0),
        max_frames=typed(d, p, "max_frames", int, None, lo=1, hi=10**9),
    )
