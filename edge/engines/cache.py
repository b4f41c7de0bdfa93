"""Engine cache: key, file names, sidecar metadata, failure records, and the stale / foreign engine check.

An engine is only valid for the exact graph file, TensorRT version, GPU (name, compute capability, SM count),
board model, L4T and CUDA release, precision, DLA core and builder settings (workspace, optimisation level,
GPU fallback) it was built with. Each engine `<name>-<precision>-<digest>.engine` has a sidecar `.json`
holding that key and the engine's own sha256; anything that does not match is rebuilt, never loaded. A build
that failed leaves `<name>-<precision>-<digest>.failed.json` (the reason), so the next start goes straight to
the fallback instead of failing the same build again; a new key (new model, TensorRT or setting) retries.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge.errors import BackendError
from edge.manifest import sha256_of

PRECISIONS = ("fp32", "fp16", "int8")


class NoEngineError(BackendError):
    """No valid engine of a model's plan is in the cache (never built here, stale, or every build failed)."""

SIDECAR_FORMAT = "fetal-edge-engine/2"  # /1 keys lacked the board, SM count, L4T/CUDA and builder settings


@dataclass(frozen=True)
class EngineKey:
    model_sha256: str
    trt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    dla_core: int | None = None
    sm_count: int = 0
    board: str = "unknown"
    l4t: str = "unknown"
    cuda: str = "unknown"
    workspace_bytes: int = 0
    optimization_level: int | None = None
    gpu_fallback: bool = True

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def file_name(self, model_name: str) -> str:
        dla = "" if self.dla_core is None else f"-dla{self.dla_core}"
        return f"{model_name}-{self.precision}{dla}-{self.digest()}.engine"


def sidecar_path(engine: Path) -> Path:
    return engine.with_suffix(".json")


def failure_path(engine: Path) -> Path:
    return engine.with_suffix(".failed.json")


def record_failure(engine: Path, key: EngineKey, reason: str) -> None:
    engine.parent.mkdir(parents=True, exist_ok=True)
    failure_path(engine).write_text(json.dumps({"format": SIDECAR_FORMAT, "key": asdict(key), "reason": reason},
                                               indent=2, sort_keys=True), encoding="utf-8")


def recorded_failure(engine: Path, key: EngineKey) -> str | None:
    """The reason an earlier build of exactly this key failed, or None."""
    try:
        meta = json.loads(failure_path(engine).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(meta, dict) and meta.get("key") == asdict(key):
        return str(meta.get("reason") or "unknown reason")
    return None


def write_engine(engine: Path, data: bytes, key: EngineKey, extra: dict[str, Any]) -> Path:
    """Engine then sidecar, each written to a temp file and renamed (a crash leaves no valid-looking pair)."""
    engine.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine.with_suffix(".engine.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, engine)
    meta = {"format": SIDECAR_FORMAT, "key": asdict(key), "engine_sha256": sha256_of(engine),
            "engine_bytes": engine.stat().st_size, **extra}
    side = sidecar_path(engine)
    tmp_side = side.with_suffix(".json.tmp")
    tmp_side.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp_side, side)
    return engine


def check_engine(engine: Path, key: EngineKey) -> str | None:
    """None if `engine` is valid for `key`; otherwise why not (missing, foreign, stale, altered)."""
    if not engine.is_file():
        return "no engine built yet"
    side = sidecar_path(engine)
    if not side.is_file():
        return f"{engine.name} has no sidecar metadata (foreign or half-written engine)"
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"{side.name} is not valid JSON"
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT or not isinstance(meta.get("key"), dict):
        return f"{side.name} is not {SIDECAR_FORMAT} metadata (foreign engine)"
    want = asdict(key)
    diffs = [f"{k} {meta['key'].get(k)!r} != {v!r}" for k, v in want.items() if meta["key"].get(k) != v]
    if diffs:
        return "stale engine: " + "; ".join(diffs)
    if engine.stat().st_size != meta.get("engine_bytes") or sha256_of(engine) != meta.get("engine_sha256"):
        return f"{engine.name} does not match its recorded sha256 (truncated or altered)"
    return None


def stale_files(cache_dir: Path, model_name: str, keep: list[Path]) -> list[Path]:
    """Other engines, sidecars and failure records of this model in the cache (older model versions, other
    precisions or keys), apart from the files of the engines in `keep`."""
    kept = {f for e in keep for f in (e, sidecar_path(e), failure_path(e))}
    mine = [p for p in Path(cache_dir).glob(f"{model_name}-*")
            if p.name[len(model_name) + 1:].split("-")[0].split(".")[0] in PRECISIONS]
    return sorted(p for p in mine if p not in kept and p.is_file())
