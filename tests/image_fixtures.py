"""Image files written byte by byte for the decode-limit tests and benchmarks/imageio_memory.py: PNGs whose
header declares any size (all-zero pixels, so a 30000x30000 image compresses to ~100 KB), and a peak-memory
probe that reads one file in a fresh interpreter."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}   # PNG colour type -> samples per pixel


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> Path:
    """A valid PNG of all-zero pixels (rows compressed in batches, so big images are written in seconds)."""
    row = b"\x00" * (1 + (width * CHANNELS[colour_type] * bit_depth + 7) // 8)   # filter byte + samples
    z, parts, batch = zlib.compressobj(9), [], max(1, 2**24 // len(row))
    for start in range(0, height, batch):
        parts.append(z.compress(row * min(batch, height - start)))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts))
                     + _chunk(b"IEND", b""))
    return path


# VmHWM, not ru_maxrss: Linux carries the parent's resident size at fork into the child's ru_maxrss
PROBE = """
import json, re, sys
from edge import imageio
from edge.errors import InputError
def hwm_mb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) / 1024
before = hwm_mb()
try:
    shape, error = list(getattr(imageio, sys.argv[1])(sys.argv[2]).shape), None
except InputError as exc:
    shape, error = None, str(exc)
print(json.dumps({"shape": shape, "error": error, "baseline_mb": before, "peak_mb": hwm_mb()}))
"""


def peak_memory(reader: str, path: Path) -> dict:
    """Run edge.imageio.<reader>(path) in a fresh interpreter: shape or error, and its peak RSS in MB."""
    proc = subprocess.run([sys.executable, "-c", PROBE, reader, str(path)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)
