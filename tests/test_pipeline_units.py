"""Pipeline parts alone: capture queue (drop oldest for a live probe, wait for a recording), best
frames, exam building (median of k, GA/EFW availability, plausibility flags), spacing resolution."""

from __future__ import annotations

import time

import pytest

from edge.errors import ConfigError, InputError
from edge.manifest import ModelRef
from edge.pipeline.best import BestFrames
from edge.pipeline.capture import CaptureThread
from edge.pipeline.exam import build_exam, combine, method_inputs
from edge.results import Measurement
from edge.sources import open_source
from edge.spacing import SpacingResolver, require_mm

REF = ModelRef("head", "1", "0" * 64)


def test_live_capture_drops_the_oldest_and_never_blocks() -> None:
    src = open_source("synthetic://sweep?frames=60&fps=300&realtime=1&width=128&height=96")
    cap = CaptureThread(src, queue_size=3, read_timeout_s=0.2).start()
    time.sleep(0.5)  # inference is "busy": the source keeps producing
    got = [cap.get(1.0) for _ in range(3)]
    assert cap.queue_dropped > 20                 # the probe was never held back...
    assert [f.index for f in got] == sorted(f.index for f in got) and got[0].index > 20  # ...newest kept
    cap.stop()


def test_recording_capture_waits_and_keeps_every_frame() -> None:
    src = open_source("synthetic://sweep?frames=40&width=128&height=96")
    cap = CaptureThread(src, queue_size=2, read_timeout_s=0.2).start()
    time.sleep(0.3)
    frames = []
    while not cap.ended:
        f = cap.get(0.5)
        if f is not None:
            frames.append(f.index)
    assert frames == list(range(40)) and cap.queue_dropped == 0
    cap.stop()


def test_best_frames_keeps_top_k_by_score() -> None:
    import numpy as np

    best = BestFrames(3)
    for i, score in enumerate([0.5, 0.9, 0.7, 0.6, 0.95, 0.1]):
        best.offer("head", score, i, np.zeros((4, 4), np.uint8), 0.2)
    assert [c.index for c in best.best("head")] == [4, 1, 2]


def _m(name: str, value: float | None, flag: str = "ok", q: float = 0.9, reason: str | None = None) -> Measurement:
    return Measurement(name, value, "mm", q if value is not None else 0.0, flag, REF, "ellipse_fit", reason)


def test_combine_is_the_median_of_frames_with_a_number() -> None:
    ms = [_m("hc", 200.0), _m("hc", 204.0), _m("hc", 260.0), _m("hc", None, "no_measurement", reason="no head")]
    out = combine("hc", ms, "none")
    assert out.value == 204.0 and out.n_frames == 3 and out.flag == "ok" and out.model == REF
    none = combine("hc", [_m("hc", None, "no_measurement", reason="cut by edge")] * 2, "no head plane")
    assert none.value is None and "cut by edge" in none.reason
    assert combine("hc", [], "no trans-thalamic head plane was seen").reason.startswith("no trans-thalamic")


def test_method_inputs_from_names() -> None:
    assert method_inputs("hadlock1984_bpd_hc_ac_fl") == ("bpd", "hc", "ac", "fl")
    assert method_inputs("intergrowth21_hc") == ("hc",)


def _exam(hc: float, bpd: float, ofd: float, ga_method: str = "hadlock1984_hc", given=None):
    frames = [{"hc": _m("hc", hc), "bpd": _m("bpd", bpd), "ofd": _m("ofd", ofd)}]
    return build_exam(clinic_id="c", device_id="d", started_at="t0", ended_at="t1", status="complete",
                      head_frames=frames, no_head_reason="x", planes_seen={}, models=[REF], frames=1, dropped=0,
                      fps=30.0, ga_method=ga_method, efw_method="hadlock1985_hc_ac_fl", given_mm=given)


def test_implausible_ratio_is_flagged_not_hidden() -> None:
    exam = _exam(hc=250.0, bpd=60.0, ofd=100.0)   # BPD/OFD 0.60: far below the usual ~0.75-0.85
    check = next(c for c in exam.plausibility if c["check"] == "bpd_ofd_ratio")
    assert check["ok"] is False
    assert exam.measurements["bpd"].flag == "implausible" and exam.measurements["bpd"].value == 60.0
    assert "bpd_ofd_ratio" in exam.measurements["ofd"].reason
    normal = _exam(hc=250.0, bpd=66.0, ofd=84.0)
    assert all(c["ok"] for c in normal.plausibility if c["check"] == "bpd_ofd_ratio")
    assert normal.measurements["bpd"].flag == "ok"


def test_ga_method_needing_ac_says_so_and_given_ac_fl_enable_efw() -> None:
    exam = _exam(250.0, 66.0, 84.0, ga_method="hadlock1984_hc_ac_fl")
    ga = exam.measurements["ga"]
    assert ga.value is None and "needs AC, FL" in ga.reason
    exam = _exam(250.0, 66.0, 84.0, ga_method="hadlock1984_hc_ac_fl", given={"ac": 240.0, "fl": 52.0})
    assert exam.measurements["ga"].value is not None and exam.measurements["efw"].value is not None
    assert exam.measurements["efw"].unit == "g" and exam.measurements["ac"].method == "manual_caliper"
    assert exam.measurements["ac"].source == "manual" and exam.measurements["efw"].source == "manual"
    assert exam.measurements["efw"].method.endswith("+manual_ac_fl")


def test_spacing_priority_and_refusal() -> None:
    r = SpacingResolver(None, {"c5": 0.2}, "c5")
    assert r.resolve(None).source == "preset" and r.resolve(0.15).source == "frame"
    assert SpacingResolver(0.3, {"c5": 0.2}, "c5").resolve(0.15).mm_per_px == 0.3
    unknown = SpacingResolver().resolve(None)
    assert not unknown.known
    with pytest.raises(InputError, match="refusing to report millimetres"):
        require_mm(unknown)
    with pytest.raises(InputError, match=r"outside \(0.01, 2.0\]"):
        SpacingResolver(5.0)
    with pytest.raises(ConfigError, match="probe_preset = 'x'"):
        SpacingResolver(None, {"c5": 0.2}, "x")
    assert SpacingResolver().resolve(9.0).source == "unknown"  # an absurd frame spacing is ignored


def test_status_line_shows_alerts_raised_so_far() -> None:
    from datetime import date, timedelta

    from edge.clinical.alerts import DEFAULT_RULES
    from edge.clinical.dating import Pregnancy
    from edge.pipeline.exam import live_alerts
    from edge.pipeline.status import Status

    head = {"hc": _m("hc", 265.0), "bpd": _m("bpd", 77.0), "ofd": _m("ofd", 100.0)}
    at_32_weeks = Pregnancy(lmp=date.today() - timedelta(days=224))
    assert live_alerts(head, at_32_weeks, DEFAULT_RULES)[0] == "hc_below_p3"
    assert live_alerts(head, Pregnancy(), DEFAULT_RULES) == []            # no dates: nothing can be judged
    line = Status(measurements=head, alerts=live_alerts(head, at_32_weeks, DEFAULT_RULES)).line()
    assert "HC 265.0mm" in line and "| ALERT hc_below_p3" in line


def test_a_bug_in_the_clinical_layer_never_loses_the_exam(monkeypatch) -> None:
    import edge.pipeline.exam as exam_mod

    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(exam_mod, "assess", broken)
    exam = _exam(250.0, 66.0, 84.0)
    assert exam.exam_flags == ["late_internal_error: ZeroDivisionError: division by zero"]
    assert exam.measurements["hc"].value == 250.0 and exam.measurements["ga"].value is None
