"""Engine cache: key, file names, sidecar metadata, and the stale / foreign engine check.

An engine is only valid for the exact model file, TensorRT version, GPU (name + compute capability),
precision and DLA core it was built for. Each engine `<name>-<precision>-<digest>.engine` has a sidecar
`.json` holding that key and the engine's own sha256; anything that does not match is rebuilt, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge.manifest import sha256_of

SIDECAR_FORMAT = "fetal-edge-engine/1"


@dataclass(frozen=True)
class EngineKey:
    model_sha256: str
    trt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    dla_core: int | None = None

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def file_name(self, model_name: str) -> str:
        dla = "" if self.dla_core is None else f"-dla{self.dla_core}"
        return f"{model_name}-{self.precision}{dla}-{self.digest()}.engine"


def sidecar_path(engine: Path) -> Path:
    return engine.with_suffix(".json")


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


def stale_engines(cache_dir: Path, model_name: str, keep: Path) -> list[Path]:
    """Other engines of this model in the cache (older model versions, other precisions)."""
    return sorted(p for p in Path(cache_dir).glob(f"{model_name}-*.engine") if p != keep)
