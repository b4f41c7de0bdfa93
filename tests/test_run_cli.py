"""`fetal-edge run` as a process: JSON summary on stdout, exit codes, SIGTERM stops cleanly with the
exam stored, the overlay recording carries no burnt-in text, bad sources and configs are clear errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from _runtime_models import head_bundle, plane_bundle

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    planes, head = plane_bundle(d / "planes"), head_bundle(d / "head")
    path = d / "cfg.yaml"
    path.write_text(f"pipeline:\n  plane_model: {planes}\n  head_model: {head}\n  status_interval_s: 0.1\n"
                    f"source:\n  read_timeout_s: 0.2\n  stall_timeout_s: 2.0\n"
                    f"sync:\n  clinic_id: clinic-7\n  device_id: laptop-3\n", encoding="utf-8")
    return path


def edge(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def stored(db: Path, result_id: str) -> dict | None:
    from edge.store import ResultStore

    with ResultStore(db) as store:
        return store.get(result_id)


def test_run_prints_the_exam_and_stores_it(config: Path, tmp_path: Path) -> None:
    db, video = tmp_path / "r.sqlite", tmp_path / "overlay.mp4"
    proc = edge("run", "--source", "synthetic://sweep?frames=150", "--config", str(config), "--store", str(db),
                "--record", str(video))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    exam = summary["exam"]
    assert exam["status"] == "complete" and exam["frames"] == 150
    assert exam["clinic_id"] == "clinic-7" and exam["device_id"] == "laptop-3"
    assert exam["measurements"]["hc"]["value"] > 150 and exam["measurements"]["hc"]["unit"] == "mm"
    assert summary["stored_in"] == str(db) and stored(db, exam["result_id"]) == exam
    assert " fps | frames " in proc.stderr  # the live status line
    cap = cv2.VideoCapture(str(video))
    n, text_max = 0, 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        n += 1
        text_max = max(text_max, int(img[:25, :260].max()))
    assert n == 150
    assert text_max < 40  # the burnt-in "patient" line of the sweep was blanked (codec noise only)


def test_sigterm_stops_cleanly_and_keeps_the_exam(config: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--source",
                             "synthetic://sweep?frames=1000000&realtime=1&fps=60", "--config", str(config),
                             "--store", str(db)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if " fps | frames " in line and int(line.split("frames ")[1].split()[0]) >= 90:
                break
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    summary = json.loads(out)
    assert summary["exam"]["status"] == "partial" and summary["end_reason"] == "stopped by the user"
    assert summary["exam"]["frames"] >= 90
    assert stored(db, summary["exam"]["result_id"])["status"] == "partial"


def test_missing_device_is_exit_3_with_a_clear_message(config: Path, tmp_path: Path) -> None:
    proc = edge("run", "--source", "v4l2:///dev/video93", "--config", str(config), "--store", str(tmp_path / "r.db"))
    assert proc.returncode == 3
    assert "/dev/video93 does not exist (unplugged?)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stalling_stream_is_exit_3_with_partial_result_stored(config: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    proc = edge("run", "--source", "synthetic://sweep?frames=500&stall_after=80", "--config", str(config),
                "--store", str(db), "--quiet")
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["exam"]["status"] == "partial" and "stalled" in summary["end_reason"]
    assert stored(db, summary["exam"]["result_id"]) is not None


def test_malformed_config_is_exit_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline:\n  top_k: many\n", encoding="utf-8")
    proc = edge("run", "--config", str(bad), "--store", str(tmp_path / "r.db"))
    assert proc.returncode == 2 and "pipeline.top_k = 'many': expected int" in proc.stderr


def test_doctor_verifies_bundles_and_reports_an_altered_one(config: Path, tmp_path: Path) -> None:
    import shutil

    from edge.manifest import load_manifest

    models = tmp_path / "models"
    shutil.copytree(config.parent / "planes", models / "planes")
    shutil.copytree(config.parent / "head", models / "head")
    proc = edge("doctor", "--models", str(models), "--config", str(config), "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["problems"]
    assert {m["name"] for m in report["models"]} == {"test-planes", "test-head"}
    assert report["models"][0]["sha256"] == load_manifest(models / report["models"][0]["dir"]).model_sha256
    assert "CPUExecutionProvider" in report["backends"]["onnxruntime"]["providers"]
    onnx = models / "head" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")  # same size, altered content
    proc = edge("doctor", "--models", str(models), "--config", str(config))
    assert proc.returncode == 1
    assert "model    head: PROBLEM" in proc.stdout and "altered or corrupt" in proc.stdout


@pytest.mark.skipif(not all((REPO / "edge" / "models" / m / "manifest.json").is_file() for m in ("plane-cls", "head-seg")),
                    reason="shipped models plane-cls and head-seg are not in edge/models yet")
def test_demo_runs_on_the_synthetic_sweep_and_says_where_its_output_went(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = edge("demo", "--out", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"output: {out.resolve()}/exam.json" in proc.stdout
    exam = json.loads((out / "exam.json").read_text(encoding="utf-8"))
    assert exam["frames"] == 360 and exam["status"] == "complete"
    assert (out / "overlay.mp4").stat().st_size > 0
    assert stored(out / "results.sqlite", exam["result_id"]) == exam
    # the demo's documented assumed dates (23w0d today) let it show GA, EDD and centiles
    assert "demo dates: an assumed LMP" in proc.stdout and "GA 23w0d (established: lmp), EDD " in proc.stdout
    assert exam["dating"]["ga_text"] == "23w0d" and exam["measurements"]["hc"]["centile"] is not None
    assert "  HC " in proc.stdout and " centile " in proc.stdout and (out / "report.pdf").stat().st_size > 1000


def test_run_with_lmp_and_given_ac_judges_size_and_stores_the_best_frame(config: Path, tmp_path: Path) -> None:
    from datetime import date, timedelta

    from edge.store import ResultStore

    db, lmp = tmp_path / "r.sqlite", (date.today() - timedelta(days=161)).isoformat()
    proc = edge("run", "--source", "synthetic://sweep?frames=150", "--config", str(config), "--store", str(db),
                "--lmp", lmp, "--given", "ac=180,fl=40")
    assert proc.returncode == 0, proc.stderr
    exam = json.loads(proc.stdout)["exam"]
    assert exam["pregnancy"]["lmp"] == lmp and exam["dating"] == {**exam["dating"], "ga_text": "23w0d",
                                                                   "source": "established"}
    efw = exam["measurements"]["efw"]
    assert efw["value"] > 300 and efw["source"] == "manual" and "manual_ac" in efw["method"]
    assert efw["centile"] is not None and exam["measurements"]["ac"]["source"] == "manual"
    assert "GA 23w0d (established: lmp)" in proc.stderr and "  EFW " in proc.stderr
    with ResultStore(db) as store:
        png = store.image_for(exam["result_id"])
    assert png is not None and cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape[0] > 100


@pytest.mark.parametrize("args, message", [
    (["--lmp", "2999-01-01"], "LMP 2999-01-01 is in the future"),
    (["--lmp", "2020-01-01"], "more than 44 weeks; valid: a pregnancy that began after"),
    (["--edd", "2020-01-01"], "EDD 2020-01-01 is more than 4 weeks before the exam date"),
    (["--dating-ga", "twelve@2026-01-01"], "--dating-ga GA 'twelve' does not parse"),
    (["--given", "ac=0"], "--given ac=0 mm: must be a finite number > 0"),
    (["--given", "ac=900"], "--given ac=900 mm: AC 900 mm is outside what a fetus can have"),
    (["--lmp", "2026-01-01", "--edd", "2026-09-01"], "lmp and edd conflict"),
])
def test_bad_clinical_input_is_exit_3_naming_the_value_and_stores_nothing(config: Path, tmp_path: Path,
                                                                           args: list, message: str) -> None:
    db = tmp_path / "r.sqlite"
    proc = edge("run", "--source", "synthetic://sweep?frames=30", "--config", str(config), "--store", str(db), *args)
    assert proc.returncode == 3 and message in proc.stderr, proc.stderr
    from edge.store import ResultStore

    with ResultStore(db) as store:
        assert store.count() == 0
