"""`fetal-edge report`: a one-page PDF whose text (read back with pypdf) says what the midwife needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from clinical_fixtures import exam_32_weeks
from mqtt_broker import REPO
from pypdf import PdfReader

from edge.clinical.alerts import DEFAULT_RULES
from edge.pipeline.review import review
from edge.store import ResultStore





def frame_png() -> bytes:
    img = np.zeros((300, 400, 3), np.uint8)
    cv2.ellipse(img, (200, 150), (120, 90), 10, 0, 360, (0, 220, 255), 2)
    return cv2.imencode(".png", img)[1].tobytes()


def report(db: Path, rid: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", "report", rid, "--out", str(out), "--store", str(db),
                           *extra], cwd=REPO, capture_output=True, text=True, timeout=120)


def pdf_text(path: Path) -> tuple[int, str, int]:
    reader = PdfReader(str(path))
    page = reader.pages[0]
    return len(reader.pages), " ".join(page.extract_text().split()), len(page.images)


def test_report_of_an_unreviewed_exam_with_an_alert(tmp_path: Path) -> None:
    db, e = tmp_path / "dev.sqlite", exam_32_weeks()
    with ResultStore(db) as store:
        store.save(e, image_png=frame_png())
    cfg = tmp_path / "device.yaml"
    cfg.write_text("clinical:\n  clinic_name: Kisumu West Health Centre\n")
    done = report(db, e.result_id, tmp_path / "r.pdf", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frame_printed"] is True
    pages, text, images = pdf_text(tmp_path / "r.pdf")
    assert pages == 1 and images == 1
    for needle in ("Kisumu West Health Centre", "12 Dec 2026", "Gestational age 32w0d (from the last menstrual period)",
                   "Expected date of delivery: 06 Feb 2027", "Head circumference (HC) 265.0 mm below 1st",
                   "REFER: The baby's head is small for the stage of pregnancy",
                   "AI-assisted; to be reviewed by a trained sonographer.", "head-seg 1.0.0 (abababababab)",
                   "INTERGROWTH-21st fetal growth (Papageorghiou 2014)"):
        assert needle in text, (needle, text)


def test_report_after_review_says_who_reviewed_and_prints_the_exams_frame(tmp_path: Path) -> None:
    db, e = tmp_path / "dev.sqlite", exam_32_weeks()
    new = review(e.to_dict(), corrections={"hc": 294.0}, note="re-measured", by="Midwife A", ga_method="best_ga",
                 efw_method="intergrowth21_hc_ac", rules=DEFAULT_RULES)
    with ResultStore(db) as store:
        store.save(e, image_png=frame_png())
        store.save(new)
    assert report(db, new.result_id, tmp_path / "r.pdf").returncode == 0
    pages, text, images = pdf_text(tmp_path / "r.pdf")
    assert images == 1 and "Reviewed by Midwife A" in text and "corrected" in text and "AI-assisted" not in text
    assert "No alerts: the measurements fit the dates." in text and "Clinic clinic-0" in text


def test_report_without_dates_says_size_cannot_be_judged_and_bad_output_paths_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "dev.sqlite"
    e = exam_32_weeks(lmp=None)
    with ResultStore(db) as store:
        store.save(e)
    assert report(db, e.result_id, tmp_path / "r.pdf").returncode == 0
    _, text, images = pdf_text(tmp_path / "r.pdf")
    assert "estimated from this scan; size for dates cannot be judged" in text and images == 0
    assert "size for dates was not judged" in text
    bad = report(db, e.result_id, tmp_path / "missing" / "r.pdf")
    assert bad.returncode == 3 and "give a .pdf file in an existing folder" in bad.stderr
