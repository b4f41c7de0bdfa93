"""HC18 reader: images, outline annotations -> reference ellipses and filled masks, pixel sizes, reference HC,
BPD/OFD landmarks (evaluation only), and deterministic subject-grouped splits.

Landmark coordinates (`bpd_ofd_landmarks.csv`) are frame pixel coordinates of the original image; the
`scale` / `center_w` / `center_h` columns describe the benchmark's own resizing and are NOT applied
(checked: pi * (BPD + OFD) / 2 from the raw points matches the CSV HC, and overlays sit on the skull).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from edge.biometry.ellipse import Ellipse, fit_ellipse
from edge.errors import InputError
from edge.imageio import read_gray

SPLITS = ("train", "val", "test")
# hash buckets out of 100: [0, 20) test, [20, 30) val, rest train  (about 20 / 10 / 70 % of subjects)
TEST_BUCKETS, VAL_BUCKETS = 20, 10
SPLIT_SALT = "fetal-edge-hc18-v1"


@dataclass(frozen=True)
class Landmarks:
    bpd: tuple[tuple[float, float], tuple[float, float]]
    ofd: tuple[tuple[float, float], tuple[float, float]]

    def bpd_mm(self, pixel_mm: float) -> float:
        return float(np.hypot(*np.subtract(self.bpd[0], self.bpd[1]))) * pixel_mm

    def ofd_mm(self, pixel_mm: float) -> float:
        return float(np.hypot(*np.subtract(self.ofd[0], self.ofd[1]))) * pixel_mm


@dataclass(frozen=True)
class HC18Record:
    name: str               # e.g. "010_2HC"
    subject: str            # e.g. "010"
    image_path: Path
    annotation_path: Path
    pixel_mm: float
    hc_mm: float            # reference HC from the challenge CSV
    landmarks: Landmarks | None

    @property
    def split(self) -> str:
        return split_of(self.subject)

    def image(self) -> np.ndarray:
        return read_gray(self.image_path)

    def ellipse(self) -> Ellipse:
        return reference_ellipse(self.annotation_path)

    def mask(self) -> np.ndarray:
        """Filled reference mask (uint8 0/1) in frame coordinates: the fitted annotation ellipse, filled."""
        shape = cv2.imread(str(self.annotation_path), cv2.IMREAD_GRAYSCALE).shape
        return self.ellipse().fill(shape)


def subject_of(name: str) -> str:
    stem = Path(name).stem
    if "_" not in stem:
        raise InputError(f"HC18 file name {name!r} lacks the subject number before '_' (e.g. '010_2HC.png')")
    return stem.split("_", 1)[0]


def split_of(subject: str) -> str:
    """Deterministic split of a subject id: a salted sha256 bucket, so it never depends on file order."""
    bucket = int(hashlib.sha256(f"{SPLIT_SALT}:{subject}".encode()).hexdigest(), 16) % 100
    if bucket < TEST_BUCKETS:
        return "test"
    return "val" if bucket < TEST_BUCKETS + VAL_BUCKETS else "train"


@lru_cache(maxsize=2048)
def reference_ellipse(annotation_path: Path) -> Ellipse:
    """Least-squares ellipse through the annotation ring's pixels (the ring is the drawn reference ellipse)."""
    ring = cv2.imread(str(annotation_path), cv2.IMREAD_GRAYSCALE)
    if ring is None:
        raise InputError(f"{annotation_path}: not a readable annotation image")
    ys, xs = np.nonzero(ring > 127)
    fit = fit_ellipse(np.stack([xs, ys], 1).astype(np.float32), iterations=1)
    if fit is None:
        raise InputError(f"{annotation_path}: annotation ring has too few pixels ({len(xs)}) for an ellipse")
    return fit.ellipse


def _read_landmarks(path: Path) -> dict[str, Landmarks]:
    out: dict[str, Landmarks] = {}
    if not path.is_file():
        return out
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            def pt(k: str) -> tuple[float, float]:
                return float(row[f"{k}_x"]), float(row[f"{k}_y"])
            out[Path(row["image_name"]).stem] = Landmarks((pt("bpd_1"), pt("bpd_2")), (pt("ofd_1"), pt("ofd_2")))
    return out


@lru_cache(maxsize=4)
def _read_index_cached(root: Path) -> tuple[HC18Record, ...]:
    csv_path = root / "pixel_size_and_hc.csv"
    if not csv_path.is_file():
        raise InputError(f"{root} is not an HC18 folder: {csv_path.name} missing")
    marks = _read_landmarks(root / "bpd_ofd_landmarks.csv")
    records = []
    with open(csv_path, newline="", encoding="utf-8") as f:  # CRLF handled by the csv module
        for row in csv.reader(f):
            if not row or row[0].strip() == "filename":
                continue
            fname, pix, hc = (v.strip() for v in row[:3])
            stem = Path(fname).stem
            img, ann = root / "images" / fname, root / "annotations" / f"{stem}_Annotation.png"
            if not (img.is_file() and ann.is_file()):
                continue  # held back by the data provider (separate evaluation set)
            records.append(HC18Record(stem, subject_of(fname), img, ann, float(pix), float(hc), marks.get(stem)))
    if not records:
        raise InputError(f"{root}: no image/annotation pairs found under images/ and annotations/")
    return tuple(records)


def read_index(root: str | Path) -> list[HC18Record]:
    """Every HC18 image that has an annotation, in CSV order."""
    return list(_read_index_cached(Path(root).resolve()))


def load_split(root: str | Path, split: str) -> list[HC18Record]:
    """Records of one split ("train" | "val" | "test" | "all")."""
    if split != "all" and split not in SPLITS:
        raise InputError(f"split {split!r} is not one of {SPLITS + ('all',)}")
    return [r for r in read_index(root) if split == "all" or r.split == split]
