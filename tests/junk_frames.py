"""The evaluation junk set (#27): seeded frames that are not a plausible ultrasound view, for measuring how
often the plane classifier answers `unknown`.

Written apart from the training negatives (compress/planes/junk.py), with other seeds, other frame sizes and
parameter ranges, and kinds the training generator never makes. `SEEN` kinds have a training counterpart of
the same family (drawn differently here); `UNSEEN` kinds have none, so their rate measures generalisation.
`junk_set(n_per_kind, seed, real)` returns (frame, kind) pairs; frames are gray or BGR uint8.
"""

from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

Maker = Callable[[np.random.Generator, int, int, Sequence[np.ndarray]], np.ndarray]


def _fan(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A sector or a linear-probe rectangle (bool mask), placed differently from the training fans."""
    if rng.random() < 0.3:
        m = np.zeros((h, w), bool)
        m[int(0.08 * h):int(0.95 * h), int(0.2 * w):int(0.8 * w)] = True
        return m
    yy, xx = np.mgrid[0:h, 0:w]
    apex = (w * rng.uniform(0.4, 0.6), -h * rng.uniform(0.0, 0.3))
    r = np.hypot(xx - apex[0], yy - apex[1])
    ang = np.abs(np.degrees(np.arctan2(xx - apex[0], yy - apex[1])))
    return (ang < rng.uniform(20, 50)) & (r > h * rng.uniform(0.05, 0.3)) & (r < h * rng.uniform(0.8, 1.1))


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# --- kinds with a training counterpart (same family, other draws) -------------------------------------------
def gaussian_dim(rng, h, w, real):
    """#27's finding: Gaussian noise around a dim grey level, low contrast (probe in the air)."""
    return _clip(rng.normal(rng.uniform(3, 70), rng.uniform(1, 25), (h, w)))


def uniform_bright(rng, h, w, real):
    lo = rng.uniform(60, 200)
    return _clip(rng.uniform(lo, min(255, lo + rng.uniform(10, 120)), (h, w)))


def salt_pepper_fan(rng, h, w, real):
    x = np.zeros((h, w))
    m = _fan(h, w, rng)
    x[m] = rng.choice([0, 255, rng.uniform(20, 120)], size=int(m.sum()), p=[0.1, 0.1, 0.8])
    return _clip(x)


def gamma_speckle_fan(rng, h, w, real):
    """Fully developed speckle drawn from a Gamma (K-like) amplitude law, coarse grain, inside a fan."""
    k = rng.uniform(0.5, 4.0)
    grain = int(rng.integers(2, 7))
    s = rng.gamma(k, 1.0 / k, (h // grain + 1, w // grain + 1))
    s = cv2.resize(s.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return _clip(s * rng.uniform(20, 110) * _fan(h, w, rng))


def blank_fan(rng, h, w, real):
    """A fan of one grey level or a vertical ramp (gain all the way up or down), faint noise."""
    ramp = np.linspace(rng.uniform(0, 255), rng.uniform(0, 255), h)[:, None] * np.ones((1, w))
    return _clip((ramp + rng.normal(0, rng.uniform(0, 2), (h, w))) * _fan(h, w, rng))


def ui_menu(rng, h, w, real):
    """A settings screen: a table of rows with labels and values, a header bar, a cursor box."""
    x = np.full((h, w), int(rng.integers(0, 40)) if rng.random() < 0.7 else int(rng.integers(200, 256)), np.uint8)
    fg = 255 - int(x[0, 0])
    cv2.rectangle(x, (0, 0), (w, int(h * 0.08)), int(rng.integers(60, 200)), -1)
    rows = int(rng.integers(6, 18))
    for i in range(rows):
        y = int(h * 0.12 + i * (h * 0.85 / rows))
        label = f"{['Depth', 'Gain', 'Freq', 'TGC', 'Focus', 'Preset'][i % 6]} {int(rng.integers(0, 999))}"
        cv2.putText(x, label, (int(w * 0.05), y), cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC, rng.uniform(0.4, 0.9), fg, 1)
        cv2.line(x, (0, y + 6), (w, y + 6), int(fg * 0.4), 1)
    y0 = int(h * rng.uniform(0.2, 0.8))
    cv2.rectangle(x, (int(w * 0.03), y0), (int(w * 0.6), y0 + 24), fg, 2)
    return x


def shuffled_fine_or_coarse(rng, h, w, real):
    """A real frame cut into tiles of sizes the training never used (4-7 or 65-80 px), shuffled."""
    g = real[int(rng.integers(0, len(real)))]
    t = int(rng.integers(4, 8)) if rng.random() < 0.5 else int(rng.integers(65, 81))
    gh, gw = g.shape[0] // t, g.shape[1] // t
    tiles = g[:gh * t, :gw * t].reshape(gh, t, gw, t).swapaxes(1, 2).reshape(-1, t, t)
    tiles = tiles[rng.permutation(len(tiles))]
    return tiles.reshape(gh, gw, t, t).swapaxes(1, 2).reshape(gh * t, gw * t).copy()


# --- kinds with no training counterpart ---------------------------------------------------------------------
def fractal_clouds(rng, h, w, real):
    """1/f^beta noise (clouds, smoke): smooth at every scale, nothing like speckle or anatomy."""
    beta = rng.uniform(1.5, 3.0)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** (beta / 2)
    spec = amp * np.exp(2j * np.pi * rng.random(amp.shape))
    x = np.fft.irfft2(spec, s=(h, w))
    x = (x - x.min()) / max(float(np.ptp(x)), 1e-9)
    return _clip(rng.uniform(0, 80) + x * rng.uniform(60, 200))


def test_pattern(rng, h, w, real):
    """Bars, a checkerboard or a grey-scale ramp: what a video input shows with no probe signal."""
    kind = int(rng.integers(0, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == 0:
        bars = np.linspace(20, 235, int(rng.integers(4, 9)))
        return _clip(bars[np.minimum(xx * len(bars) // w, len(bars) - 1)])
    if kind == 1:
        s = int(rng.integers(8, 64))
        return _clip(((xx // s + yy // s) % 2) * rng.uniform(100, 255))
    return _clip(255 * (xx / w if rng.random() < 0.5 else yy / h))


def poisson_dim(rng, h, w, real):
    """Photon (shot) noise of a dark sensor: Poisson counts at a mean of 0.5-20, scaled up."""
    return _clip(rng.poisson(rng.uniform(0.5, 20), (h, w)) * rng.uniform(2, 8))


def colour_photo(rng, h, w, real):
    """A colour picture: sky-like gradient, ground, coloured discs and boxes, a little blur (BGR)."""
    top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    x = (top * (1 - t) + bottom * t) * np.ones((1, w, 1))
    for _ in range(int(rng.integers(4, 12))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(x, c, int(rng.integers(10, max(11, h // 4))), colour, -1)
        else:
            cv2.rectangle(x, c, (c[0] + int(rng.integers(20, w // 3)), c[1] + int(rng.integers(20, h // 3))), colour, -1)
    return _clip(cv2.GaussianBlur(x, (0, 0), rng.uniform(0.8, 3)))


def banding(rng, h, w, real):
    """Interference: horizontal or vertical bands and scan lines over dim noise."""
    axis = np.arange(h)[:, None] if rng.random() < 0.6 else np.arange(w)[None, :]
    bands = np.sin(2 * np.pi * axis / rng.uniform(3, 40) + rng.uniform(0, 6.3)) * rng.uniform(10, 60)
    return _clip(rng.uniform(20, 90) + bands + rng.normal(0, rng.uniform(1, 15), (h, w)))


SEEN: dict[str, Maker] = {"gaussian_dim": gaussian_dim, "uniform_bright": uniform_bright,
                          "salt_pepper_fan": salt_pepper_fan, "gamma_speckle_fan": gamma_speckle_fan,
                          "blank_fan": blank_fan, "ui_menu": ui_menu, "shuffled_fine_or_coarse": shuffled_fine_or_coarse}
UNSEEN: dict[str, Maker] = {"fractal_clouds": fractal_clouds, "test_pattern": test_pattern,
                            "poisson_dim": poisson_dim, "colour_photo": colour_photo, "banding": banding}
KINDS: dict[str, Maker] = {**SEEN, **UNSEEN}


def junk_set(n_per_kind: int, seed: int, real: Sequence[np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """n_per_kind frames of every kind (sizes 200-1000 px high, aspect 1.0-1.8), reproducible from seed.
    `real`: gray real frames for the shuffled kind (the caller picks them)."""
    rng = np.random.default_rng([seed, 27])
    out = []
    for name, make in KINDS.items():
        for _ in range(n_per_kind):
            h = int(rng.integers(200, 1001))
            out.append((make(rng, h, int(h * rng.uniform(1.0, 1.8)), real), name))
    return out
