"""Where the development data lives. Only CLI layers and tests call this; nothing deeper reads env vars."""

from __future__ import annotations

import os
from pathlib import Path

from edge.errors import ConfigError

DATA_ENV = "FETAL_EDGE_DATA"
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """$FETAL_EDGE_DATA, else ../shared/data beside the project root."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


def require_data_dir(path: str | Path | None, sub: str = "") -> Path:
    base = Path(path) if path else default_data_dir()
    target = base / sub if sub else base
    if not target.is_dir():
        raise ConfigError(f"data directory {target} not found; pass --data DIR or set {DATA_ENV}")
    return target
