"""Training negatives for the plane model's junk class: frames that are not a plausible ultrasound view.

`junk_frames(n, seed, real)` makes n gray uint8 full frames, evenly over `KINDS`: noise of several
distributions and levels (dim, low-contrast ones included: what a probe in the air shows), speckle with no
anatomy inside an ultrasound sector, blank and gradient sectors, screens of text and UI, smooth
natural-image-like pictures, and real development frames with their tiles shuffled (ultrasound statistics,
no anatomy). They go through the same preprocessing as real frames and are the 9th model class.

The evaluation junk set (tests/junk_frames.py) is a separate generator with other seeds, other parameter
ranges and kinds this one never makes, so its refusal rate is measured on junk the model has not seen.
"""

from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

GENERATOR_VERSION = 1  # bump when a kind changes: part of the junk cache key
KINDS = ("gaussian", "uniform", "salt_pepper", "speckle", "speckle_sector", "flat_sector", "screen", "blobs",
         "shuffled")


def _size(rng: np.random.Generator) -> tuple[int, int]:
    h = int(rng.integers(240, 721))
    return h, int(h * rng.uniform(1.05, 1.6))


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def sector_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A convex-probe fan: apex near the top centre, random depth and opening (float 0/1, (h, w))."""
    ax, ay = w / 2 + rng.uniform(-0.05, 0.05) * w, rng.uniform(-0.15, 0.05) * h
    r0, r1 = rng.uniform(0.0, 0.15) * h, rng.uniform(0.75, 1.0) * h
    half = np.deg2rad(rng.uniform(25, 45))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - ax, yy - ay)
    ang = np.arctan2(xx - ax, yy - ay)
    return ((r >= r0) & (r <= r1) & (np.abs(ang) <= half)).astype(np.float32)


def _gaussian(rng, h, w, real):
    level, sigma = rng.uniform(0, 200), rng.uniform(2, 80)
    x = level + sigma * rng.standard_normal((h, w))
    if rng.random() < 0.4:
        x = cv2.GaussianBlur(x.astype(np.float32), (0, 0), rng.uniform(0.5, 2.5))
    return x * sector_mask(h, w, rng) if rng.random() < 0.3 else x


def _uniform(rng, h, w, real):
    lo = rng.uniform(0, 150)
    return rng.uniform(lo, lo + rng.uniform(5, 255 - lo), (h, w))


def _salt_pepper(rng, h, w, real):
    x = np.full((h, w), rng.uniform(0, 120)) + rng.uniform(0, 20) * rng.standard_normal((h, w))
    u = rng.random((h, w))
    frac = rng.uniform(0.01, 0.3)
    x[u < frac / 2] = 0
    x[u > 1 - frac / 2] = 255
    return x


def _rayleigh(rng, h, w, grain: float) -> np.ndarray:
    """Multiplicative speckle: Rayleigh amplitudes with a grain of `grain` pixels (low-pass, re-normalised)."""
    gh, gw = max(2, int(h / grain)), max(2, int(w / grain))
    s = rng.rayleigh(1.0, (gh, gw)).astype(np.float32)
    return cv2.resize(s, (w, h), interpolation=cv2.INTER_LINEAR) / np.sqrt(np.pi / 2)


def _speckle(rng, h, w, real):
    return rng.uniform(5, 150) * _rayleigh(rng, h, w, rng.uniform(1, 4))


def _speckle_sector(rng, h, w, real):
    depth = np.linspace(1.0, rng.uniform(0.2, 1.0), h, dtype=np.float32)[:, None]  # attenuation with depth
    x = rng.uniform(10, 140) * depth * _rayleigh(rng, h, w, rng.uniform(1.5, 5))
    return x * sector_mask(h, w, rng)


def _flat_sector(rng, h, w, real):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b, c = rng.uniform(-1, 1, 3)
    ramp = (a * yy / h + b * xx / w + c * np.hypot(yy / h, xx / w - 0.5))
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    lo = rng.uniform(0, 120)
    x = lo + ramp * rng.uniform(0, 255 - lo) + rng.uniform(0, 3) * rng.standard_normal((h, w))
    return x * sector_mask(h, w, rng) if rng.random() < 0.7 else x


_CHARS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .:/-%"))


def _screen(rng, h, w, real):
    light = rng.random() < 0.4
    x = np.full((h, w), int(rng.uniform(180, 255) if light else rng.uniform(0, 60)), np.uint8)  # putText: uint8 only
    ink = (lambda: rng.uniform(0, 90)) if light else (lambda: rng.uniform(120, 255))
    for _ in range(int(rng.integers(0, 6))):  # panels and buttons
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(12, h // 4))
        cv2.rectangle(x, (x0, y0), (x1, y1), int(np.clip(ink() if rng.random() < 0.5 else int(x[0, 0]) + rng.uniform(-40, 40), 0, 255)),
                      -1 if rng.random() < 0.5 else int(rng.integers(1, 4)))
    for _ in range(int(rng.integers(3, 25))):  # text lines
        text = "".join(rng.choice(_CHARS, int(rng.integers(3, 30))))
        org = (int(rng.integers(0, w - 20)), int(rng.integers(15, h)))
        cv2.putText(x, text, org, int(rng.integers(0, 8)), rng.uniform(0.3, 1.5), int(ink()),
                    int(rng.integers(1, 3)), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 4))):  # rules and grid lines
        y = int(rng.integers(0, h))
        cv2.line(x, (0, y), (w, y), int(ink()), 1)
    return x.astype(np.float32)


def _blobs(rng, h, w, real):
    """Natural-image-like picture: smooth background, filled shapes, a texture, a little blur."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = rng.uniform(0, 255) + rng.uniform(-80, 80) * (yy / h) + rng.uniform(-80, 80) * (xx / w)
    for _ in range(int(rng.integers(3, 15))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(5, w // 3)), int(rng.integers(5, h // 3)))
        cv2.ellipse(x, c, axes, rng.uniform(0, 180), 0, 360, float(rng.uniform(0, 255)), -1)
    if rng.random() < 0.5:
        f = rng.uniform(0.02, 0.3)
        x = x + rng.uniform(5, 40) * np.sin(f * (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)))
    return cv2.GaussianBlur(x.astype(np.float32), (0, 0), rng.uniform(0.5, 4)) + rng.uniform(0, 8) * rng.standard_normal((h, w))


def shuffle_tiles(gray: np.ndarray, tile: int, rng: np.random.Generator) -> np.ndarray:
    """The frame's tile x tile blocks in random order (the border that does not fill a tile stays)."""
    h, w = gray.shape
    gh, gw = h // tile, w // tile
    core = gray[:gh * tile, :gw * tile].reshape(gh, tile, gw, tile).transpose(0, 2, 1, 3).reshape(gh * gw, tile, tile)
    core = core[rng.permutation(gh * gw)].reshape(gh, gw, tile, tile).transpose(0, 2, 1, 3).reshape(gh * tile, gw * tile)
    out = gray.copy()
    out[:gh * tile, :gw * tile] = core
    return out


def _shuffled(rng, h, w, real):
    if not real:
        raise ValueError("junk kind 'shuffled' needs real frames")
    g = real[int(rng.integers(0, len(real)))]
    return shuffle_tiles(g, int(rng.integers(8, 65)), rng).astype(np.float32)


MAKERS: dict[str, Callable] = {"gaussian": _gaussian, "uniform": _uniform, "salt_pepper": _salt_pepper,
                               "speckle": _speckle, "speckle_sector": _speckle_sector, "flat_sector": _flat_sector,
                               "screen": _screen, "blobs": _blobs, "shuffled": _shuffled}


def junk_frame(kind: str, rng: np.random.Generator, real: Sequence[np.ndarray] = ()) -> np.ndarray:
    """One gray uint8 junk frame of `kind` (real: gray frames for the 'shuffled' kind)."""
    if kind not in MAKERS:
        raise ValueError(f"junk kind {kind!r} is not one of {KINDS}")
    h, w = _size(rng)
    return _u8(MAKERS[kind](rng, h, w, real))


def junk_frames(n: int, seed: int, real: Sequence[np.ndarray] = (),
                kinds: Sequence[str] = KINDS) -> tuple[list[np.ndarray], list[str]]:
    """n frames, kinds in turn (so every kind gets n / len(kinds)), and the kind of each."""
    rng = np.random.default_rng(seed)
    names = [kinds[i % len(kinds)] for i in range(n)]
    return [junk_frame(k, rng, real) for k in names], names
