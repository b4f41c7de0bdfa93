"""Development data for plane classification: records, patient-grouped splits, HC18 heads as trans-thalamic.

Sources (all under the shared data folder, never copied): `planes/labels.csv` (FETAL_PLANES_DB subset +
African cohort) and a subsample of HC18 heads whose subject falls in the HC18 *train* split of
`compress.data.hc18.split_of` (so no head the biometry evaluation holds out is ever trained on here).

Held-out set: about 20 % of patients of every (dataset, country), chosen by a salted hash of the patient
id; never used for training or for choosing the temperature / unknown threshold. Everything else is the
development set, split into patient-grouped stratified folds for cross-validation.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import InputError
from edge.planes.taxonomy import BRAIN, PLANES, model_class_of, plane_index

HOLDOUT_SALT = "fetal-edge-planes-v1"
HOLDOUT_PERCENT = 20
HC18_MAX_IMAGES = 80


@dataclass(frozen=True)
class PlaneRecord:
    path: Path
    plane: str
    brain_plane: str | None
    patient: str          # group id, unique across datasets (e.g. "fpdb-00004", "Egypt-2", "hc18-010")
    country: str
    dataset: str          # fetal_planes_db | african | hc18

    @property
    def target(self) -> int:
        """Model class (0..7), or -1 for a brain image without a sub-plane (partial label)."""
        return model_class_of(self.plane, self.brain_plane)

    @property
    def plane_idx(self) -> int:
        return plane_index(self.plane)

    @property
    def heldout(self) -> bool:
        if self.dataset == "hc18":
            return False  # HC18 heads are training material only; biometry holds out its own test subjects
        bucket = int(hashlib.sha256(f"{HOLDOUT_SALT}:{self.patient}".encode()).hexdigest(), 16) % 100
        return bucket < HOLDOUT_PERCENT


def _planes_records(planes_dir: Path) -> list[PlaneRecord]:
    csv_path = planes_dir / "labels.csv"
    if not csv_path.is_file():
        raise InputError(f"{planes_dir} is not the planes data folder: labels.csv missing")
    out = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            bp = row["brain_plane"] if row["plane"] == BRAIN and row["brain_plane"] else None
            pid = row["patient"] if row["dataset"] == "african" else f"fpdb-{row['patient']}"
            out.append(PlaneRecord(planes_dir / "images" / row["file"], row["plane"], bp, pid,
                                   row["country"], row["dataset"]))
    return out


def _hc18_records(hc18_dir: Path, max_images: int) -> list[PlaneRecord]:
    from compress.data.hc18 import split_of, subject_of

    images = sorted((hc18_dir / "images").glob("*_HC.png"))  # first image of each subject only
    train = [p for p in images if split_of(subject_of(p.name)) == "train"]
    step = max(1, len(train) // max_images) if max_images else 1
    picked = train[::step][:max_images]
    return [PlaneRecord(p, BRAIN, "Trans-thalamic", f"hc18-{subject_of(p.name)}", "Netherlands", "hc18")
            for p in picked]


def load_records(data_dir: str | Path, hc18_images: int = HC18_MAX_IMAGES) -> list[PlaneRecord]:
    """All plane records: labels.csv + up to `hc18_images` HC18 training-split heads."""
    data_dir = Path(data_dir)
    recs = _planes_records(data_dir / "planes")
    if hc18_images > 0 and (data_dir / "hc18" / "images").is_dir():
        recs += _hc18_records(data_dir / "hc18", hc18_images)
    return recs


def split_dev_heldout(records: list[PlaneRecord]) -> tuple[list[int], list[int]]:
    """Indices of (development, held-out) records; split by patient."""
    dev = [i for i, r in enumerate(records) if not r.heldout]
    held = [i for i, r in enumerate(records) if r.heldout]
    return dev, held


def grouped_folds(records: list[PlaneRecord], indices: list[int], k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """k patient-grouped, plane-stratified folds over `indices`; returns the validation indices of each fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    if k < 2:
        raise InputError(f"cross-validation needs k >= 2 folds, got {k}")
    idx = np.asarray(indices)
    y = [records[i].plane_idx for i in idx]
    groups = [records[i].patient for i in idx]
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [idx[val] for _, val in sgkf.split(np.zeros(len(idx)), y, groups)]


def summary(records: list[PlaneRecord], indices: list[int]) -> dict[str, int]:
    counts = {p: 0 for p in PLANES}
    for i in indices:
        counts[records[i].plane] += 1
    return counts
