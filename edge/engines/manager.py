"""Entry point on the device: make sure every installed model has a valid engine (build or rebuild it)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edge.engines.cache import check_engine, stale_engines, write_engine
from edge.engines.device import DeviceInfo
from edge.engines.plan import BuildSpec, engine_for, installed_bundles
from edge.manifest import Manifest
from edge.settings.engines import EnginesSettings

log = logging.getLogger(__name__)
BuildFn = Callable[[BuildSpec], bytes]


@dataclass(frozen=True)
class EngineStatus:
    model: str
    precision: str
    engine: Path
    action: str  # "cached" | "built" | "rebuilt" | "planned"
    reason: str | None  # why it was (re)built
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"model": self.model, "precision": self.precision, "engine": str(self.engine),
                "action": self.action, "reason": self.reason, "seconds": round(self.seconds, 1)}


def ensure_engine(manifest: Manifest, settings: EnginesSettings, device: DeviceInfo, build: BuildFn | None,
                  force: bool = False) -> EngineStatus:
    """Valid cached engine -> 'cached'; otherwise build it (None build = plan only, nothing written)."""
    spec = engine_for(manifest, settings, device)
    problem = "forced rebuild" if force else check_engine(spec.engine_path, spec.key)
    if problem is None:
        return EngineStatus(spec.model_name, spec.precision, spec.engine_path, "cached", None)
    if build is None:
        return EngineStatus(spec.model_name, spec.precision, spec.engine_path, "planned", problem)
    action = "built" if problem == "no engine built yet" else "rebuilt"
    log.info("%s engine for %s: %s", action, spec.model_name, problem)
    t0 = time.perf_counter()
    data = build(spec)
    write_engine(spec.engine_path, data, spec.key,
                 {"model": manifest.ref.to_dict(), "onnx": spec.onnx_path.name, "workspace_bytes": spec.workspace_bytes,
                  "gpu_fallback": spec.gpu_fallback, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    for old in stale_engines(spec.engine_path.parent, spec.model_name, spec.engine_path):
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)
    return EngineStatus(spec.model_name, spec.precision, spec.engine_path, action, problem,
                        time.perf_counter() - t0)


def ensure_engines(settings: EnginesSettings, device: DeviceInfo, build: BuildFn | None, default_models: Path,
                   force: bool = False) -> list[EngineStatus]:
    return [ensure_engine(m, settings, device, build, force) for m in installed_bundles(settings, default_models)]
