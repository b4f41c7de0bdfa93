"""Device health, published by the sync worker at `telemetry.interval_s` on <prefix>/<clinic>/<device>/telemetry:
free disk, outbox length, model versions + checksums (verified against their manifests), fps of the last
exam, last successful sync, and the store's warning if any. Schema: edge.sync.payload.validate_telemetry."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edge.errors import ModelError
from edge.manifest import MANIFEST_NAME, load_manifest
from edge.results import utc_now
from edge.settings.sync import SyncSettings
from edge.store import ResultStore
from edge.sync.payload import TELEMETRY_FORMAT, validate_telemetry

log = logging.getLogger(__name__)


def model_refs(models_dir: Path) -> list[dict[str, str]]:
    """name/version/sha256 of every model under models_dir whose files match their manifest."""
    refs = []
    for d in sorted(p for p in models_dir.iterdir() if (p / MANIFEST_NAME).is_file()) if models_dir.is_dir() else []:
        try:
            refs.append(load_manifest(d).ref.to_dict())
        except ModelError as exc:
            log.error("telemetry: model %s fails its manifest check: %s", d.name, exc)
    return refs[:16]


def collect(store: ResultStore, sync: SyncSettings, models_dir: Path) -> dict[str, Any]:
    last = store.last_exam()
    warnings = store.warnings()
    return validate_telemetry({
        "format": TELEMETRY_FORMAT,
        "clinic_id": sync.clinic_id,
        "device_id": sync.device_id,
        "at": utc_now(),
        "free_disk_mb": round(store.free_disk_mb(), 1),
        "outbox_len": store.outbox_len(),
        "models": model_refs(models_dir),
        "last_exam_fps": last.get("fps") if last else None,
        "last_sync_at": store.last_sync(),
        "store_warning": ("; ".join(warnings))[:200] if warnings else None,
    })
