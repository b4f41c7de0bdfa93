"""`synthetic://sweep?...`: a made-up probe sweep for the demo and for tests of the runtime's plumbing.

Not ultrasound and not for accuracy: a speckled fan-shaped sector, burnt-in "patient" text and a UI
bar outside it (so sector detection and text blanking have something to do), and a head-like bright
ellipse that drifts into view in the middle of each sweep. Frames carry the spacing given (`spacing`).
Options for fault injection: `stall_after=N` (no frame after N, never EOS), `resize_at=N` (frames
change size from N on), `blank_every=N` (every Nth frame is zero-size, counted as dropped).
"""

from __future__ import annotations

import math
import time
from typing import Any

import cv2
import numpy as np

from edge.errors import InputError
from edge.sources import SOURCES
from edge.sources.base import EOS, Frame, FrameSource
from edge.sources.options import take_options

OPTIONS = {"frames": (int, 300), "fps": (float, 30.0), "width": (int, 640), "height": (int, 480),
           "seed": (int, 0), "spacing": (float, 0.25), "realtime": (bool, False),
           "stall_after": (int, None), "resize_at": (int, None), "blank_every": (int, None)}
HELP = {"frames": "frames in the stream", "fps": "frame rate", "width": "frame width (px)",
        "height": "frame height (px)", "seed": "speckle seed", "spacing": "mm per pixel the frames carry",
        "realtime": "pace like a live probe", "stall_after": "stop delivering after N frames without ending",
        "resize_at": "frames change size from frame N on", "blank_every": "every Nth frame is empty (dropped)"}
USAGE = "synthetic://sweep: a made-up sweep for the demo and tests (not ultrasound)"
BURNT_IN_TEXT = "DOE^JANE  ID 0012345  1990-01-01"
N_TEXTURES = 6


HEAD_AXES_FRAC = (0.22, 0.18)   # semi-axes of the head ring as fractions of the frame width
HEAD_RING_PX = 7                # ring thickness: the outer edge is HEAD_RING_PX / 2 beyond the axes


def head_outer_axes_px(width: int) -> tuple[float, float]:
    """Outer semi-axes (px) of the drawn head ring: what a head measurement on the sweep should find."""
    return HEAD_AXES_FRAC[0] * width + HEAD_RING_PX / 2, HEAD_AXES_FRAC[1] * width + HEAD_RING_PX / 2


