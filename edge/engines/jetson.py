"""Which Jetson this is, from the files L4T writes: the board model and the L4T (Jetson Linux) release.

Both go into the engine cache key: every Orin module reports the same GPU name and compute capability (8.7),
and an Orin NX 16GB and an Orin Nano 8GB even have the same SM count, so an engine copied from another board
would otherwise pass as valid. The L4T release pins the JetPack (35.x = JetPack 5.1, 36.3 = 6.0, 36.4 = 6.1/6.2).
"""

from __future__ import annotations

import re
from pathlib import Path

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
NV_TEGRA_RELEASE = Path("/etc/nv_tegra_release")
UNKNOWN = "unknown"
# L4T major.minor -> the JetPack that ships it (NVIDIA JetPack release pages)
JETPACK_OF_L4T = {(32, 7): "4.6.x", (35, 2): "5.1", (35, 3): "5.1.1", (35, 4): "5.1.2", (35, 5): "5.1.3",
                  (35, 6): "5.1.4", (36, 2): "6.0 DP", (36, 3): "6.0", (36, 4): "6.1/6.2"}


def board_model(path: Path = DEVICE_TREE_MODEL) -> str:
    """e.g. 'NVIDIA Jetson Orin Nano Developer Kit'; 'unknown' off a Jetson."""
    try:
        return path.read_bytes().rstrip(b"\x00\n ").decode("utf-8", "replace") or UNKNOWN
    except OSError:
        return UNKNOWN


def l4t_release(path: Path = NV_TEGRA_RELEASE) -> str:
    """'# R36 (release), REVISION: 4.3, ...' -> '36.4.3'; 'unknown' off a Jetson or for an unreadable file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return UNKNOWN
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?", text)
    if not m:
        return UNKNOWN
    return ".".join(g for g in m.groups() if g is not None)


def jetpack_of(l4t: str) -> str:
    """'35.4.1' -> '5.1.2'; 'unknown' for a release not in the table."""
    m = re.match(r"(\d+)\.(\d+)", l4t)
    return JETPACK_OF_L4T.get((int(m.group(1)), int(m.group(2))), UNKNOWN) if m else UNKNOWN
