"""Issue #27 finding 2: a real HC18 head at an impossible pixel size gives no number (flag out_of_range, a reason
naming the pixel size) from `measure`, from `run`, in the store and in the payload alike; every HC18 head at its
true pixel size passes the same rule."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.store import ResultStore
from edge.sync.checks import PayloadError
from edge.sync.payload import build_payload, validate_result

REPO = Path(__file__).resolve().parent.parent
HEAD = "010_HC.png"   # a real head; true pixel size 0.0799 mm, reference HC 71.9 mm


def edge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


@pytest.mark.parametrize("pixel_mm, says", [("2.0", "1.60 m wide"), ("0.0001", "0.08 mm wide")])
def test_measure_gives_no_number_at_an_impossible_pixel_size(hc18_dir: Path, pixel_mm: str, says: str) -> None:
    proc = edge("measure", str(hc18_dir / "images" / HEAD), "--pixel-size", pixel_mm)
    assert proc.returncode == 10, proc.stderr
    out = json.loads(proc.stdout)
    assert out["hc_mm"] is None and out["bpd_mm"] is None and out["ofd_mm"] is None
    assert out["flag"] == "out_of_range" and out["measurements"]["hc"]["value"] is None
    assert says in out["reason"] and "check the pixel size" in out["reason"]


def test_measure_refuses_a_head_too_big_for_a_fetus_in_a_possible_image(hc18_dir: Path) -> None:
    # 800 px x 0.7 mm = 56 cm: a possible field of view, but the head in it would be 631 mm around
    proc = edge("measure", str(hc18_dir / "images" / HEAD), "--pixel-size", "0.7")
    assert proc.returncode == 10, proc.stderr
    out = json.loads(proc.stdout)
    assert out["hc_mm"] is None and out["flag"] == "out_of_range"
    assert "HC 631" in out["reason"] and "check the pixel size (0.7 mm per pixel)" in out["reason"]


def test_run_stores_no_number_and_sync_would_send_the_exam(hc18_dir: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(hc18_dir / "images" / HEAD, frames / HEAD)
    db = tmp_path / "r.sqlite"
    proc = edge("run", "--source", str(frames), "--pixel-size", "2.0", "--store", str(db), "--quiet")
    assert proc.returncode == 0, proc.stderr
    exam = json.loads(proc.stdout)["exam"]
    hc = exam["measurements"]["hc"]
    assert hc["value"] is None and hc["flag"] == "out_of_range" and "check the pixel size" in hc["reason"]
    with ResultStore(db) as store:
        item = store.pending()[0]
    assert item.exam == exam
    build_payload(item.exam, item.saved_at)   # the payload schema takes what run stored: sync will not hold it


def _exam(hc: float) -> dict:
    from edge.results import ExamResult, Measurement

    m = Measurement("hc", hc, "mm", 0.9, "ok", None, "ellipse_fit_outer_outer")
    return ExamResult("clinic-a", "dev-1", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z",
                      measurements={"hc": m}).to_dict()


def test_the_store_saves_an_impossible_length_without_its_number(tmp_path: Path) -> None:
    exam = _exam(1803.82)   # what `run` produced before the rule: a 1.8 m head flagged ok
    with pytest.raises(PayloadError, match="measurements.hc.value"):
        build_payload(exam, "2026-01-01T10:05:01Z")
    with ResultStore(tmp_path / "r.sqlite") as store:
        receipt = store.save(exam)
        item = store.pending()[0]
    assert any("HC 1803.82 mm is outside" in w for w in receipt.warnings)
    hc = item.exam["measurements"]["hc"]
    assert hc["value"] is None and hc["flag"] == "out_of_range" and "1803.82" in hc["reason"]
    build_payload(item.exam, item.saved_at)


@pytest.mark.parametrize("name", ["hc", "bpd", "ofd", "ac", "fl"])
def test_the_payload_takes_exactly_the_lengths_the_rule_takes(name: str) -> None:
    from edge.clinical.physical import RANGES_MM, length_problem
    from edge.results import ExamResult, Measurement

    lo, hi = RANGES_MM[name]
    for value, ok in ((lo, True), (hi, True), (round(lo * 0.99, 3), False), (round(hi * 1.01, 3), False)):
        assert (length_problem(name, value) is None) == ok
        exam = ExamResult("clinic-a", "dev-1", "2026-01-01T10:00:00Z", None,
                          measurements={name: Measurement(name, value, "mm", 0.9, "ok", None)})
        if ok:
            build_payload(exam, "2026-01-01T10:05:01Z")
        else:
            with pytest.raises(PayloadError, match=f"measurements.{name}.value"):
                build_payload(exam, "2026-01-01T10:05:01Z")


def test_a_payload_with_a_tenth_of_a_millimetre_head_is_refused() -> None:
    payload = build_payload(_exam(100.0), "2026-01-01T10:05:01Z")
    payload["measurements"]["hc"]["value"] = 0.11   # `measure` at 0.0001 mm per pixel, before the rule
    with pytest.raises(PayloadError, match="measurements.hc.value"):
        validate_result(payload)


def test_every_hc18_head_at_its_true_pixel_size_passes(hc18_dir: Path) -> None:
    from edge.clinical.physical import field_of_view_problem, length_problem
    from edge.imageio import image_header

    with open(hc18_dir / "pixel_size_and_hc.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    refused = []
    for row in rows:
        px, hc = float(row["pixel size(mm)"]), float(row["head circumference (mm)"])
        header = image_header(hc18_dir / "images" / row["filename"])
        why = length_problem("hc", hc, px) or field_of_view_problem((header.height, header.width), px)
        if why:
            refused.append((row["filename"], why))
    assert len(rows) == 799 and refused == []


def test_a_length_given_by_hand_that_no_fetus_has_stops_the_exam_before_it_starts() -> None:
    from edge.config import parse_config
    from edge.errors import InputError
    from edge.pipeline.app import build_runner

    with pytest.raises(InputError, match=r"given fl = 550 mm: FL 550 mm is outside .*millimetres, not centimetres"):
        build_runner(parse_config({}), None, given_mm={"fl": 550.0})
