"""The growth chart's geometry against the clinical code's centiles, and the drift rule."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from edge.clinical.standards import BY_QUANTITY, value_at_centile
from receiver.web.drift import Week, flag_weeks
from receiver.web.growth import charts


def _row(rid: str, ga: float | None, **values: float) -> SimpleNamespace:
    base = {f"{q}_value": None for q in ("hc", "ac", "fl", "efw")}
    return SimpleNamespace(result_id=rid, ga_days=ga, started_at=datetime(2026, 11, 2, tzinfo=timezone.utc),
                           **{**base, **values})


def _line_y(points: list[str], x: float) -> float:
    pts = [tuple(map(float, p.split(","))) for p in points]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise AssertionError(f"x={x} outside the median line")


def test_a_value_at_the_50th_centile_sits_on_the_median_line_and_the_97th_above_it() -> None:
    ga = 200.0
    hc50, hc97 = (value_at_centile(BY_QUANTITY["hc"], c, ga) for c in (50.0, 99.0))
    chart = {c.key: c for c in charts([_row("a", ga, hc_value=hc50), _row("b", ga, hc_value=hc97)], "a")}["hc"]
    on, high = chart.points
    assert on.current and not high.current
    outer = chart.outer.split()
    p97 = outer[len(outer) // 2:][::-1]                      # the band's upper edge, left to right
    assert abs(on.y - _line_y(chart.median.split(), on.x)) < 1.0       # the 50th centile is on the line (px)
    assert high.y < _line_y(p97, high.x) < _line_y(chart.median.split(), high.x)   # the 99th above the band
    assert on.x == high.x


def test_exams_without_ga_or_outside_the_standard_are_listed_not_plotted() -> None:
    rows = [_row("a", None, ac_value=250.0), _row("b", 60.0, fl_value=10.0), _row("c", 150.0)]
    by = {c.key: c for c in charts(rows, "a")}
    assert not by["ac"].points and "GA unknown" in by["ac"].missing[0]
    assert not by["fl"].points and "outside the standard" in by["fl"].missing[0]
    assert not by["efw"].points and not by["efw"].missing      # not measured: nothing to say


def _weeks(unknown: list[float], conf: list[float] | None = None) -> list[Week]:
    start = date(2026, 9, 7)
    return [Week(start + timedelta(weeks=i), 20, 20000, u, (conf or [0.9] * len(unknown))[i])
            for i, u in enumerate(unknown)]


def test_a_week_far_from_the_devices_usual_is_flagged() -> None:
    steady = [0.06, 0.07, 0.065, 0.06, 0.07, 0.068, 0.062, 0.066]
    assert not any(w.warning for w in flag_weeks(_weeks(steady)))
    drifted = flag_weeks(_weeks(steady + [0.31]))
    assert [w.warning is not None for w in drifted] == [False] * 8 + [True]
    assert "unknown frames +" in drifted[-1].warning
    conf = flag_weeks(_weeks([0.06] * 6, [0.91, 0.9, 0.92, 0.9, 0.91, 0.72]))
    assert conf[-1].warning and "confidence -0.19" in conf[-1].warning


def test_too_little_history_or_a_noisy_device_is_not_flagged() -> None:
    assert not any(w.warning for w in flag_weeks(_weeks([0.05, 0.30, 0.06])))      # 3 weeks: no usual yet
    noisy = [0.05, 0.25, 0.08, 0.22, 0.04, 0.2, 0.1, 0.24]                          # wide spread: 0.25 is usual
    assert not any(w.warning for w in flag_weeks(_weeks(noisy)))
