"""The whole runtime on a stream: synthetic sweeps through hand-wired ONNX models (see _runtime_models),
real onnxruntime and a real SQLite store. Complete, stalled, stopped, broken and failing streams all
end with a stored result; lengths are refused when the spacing is unknown."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import cv2
import pytest

from _runtime_models import head_bundle, plane_bundle
from edge.config import parse_config
from edge.pipeline.analyzers import HeadStage, PlaneStage
from edge.pipeline.runner import ExamRunner
from edge.sources import open_source
from edge.sources.base import Frame, FrameSource
from edge.sources.synthetic import head_outer_axes_px
from edge.store import ResultStore


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bundles")
    return {"plane_model": str(plane_bundle(d / "planes")), "head_model": str(head_bundle(d / "head"))}


@pytest.fixture(scope="module")
def stages(bundles: dict[str, str]) -> tuple[PlaneStage, HeadStage]:
    cfg = parse_config({"pipeline": bundles})
    return PlaneStage(cfg.section("pipeline"), cfg.section("backend")), HeadStage(cfg.section("pipeline"),
                                                                                 cfg.section("backend"))


def runner(stages, bundles, tmp_path: Path, user_mm: float | None = None, **sections) -> ExamRunner:
    cfg = parse_config({"pipeline": bundles, **sections})
    planes, head = stages
    planes.smoother.reset()
    return ExamRunner(cfg, planes, head, ResultStore(tmp_path / "results.sqlite"), user_mm)


def expected_hc_mm(width: int = 640, spacing: float = 0.25) -> float:
    a, b = head_outer_axes_px(width)
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h))) * spacing


def test_complete_sweep_measures_the_head_and_stores_the_exam(stages, bundles, tmp_path: Path) -> None:
    out = runner(stages, bundles, tmp_path).run(open_source("synthetic://sweep?frames=240"))
    exam = out.exam
    assert exam.status == "complete" and out.end_reason == "source ended"
    assert exam.frames == 240 and exam.frames_dropped == 0   # a recording waits: nothing dropped
    assert exam.planes_seen["Fetal brain"] > 20 and exam.planes_seen["Other"] > 100
    hc = exam.measurements["hc"]
    assert hc.flag == "ok" and hc.unit == "mm" and hc.model.name == "test-head" and hc.n_frames >= 3
    assert hc.value == pytest.approx(expected_hc_mm(), rel=0.05)
    a, b = head_outer_axes_px(640)
    assert exam.measurements["bpd"].value == pytest.approx(2 * b * 0.25, rel=0.06)
    assert exam.measurements["ofd"].value == pytest.approx(2 * a * 0.25, rel=0.06)
    ga = exam.measurements["ga"]
    # best_ga: HC ~21 cm is ~23 weeks, inside INTERGROWTH-21st's dating window
    assert ga.method == "intergrowth21_hc" and ga.unit == "d" and 140 < ga.value < 200
    assert exam.dating["source"] == "biometry" and hc.centile is None and "cannot be judged" in hc.centile_reason
    for name in ("ac", "fl"):
        assert exam.measurements[name].flag == "no_measurement" and "no " in exam.measurements[name].reason
    efw = exam.measurements["efw"]
    assert efw.value is None and "EFW out of reach" in efw.reason and "AC" in efw.reason
    assert [m.name for m in exam.models] == ["test-planes", "test-head"]
    assert out.stored
    with ResultStore(tmp_path / "results.sqlite") as store:
        assert store.get(exam.result_id) == exam.to_dict()


def test_unknown_spacing_refuses_millimetres_and_user_spacing_gives_them(stages, bundles, tmp_path: Path) -> None:
    src = open_source("synthetic://sweep?frames=120")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(120):
        cv2.imwrite(str(folder / f"{i:04d}.png"), src.read(1.0).image)  # PNGs carry no spacing
    exam = runner(stages, bundles, tmp_path).run(open_source(str(folder))).exam
    assert exam.planes_seen.get("Fetal brain", 0) > 10
    assert exam.measurements["hc"].value is None and "pixel spacing unknown" in exam.measurements["hc"].reason
    assert exam.measurements["ga"].value is None
    exam = runner(stages, bundles, tmp_path, user_mm=0.25).run(open_source(str(folder))).exam
    assert exam.measurements["hc"].value == pytest.approx(expected_hc_mm(), rel=0.05)
    preset = {"preprocess": {"probe_presets": {"c5": 0.25}, "probe_preset": "c5"}}
    exam = runner(stages, bundles, tmp_path, **preset).run(open_source(str(folder))).exam
    assert exam.measurements["hc"].value == pytest.approx(expected_hc_mm(), rel=0.05)


def test_stalled_stream_ends_partial_and_keeps_what_was_measured(stages, bundles, tmp_path: Path) -> None:
    r = runner(stages, bundles, tmp_path, source={"read_timeout_s": 0.1, "stall_timeout_s": 0.5})
    out = r.run(open_source("synthetic://sweep?frames=1000&stall_after=100"))
    assert out.exam.status == "partial" and out.end_reason.startswith("stream stalled")
    assert out.exam.frames == 100 and out.exam.measurements["hc"].value is not None
    assert out.stored


def test_stop_from_another_thread_ends_partial_and_stored(stages, bundles, tmp_path: Path) -> None:
    stop = threading.Event()
    seen = []

    def on_status(status) -> None:
        seen.append(status.frames)
        if status.frames >= 60:
            stop.set()

    r = runner(stages, bundles, tmp_path, pipeline={**bundles, "status_interval_s": 0.05})
    out = r.run(open_source("synthetic://sweep?frames=100000&realtime=1&fps=200"), stop, on_status)
    assert out.exam.status == "partial" and out.end_reason == "stopped by the user" and out.stored
    assert 60 <= out.exam.frames < 1000 and seen


def test_blank_and_resized_frames_do_not_stop_the_exam(stages, bundles, tmp_path: Path) -> None:
    out = runner(stages, bundles, tmp_path).run(open_source("synthetic://sweep?frames=240&blank_every=7&resize_at=100"))
    assert out.exam.status == "complete"
    assert out.exam.frames == 240 - 240 // 7 and out.exam.frames_dropped == 240 // 7


class ExplodingSource(FrameSource):
    """A source whose driver raises after a few frames (a real grabber's driver can)."""

    scheme = "test"

    def __init__(self, inner: FrameSource, after: int) -> None:
        super().__init__("test://explodes", {})
        self.inner, self.after = inner, after

    def _read(self, timeout: float) -> Frame | None:
        if self.stats.frames_read >= self.after:
            raise RuntimeError("driver fault")
        return self.inner.read(timeout)


def test_source_that_raises_ends_partial_with_the_reason(stages, bundles, tmp_path: Path) -> None:
    out = runner(stages, bundles, tmp_path).run(ExplodingSource(open_source("synthetic://sweep?frames=500"), 90))
    assert out.exam.status == "partial" and "driver fault" in out.end_reason
    assert out.exam.frames == 90 and out.stored


def test_store_refusing_the_exam_is_reported_and_the_exam_still_returned(stages, bundles, tmp_path: Path) -> None:
    r = runner(stages, bundles, tmp_path)
    r.store._conn.execute("DROP TABLE outbox")  # a damaged store: the save fails inside SQLite
    out = r.run(open_source("synthetic://sweep?frames=30"))
    assert not out.stored and out.store_warnings[0].startswith("exam NOT stored")
    assert out.exam.frames == 30
