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

RESULT_SCHEMA_VERSION = "1.0"

# quality flags, from best to worst
FLAG_OK = "ok"
FLAG_LOW_QUALITY = "low_quality"        # a number, but the quality score is below the confident level
FLAG_IMPLAUSIBLE = "implausible"        # a number that fails a plausibility cross-check (shown, flagged)
FLAG_OUT_OF_RANGE = "out_of_range"      # input outside a formula's validity range: no number
FLAG_NO_MEASUREMENT = "no_measurement"  # the quality gate refused: no number
FLAGS = (FLAG_OK, FLAG_LOW_QUALITY, FLAG_IMPLAUSIBLE, FLAG_OUT_OF_RANGE, FLAG_NO_MEASUREMENT)


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

    def __post_init__(self) -> None:
        if self.flag not in FLAGS:
            raise ValueError(f"flag {self.flag!r} is not one of {FLAGS}")
        if (self.value is None) != (self.flag in (FLAG_OUT_OF_RANGE, FLAG_NO_MEASUREMENT)):
            raise ValueError(f"{self.name}: value {self.value!r} inconsistent with flag {self.flag!r}")

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
        }
