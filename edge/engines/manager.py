"""Entry point on the device: make sure every installed model has a valid engine (build or rebuild it).

Each model is handled on its own: a model whose bundle or build fails is reported and the others are still
built. When the INT8 build fails, the FP16 engine from the float graph is built instead, with the reason
logged and recorded, so `fetal-edge run` starts with whatever could be built.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edge.engines.cache import (check_engine, failure_path, record_failure, recorded_failure, stale_files,
                               write_engine)
from edge.engines.device import DeviceInfo
from edge.engines.plan import BuildSpec, engine_plan, installed_bundles
from edge.errors import BackendError, ModelError
from edge.manifest import Manifest, load_manifest
from edge.settings.engines import EnginesSettings

log = logging.getLogger(__name__)
BuildFn = Callable[[BuildSpec], bytes]


@dataclass(frozen=True)
class EngineStatus:
    model: str
    precision: str
    engine: Path | None
    action: str  # "cached" | "built" | "rebuilt" | "planned" | "failed"
    reason: str | None  # why it was (re)built, or why it failed
    seconds: float = 0.0
    fallback_from: str | None = None  # "int8" when this FP16 engine replaces an INT8 build that failed

    @property
    def ok(self) -> bool:
        return self.action != "failed"

    def to_dict(self) -> dict[str, object]:
        return {"model": self.model, "precision": self.precision, "engine": str(self.engine) if self.engine else None,
                "action": self.action, "reason": self.reason, "seconds": round(self.seconds, 1),
                "fallback_from": self.fallback_from}


def _build(spec: BuildSpec, build: BuildFn, problem: str, manifest: Manifest) -> EngineStatus:
    action = "built" if problem == "no engine built yet" else "rebuilt"
    log.info("%s %s engine for %s: %s", action, spec.precision, spec.model_name, problem)
    t0 = time.perf_counter()
    data = build(spec)
    write_engine(spec.engine_path, data, spec.key,
                 {"model": manifest.ref.to_dict(), "onnx": spec.onnx_path.name, "workspace_bytes": spec.workspace_bytes,
                  "gpu_fallback": spec.gpu_fallback, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return EngineStatus(spec.model_name, spec.precision, spec.engine_path, action, problem, time.perf_counter() - t0)


def ensure_engine(manifest: Manifest, settings: EnginesSettings, device: DeviceInfo, build: BuildFn | None,
                  force: bool = False) -> EngineStatus:
    """The first engine of the plan that is valid or builds; 'failed' (with every reason) if none does.
    build None = plan only: nothing is written."""
    plan = engine_plan(manifest, settings, device)
    failures: list[str] = []
    for spec in plan:
        fallback_from = plan[0].precision if spec is not plan[0] else None
        problem = "forced rebuild" if force else check_engine(spec.engine_path, spec.key)
        earlier = None if force or problem is None else recorded_failure(spec.engine_path, spec.key)
        if earlier is not None:
            failures.append(f"{spec.precision} build failed earlier: {earlier} (not retried for the same model, "
                            "TensorRT and settings)")
            continue
        if problem is None:
            status = EngineStatus(spec.model_name, spec.precision, spec.engine_path, "cached", None, 0.0, fallback_from)
        elif build is None:
            return EngineStatus(spec.model_name, spec.precision, spec.engine_path, "planned", problem, 0.0,
                                fallback_from)
        else:
            try:
                status = _build(spec, build, problem, manifest)
            except BackendError as exc:
                log.warning("%s %s engine build failed: %s", spec.model_name, spec.precision, exc)
                record_failure(spec.engine_path, spec.key, str(exc))
                failures.append(f"{spec.precision} build failed: {exc}")
                continue
        if failures:
            status = EngineStatus(status.model, status.precision, status.engine, status.action,
                                  "; ".join(failures), status.seconds, fallback_from)
            log.warning("%s runs the %s engine instead: %s", spec.model_name, spec.precision, status.reason)
        _remove_stale(spec, plan)
        return status
    return EngineStatus(manifest.name, plan[0].precision, None, "failed", "; ".join(failures))


def _remove_stale(used: BuildSpec, plan: list[BuildSpec]) -> None:
    """Delete this model's other engines and records, keeping the engine in use and the failure records of
    the plan's better engines (so a failed INT8 build is not retried on every start)."""
    for old in stale_files(used.engine_path.parent, used.model_name, [s.engine_path for s in plan[:plan.index(used) + 1]]):
        old.unlink(missing_ok=True)
    failure_path(used.engine_path).unlink(missing_ok=True)


def ensure_engines(settings: EnginesSettings, device: DeviceInfo, build: BuildFn | None, default_models: Path,
                   force: bool = False) -> list[EngineStatus]:
    """One status per model; a model that fails does not stop the others."""
    statuses = []
    for name, directory in installed_bundles(settings, default_models):
        try:
            statuses.append(ensure_engine(load_manifest(directory, verify=True), settings, device, build, force))
        except (ModelError, BackendError) as exc:
            log.error("no engine for %s: %s", name, exc)
            statuses.append(EngineStatus(name, settings.precision, None, "failed", str(exc)))
    return statuses
