"""Typed results passed between stages and stored / synced. Every number carries unit, model and quality.

Shared contract of the runtime (producer), the results store and the sync payload (consumers).
`to_dict()` gives the JSON-ready form the sync payload schema is built on.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from edge.manifest import ModelRef

RESULT_SCHEMA_VERSION = "1.1"   # 1.1: pregnancy, dating, centiles, alerts, review (docs: payload-1.1)

# quality flags, from best to worst
FLAG_OK = "ok"
FLAG_LOW_QUALITY = "low_quality"        # a number, but the quality score is below the confident level
FLAG_IMPLAUSIBLE = "implausible"        # a number that fails a plausibility cross-check (shown, flagged)
FLAG_OUT_OF_RANGE = "out_of_range"      # input outside a formula's validity range: no number
FLAG_NO_MEASUREMENT = "no_measurement"  # the quality gate refused: no number
FLAGS = (FLAG_OK, FLAG_LOW_QUALITY, FLAG_IMPLAUSIBLE, FLAG_OUT_OF_RANGE, FLAG_NO_MEASUREMENT)
SOURCES = ("model", "manual")
REVIEW_STATES = ("unreviewed", "accepted", "corrected")


def no_dating() -> dict[str, Any]:
    return {"ga_days": None, "ga_text": None, "precision_days": None, "edd": None, "source": None, "method": None}


def unreviewed() -> dict[str, Any]:
    return {"state": "unreviewed", "by": None, "at": None, "note": None}


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Measurement:
    """One biometric or derived quantity. value is None exactly when flag is out_of_range/no_measurement."""

    name: str                 # "hc", "bpd", "ofd", "ac", "fl", "ga", "efw"
    value: float | None
    unit: str                 # UCUM: "mm", "g", "d" (GA is carried in days; weeks derived for display)
    quality: float            # 0..1
    flag: str
    model: ModelRef | None    # None for numbers computed by formula only
    method: str | None = None  # e.g. "ellipse_fit", "hadlock1984_hc", "intergrowth21_hc_fl"
    reason: str | None = None  # why there is no number / why flagged
    n_frames: int = 1
    centile: float | None = None        # 0..100 against `standard` at the exam's established GA
    z: float | None = None
    standard: str | None = None         # e.g. "INTERGROWTH-21st fetal growth (Papageorghiou 2014)"
    centile_reason: str | None = None   # why there is no centile
    source: str = "model"               # "model" | "manual" (a caliper value the user gave)

    def __post_init__(self) -> None:
        if self.flag not in FLAGS:
            raise ValueError(f"flag {self.flag!r} is not one of {FLAGS}")
        if (self.value is None) != (self.flag in (FLAG_OUT_OF_RANGE, FLAG_NO_MEASUREMENT)):
            raise ValueError(f"{self.name}: value {self.value!r} inconsistent with flag {self.flag!r}")
        if self.source not in SOURCES:
            raise ValueError(f"{self.name}: source {self.source!r} is not one of {SOURCES}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict() if self.model else None
        return d


@dataclass
class ExamResult:
    """One exam: what the device stores at once and later syncs. No images, no patient identifiers."""

    clinic_id: str
    device_id: str
    started_at: str
    ended_at: str | None = None
    result_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    schema_version: str = RESULT_SCHEMA_VERSION
    status: str = "complete"                      # "complete" | "partial" (stream ended / stopped early)
    models: list[ModelRef] = field(default_factory=list)
    planes_seen: dict[str, int] = field(default_factory=dict)   # plane name -> frames classified as it
    measurements: dict[str, Measurement] = field(default_factory=dict)  # hc, bpd, ofd, ac, fl, ga, efw
    plausibility: list[dict[str, Any]] = field(default_factory=list)  # {"check", "value", "range", "ok"}
    frames: int = 0
    frames_dropped: int = 0
    fps: float | None = None
    pregnancy: dict[str, Any] = field(default_factory=lambda: {"plurality": "singleton", "basis": None, "lmp": None,
                                                               "edd": None, "dating_scan": None})
    dating: dict[str, Any] = field(default_factory=no_dating)  # ga_days, ga_text, precision_days, edd, source, method
    alerts: list[dict[str, Any]] = field(default_factory=list)  # see edge.clinical.alerts
    review: dict[str, Any] = field(default_factory=unreviewed)
    supersedes: str | None = None                             # result_id this review result replaces
    exam_flags: list[str] = field(default_factory=list)       # e.g. "late_config_error: ..." (stored anyway)
    plane_summary: dict[str, Any] = field(default_factory=lambda: {"frames_classified": 0, "unknown_frames": 0,
                                                                   "mean_confidence": None})

    def to_dict(self) -> dict[str, Any]:
        return {
            "result_id": self.result_id,
            "schema_version": self.schema_version,
            "clinic_id": self.clinic_id,
            "device_id": self.device_id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "models": [m.to_dict() for m in self.models],
            "planes_seen": dict(self.planes_seen),
            "measurements": {k: m.to_dict() for k, m in self.measurements.items()},
            "plausibility": list(self.plausibility),
            "frames": self.frames,
            "frames_dropped": self.frames_dropped,
            "fps": self.fps,
            "pregnancy": dict(self.pregnancy),
            "dating": dict(self.dating),
            "alerts": [dict(a) for a in self.alerts],
            "review": dict(self.review),
            "supersedes": self.supersedes,
            "exam_flags": list(self.exam_flags),
            "plane_summary": dict(self.plane_summary),
        }


def measurement_from_dict(name: str, d: dict[str, Any]) -> Measurement:
    """A stored or received measurement (1.0 or 1.1 form) back as a Measurement."""
    model = d.get("model")
    keys = ("value", "unit", "quality", "flag", "method", "reason", "n_frames", "centile", "z", "standard",
            "centile_reason", "source")
    kw = {k: d[k] for k in keys if k in d}
    return Measurement(name=name, model=ModelRef(**model) if model else None, **kw)


def exam_from_dict(d: dict[str, Any]) -> ExamResult:
    """A stored exam (ExamResult.to_dict(), any schema version) back as an ExamResult."""
    fields_ = {k: v for k, v in d.items() if k not in ("models", "measurements")}
    return ExamResult(models=[ModelRef(**m) for m in d.get("models", [])],
                      measurements={k: measurement_from_dict(k, m) for k, m in d.get("measurements", {}).items()},
                      **fields_)
