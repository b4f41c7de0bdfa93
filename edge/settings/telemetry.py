"""`telemetry:` section: device health messages (see edge.sync.telemetry)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed

_KEYS = {"enabled", "interval_s", "models_dir"}


@dataclass(frozen=True)
class TelemetrySettings:
    enabled: bool = True
    interval_s: float = 300.0
    models_dir: str | None = None   # None: the models shipped in edge/models/


@SECTIONS.register("telemetry")
def parse(d: Mapping[str, Any]) -> TelemetrySettings:
    d = check_keys(d, "telemetry", _KEYS)
    return TelemetrySettings(
        enabled=typed(d, "telemetry", "enabled", bool, True),
        interval_s=typed(d, "telemetry", "interval_s", float, 300.0, lo=1, hi=86400),
        models_dir=typed(d, "telemetry", "models_dir", str),
    )