def sector_mask(h: int, w: int) -> np.ndarray:
    """A fan from an apex above the top edge: the shape of a convex / phased-array image."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ax, ay = w / 2.0, -0.08 * h
    r = np.hypot(xx - ax, yy - ay)
    ang = np.degrees(np.arctan2(xx - ax, yy - ay))
    inside = (np.abs(ang) < 33) & (r > 0.18 * h) & (r < 1.02 * h)
    return inside.astype(np.uint8)


class SyntheticSweep:
    """Frame i of a sweep of `period` frames; deterministic for a given seed."""

    def __init__(self, h: int, w: int, seed: int, period: int) -> None:
        rng = np.random.default_rng(seed)
        self.h, self.w, self.period = h, w, max(1, period)
        self.mask = sector_mask(h, w)
        tex = rng.rayleigh(28.0, size=(N_TEXTURES, h, w)).astype(np.float32)
        self.textures = [cv2.GaussianBlur(t, (3, 3), 0) for t in tex]

    def frame(self, i: int) -> np.ndarray:
        h, w = self.h, self.w
        img = self.textures[i % N_TEXTURES].copy()
        phase = (i % self.period) / self.period           # 0..1 along one sweep
        visibility = max(0.0, 1.0 - abs(phase - 0.5) / 0.22)  # head in view in the middle
        if visibility > 0:
            cx = w / 2 + 0.12 * w * math.sin(2 * math.pi * phase)
            axes = (int(HEAD_AXES_FRAC[0] * w), int(HEAD_AXES_FRAC[1] * w))
            img = _draw_head(img, (cx, 0.55 * h), axes, 12.0, visibility)
        out = np.clip(img, 0, 255).astype(np.uint8) * self.mask
        cv2.putText(out, BURNT_IN_TEXT, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1, cv2.LINE_AA)
        cv2.rectangle(out, (w - 90, h - 40), (w - 8, h - 8), 200, 1)
        cv2.putText(out, "MI 0.9", (w - 84, h - 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 230, 1, cv2.LINE_AA)
        return out


def _draw_head(img: np.ndarray, centre: tuple[float, float], axes: tuple[int, int], angle: float,
               visibility: float) -> np.ndarray:
    """A trans-thalamic-like head: bright skull ring, darker brain, midline echo, thalami and cavum."""
    h, w = img.shape
    inside = np.zeros((h, w), np.uint8)
    c = (int(centre[0]), int(centre[1]))
    cv2.ellipse(inside, c, axes, angle, 0, 360, 1, -1)
    img = np.where(inside > 0, img * (1.0 - 0.35 * visibility), img)
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def at(u: float, v: float) -> tuple[int, int]:  # head coords (fractions of the axes) -> pixels
        x, y = u * axes[0], v * axes[1]
        return int(centre[0] + x * ca - y * sa), int(centre[1] + x * sa + y * ca)

    canvas = np.zeros((h, w), np.float32)
    cv2.ellipse(canvas, c, axes, angle, 0, 360, 180.0 * visibility, HEAD_RING_PX, cv2.LINE_AA)
    cv2.line(canvas, at(-0.92, 0), at(-0.45, 0), 110.0 * visibility, 2, cv2.LINE_AA)  # falx
    cv2.line(canvas, at(0.3, 0), at(0.92, 0), 110.0 * visibility, 2, cv2.LINE_AA)
    img = img + canvas
    dark = np.zeros((h, w), np.float32)
    for v in (-0.17, 0.17):  # thalami
        cv2.ellipse(dark, at(0.05, v), (int(0.16 * axes[0]), int(0.14 * axes[1])), angle, 0, 360, 1.0, -1)
    cv2.ellipse(dark, at(-0.3, 0), (int(0.1 * axes[0]), int(0.07 * axes[1])), angle, 0, 360, 1.0, -1)  # cavum
    dark = cv2.GaussianBlur(dark, (0, 0), 3)
    return img * (1.0 - 0.6 * visibility * dark)


class SyntheticSource(FrameSource):
    scheme = "synthetic"

    def __init__(self, uri: str, kind: str, options: dict[str, Any]) -> None:
        if kind.strip("/") != "sweep":
            raise InputError(f"synthetic source {kind!r} unknown; valid: synthetic://sweep")
        opts = take_options(uri, options, OPTIONS)
        if opts["fps"] <= 0 or min(opts["width"], opts["height"]) < 64:
            raise InputError(f"source {uri!r}: fps must be > 0 and width/height >= 64")
        self.live = bool(opts["realtime"])  # paced like a probe: treated as live (drop, never wait)
        super().__init__(uri, opts)
        period = max(30, int(opts["fps"] * 4))
        self._sweeps = {(opts["height"], opts["width"]): SyntheticSweep(opts["height"], opts["width"],
                                                                      opts["seed"], period)}
        self._period = period
        self._index = 0
        self._t0 = time.monotonic()

    def _sweep(self, h: int, w: int) -> SyntheticSweep:
        if (h, w) not in self._sweeps:
            self._sweeps[(h, w)] = SyntheticSweep(h, w, self.options["seed"] + 1, self._period)
        return self._sweeps[(h, w)]

    def _read(self, timeout: float) -> Frame | None:
        o = self.options
        i = self._index
        if i >= o["frames"]:
            self.state = EOS
            return None
        if o["stall_after"] is not None and i >= o["stall_after"]:
            time.sleep(timeout)  # a live stream gone silent: no frame, but not the end either
            return None
        ts = i / o["fps"]
        if o["realtime"]:
            time.sleep(min(max(0.0, self._t0 + ts - time.monotonic()), 1.0))
        self._index += 1
        if o["blank_every"] and i % o["blank_every"] == o["blank_every"] - 1:
            return Frame(np.zeros((0, 0), np.uint8), i, ts, o["spacing"], self.uri)
        h, w = o["height"], o["width"]
        if o["resize_at"] is not None and i >= o["resize_at"]:
            h, w = int(h * 0.75), int(w * 1.25)
        return Frame(self._sweep(h, w).frame(i), i, ts, o["spacing"], self.uri)


@SOURCES.register("synthetic")
def _open(uri: str, target: str, options: dict[str, Any]) -> FrameSource:
    return SyntheticSource(uri, target, options)
