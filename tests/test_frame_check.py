"""check_frame: accepts every real ultrasound image we have, refuses each kind of bad frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import InputError
from edge.frame_check import REASONS, FrameCheck, check_frame


def _real_images(data_dir: Path) -> list[Path]:
    files = sorted((data_dir / "hc18" / "images").glob("*.png"))
    files += sorted((data_dir / "planes" / "images").glob("*"))
    files += sorted((data_dir / "peers" / "sononet" / "examples").glob("*.png"))
    return files


@pytest.fixture(scope="module")
def real_frame(hc18_dir: Path) -> np.ndarray:
    return cv2.imread(str(hc18_dir / "images" / "010_HC.png"), cv2.IMREAD_COLOR)


def test_accepts_every_real_image(data_dir: Path) -> None:
    files = _real_images(data_dir)
    assert len(files) > 1200          # HC18 799 + planes 428 + SonoNet 13
    refused = []
    for path in files:
        frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        verdict = check_frame(frame)
        if not verdict.ok:
            refused.append((path.name, verdict.reason))
    assert refused == []


def test_gray_and_bgr_give_the_same_verdict(real_frame: np.ndarray) -> None:
    gray = cv2.cvtColor(real_frame, cv2.COLOR_BGR2GRAY)
    a, b = check_frame(gray), check_frame(real_frame)
    assert a.ok and b.ok and a.metrics["std"] == pytest.approx(b.metrics["std"], abs=0.5)
    assert check_frame(cv2.cvtColor(real_frame, cv2.COLOR_BGR2BGRA)).ok


@pytest.mark.parametrize("value", [0, 3, 128, 255])
def test_refuses_uniform_frames(value: int) -> None:
    v = check_frame(np.full((540, 800), value, np.uint8))
    assert not v.ok and v.reason == ("blank frame" if value < 255 else "saturated frame")


def test_refuses_black_frame_with_a_little_text() -> None:
    frame = np.zeros((540, 800), np.uint8)
    cv2.putText(frame, "GE  12.3cm  MI 0.9", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 1)
    assert check_frame(frame).reason == "blank frame"


def test_refuses_saturated_frame(real_frame: np.ndarray) -> None:
    over_gain = cv2.convertScaleAbs(real_frame, alpha=6.0)
    v = check_frame(over_gain)
    assert not v.ok and v.reason == "saturated frame"


def _doppler_overlay(frame: np.ndarray, seed: int = 0) -> np.ndarray:
    """A colour-Doppler box: red/blue flow blobs (smoothed noise, thresholded) inside a rectangle."""
    out = frame.copy()
    h, w = frame.shape[:2]
    y0, y1, x0, x1 = h // 3, h // 3 + h // 4, w // 3, w // 3 + w // 4
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((y1 - y0, x1 - x0)).astype(np.float32), (0, 0), 6)
    field /= field.std()
    box = out[y0:y1, x0:x1]
    box[field > 0.8] = (30, 30, 220)      # towards the probe: red (BGR)
    box[field < -0.8] = (220, 60, 20)     # away: blue
    cv2.rectangle(out, (x0, y0), (x1, y1), (200, 200, 200), 1)
    return out


def test_refuses_colour_doppler_box_on_a_real_image(real_frame: np.ndarray) -> None:
    v = check_frame(_doppler_overlay(real_frame))
    assert not v.ok and v.reason == "colour Doppler / colour overlay"
    assert v.metrics["colour_area_frac"] > 0.01


def test_coloured_text_alone_is_not_doppler(real_frame: np.ndarray) -> None:
    frame = real_frame.copy()
    cv2.putText(frame, "SRI II 5 / CRI 1  Har-low", (430, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 80, 80), 1)
    cv2.circle(frame, (40, 100), 6, (0, 200, 0), -1)   # a small green marker, like a probe-orientation dot
    assert check_frame(frame).ok


def _synthetic_photo(h: int = 480, w: int = 640, seed: int = 1) -> np.ndarray:
    """A colourful, photo-like picture: sky gradient, green ground, a red and a yellow object, sensor noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    sky = np.linspace(255, 150, h // 2)[:, None]
    img[: h // 2, :, 0] = sky
    img[: h // 2, :, 1] = sky * 0.75
    img[: h // 2, :, 2] = 90
    img[h // 2:] = (40, 150, 60)
    cv2.circle(img, (w // 3, h // 2), h // 6, (30, 30, 200), -1)
    cv2.rectangle(img, (w // 2, h // 2 + 20), (w // 2 + 120, h - 40), (20, 200, 230), -1)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_refuses_colourful_photo() -> None:
    v = check_frame(_synthetic_photo())
    assert not v.ok and v.reason.startswith("not an ultrasound image")


def test_refuses_gray_smooth_picture() -> None:
    # a grayscale gradient with a soft shape: no speckle, no dark background
    y, x = np.mgrid[0:480, 0:640]
    frame = (60 + 0.2 * x + 0.1 * y).astype(np.uint8)
    cv2.circle(frame, (320, 240), 100, 200, -1)
    v = check_frame(cv2.GaussianBlur(frame, (0, 0), 3))
    assert not v.ok and v.reason.startswith("not an ultrasound image")


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
def test_refuses_noise(kind: str) -> None:
    rng = np.random.default_rng(2)
    if kind == "uniform":
        frame = rng.integers(0, 256, (540, 800), dtype=np.uint8)
    else:
        frame = np.clip(rng.normal(100, 50, (540, 800)), 0, 255).astype(np.uint8)
    v = check_frame(frame)
    assert not v.ok and v.reason == "not an ultrasound image: noise, not speckle"


@pytest.mark.parametrize("shape", [(0, 0), (10, 10), (100, 400), (64, 64, 3)])
def test_refuses_tiny_frames(shape: tuple[int, ...]) -> None:
    v = check_frame(np.full(shape, 90, np.uint8))
    assert not v.ok and v.reason.startswith("too small")


def test_tiny_crop_of_a_real_image_is_too_small(real_frame: np.ndarray) -> None:
    assert check_frame(real_frame[200:300, 300:420]).reason.startswith("too small")


def test_not_an_image_array_is_an_error() -> None:
    with pytest.raises(InputError, match="float32"):
        check_frame(np.zeros((300, 300), np.float32))
    with pytest.raises(InputError, match="shape"):
        check_frame(np.zeros((300, 300, 2), np.uint8))
    with pytest.raises(InputError, match="numpy array"):
        check_frame([[0, 1], [2, 3]])  # type: ignore[arg-type]


def test_result_type_and_reason_categories(real_frame: np.ndarray) -> None:
    v = check_frame(np.zeros((300, 300), np.uint8))
    assert isinstance(v, FrameCheck) and set(v.metrics) >= {"std", "bright_frac", "colour_frac", "dx"}
    assert v.category == "blank frame" and check_frame(real_frame).category is None
    refused = [check_frame(f) for f in (np.full((540, 800), 255, np.uint8), _synthetic_photo(),
                                        _doppler_overlay(real_frame), np.zeros((20, 20), np.uint8))]
    assert {r.category for r in refused} == set(REASONS) - {"blank frame"}
