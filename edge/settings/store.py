"""`store:` section: the on-device results store and outbox (see edge.store for the storage policy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed

_KEYS = {"path", "keep_synced", "min_free_mb", "max_unsynced"}


@dataclass(frozen=True)
class StoreSettings:
    path: Path = Path("fetal_edge_results.sqlite")
    keep_synced: int = 10000      # synced results kept on the device; older synced ones are pruned
    min_free_mb: float = 200.0    # below this free disk space: a low-disk warning on every save
    max_unsynced: int = 100000    # above this many unsynced results: a warning (never dropped)


@SECTIONS.register("store")
def parse(d: Mapping[str, Any]) -> StoreSettings:
    d = check_keys(d, "store", _KEYS)
    return StoreSettings(
        path=Path(typed(d, "store", "path", str, "fetal_edge_results.sqlite")),
        keep_synced=typed(d, "store", "keep_synced", int, 10000, lo=0, hi=10**9),
        min_free_mb=typed(d, "store", "min_free_mb", float, 200.0, lo=0, hi=1e9),
        max_unsynced=typed(d, "store", "max_unsynced", int, 100000, lo=1, hi=10**9),
    )
