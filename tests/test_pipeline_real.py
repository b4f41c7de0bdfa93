"""The runtime on real frames with the shipped models: a folder source over held-out HC18 heads (each
image held for 10 frames, as a probe held still; its pixel size from the HC18 CSV) must classify the
plane as a head candidate (the plane model's own threshold for showing a plane is stricter, see
edge.pipeline.analyzers.head_score), measure the head and land near the reference HC; real abdomen / femur frames must give no HC."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.config import parse_config
from edge.models import MODELS_DIR
from edge.sources import open_source
from edge.store import ResultStore

pytestmark = pytest.mark.skipif(not ((MODELS_DIR / "plane-cls" / "manifest.json").is_file()
                                     and (MODELS_DIR / "head-seg" / "manifest.json").is_file()),
                                reason="shipped models plane-cls and head-seg are not in edge/models yet")
N_SUBJECTS = 16
MIN_ANSWERED = 10  # the plane model calls some HC18 heads another plane (measured: 12 of these 16)
HOLD_FRAMES = 10


@pytest.fixture(scope="module")
def runner_factory(tmp_path_factory: pytest.TempPathFactory):
    from edge.pipeline.app import build_runner

    store = ResultStore(tmp_path_factory.mktemp("store") / "r.sqlite")
    cfg = parse_config({})
    runner = build_runner(cfg, store)

    def make():
        runner.planes.smoother.reset()
        return runner
    yield make
    store.close()


def test_held_out_hc18_heads_are_measured_near_the_reference(hc18_dir: Path, tmp_path: Path, runner_factory) -> None:
    from compress.data.hc18 import load_split

    records = load_split(hc18_dir, "test")[:N_SUBJECTS]
    errors, answered = [], 0
    for rec in records:
        d = tmp_path / rec.name
        d.mkdir()
        shutil.copy(rec.image_path, d / rec.image_path.name)
        spacing = tmp_path / f"{rec.name}.csv"
        with open(spacing, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([["filename", "pixel size(mm)"], [rec.image_path.name, rec.pixel_mm]])
        exam = runner_factory().run(open_source(f"folder://{d}?loop={HOLD_FRAMES}&spacing_csv={spacing}")).exam
        assert exam.status == "complete" and exam.frames == HOLD_FRAMES
        hc = exam.measurements["hc"]
        if hc.value is not None:
            answered += 1
            errors.append(abs(hc.value - rec.hc_mm))
            assert hc.unit == "mm" and hc.model.name and exam.measurements["ga"].unit == "d"
    assert answered >= MIN_ANSWERED, f"only {answered}/{N_SUBJECTS} held-out heads measured"
    assert float(np.median(errors)) <= 3.0, f"HC errors (mm): {np.round(errors, 1)}"


def test_real_non_head_frames_give_no_head_measurement(planes_dir: Path, tmp_path: Path, runner_factory) -> None:
    rows = list(csv.DictReader(open(planes_dir / "labels.csv", encoding="utf-8")))
    femurs = [r["file"] for r in rows if r["plane"] == "Fetal femur"][:12]
    d = tmp_path / "femur"
    d.mkdir()
    for f in femurs:
        shutil.copy(planes_dir / "images" / f, d / f)
    spacing = tmp_path / "spacing.csv"  # a spacing is known, so a missing HC is the pipeline's judgement
    spacing.write_text("".join(f"{f},0.2\n" for f in femurs), encoding="utf-8")
    exam = runner_factory().run(open_source(f"folder://{d}?loop=2&spacing_csv={spacing}")).exam
    assert exam.measurements["hc"].value is None and "pixel spacing" not in exam.measurements["hc"].reason
    assert exam.planes_seen.get("Fetal brain", 0) <= 2
    assert exam.measurements["fl"].flag == "no_measurement" and "no femur measurement model" in \
        exam.measurements["fl"].reason
