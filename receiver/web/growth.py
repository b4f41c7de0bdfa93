"""The growth chart of a pregnancy: HC, AC, FL and EFW against gestational age, on the INTERGROWTH-21st
centile bands computed by the clinical code (edge.clinical.standards; no coefficient is repeated here).

Drawn on the server as SVG geometry (the template `_growth.html` writes the elements): no JavaScript, so it
needs no vendored library, passes a CSP without inline script, prints, and shows with scripting off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from edge.clinical.standards import BY_QUANTITY, value_at_centile

QUANTITIES = (("hc", "Head circumference"), ("ac", "Abdominal circumference"), ("fl", "Femur length"),
              ("efw", "Estimated fetal weight"))
CENTILES = (3.0, 10.0, 50.0, 90.0, 97.0)
WIDTH, HEIGHT = 320, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 30
STEP_DAYS = 7


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    current: bool


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    standard: str
    outer: str              # polygon points of the 3rd-97th centile band
    inner: str              # 10th-90th
    median: str             # polyline of the 50th
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    points: list[Point]
    missing: list[str]      # exams that could not be plotted, and why
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def plot(self) -> dict[str, float]:
        return {"left": LEFT, "top": TOP, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM}


def _nice_step(span: float) -> float:
    raw = span / 5.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if step >= raw:
            return float(step)
    return 1000.0


def _chart(key: str, title: str, series: Sequence[Any], current_id: str) -> Chart:
    std = BY_QUANTITY[key]
    lo_d, hi_d = std.ga_days
    days = list(range(lo_d, hi_d, STEP_DAYS)) + [hi_d]
    lines = {c: [value_at_centile(std, c, d) for d in days] for c in CENTILES}
    y_hi = max(lines[97.0]) * 1.05
    sx = (WIDTH - LEFT - RIGHT) / (hi_d - lo_d)
    sy = (HEIGHT - TOP - BOTTOM) / y_hi

    def xy(d: float, v: float) -> tuple[float, float]:
        return round(LEFT + (d - lo_d) * sx, 1), round(HEIGHT - BOTTOM - v * sy, 1)

    def path(values: list[float]) -> list[str]:
        return [f"{x},{y}" for x, y in (xy(d, v) for d, v in zip(days, values))]

    def band(low: float, high: float) -> str:
        return " ".join(path(lines[low]) + path(lines[high])[::-1])

    points, missing = [], []
    for row in series:
        value, ga = getattr(row, f"{key}_value"), row.ga_days
        when = f"{row.started_at:%Y-%m-%d}"
        if value is None:
            continue
        if ga is None or not lo_d <= ga <= hi_d:
            missing.append(f"{when}: {value:g} {std.unit}, GA {'unknown' if ga is None else f'{ga:.0f} d'} "
                           f"outside the standard's {std.range_text()}")
            continue
        x, y = xy(ga, min(value, y_hi))
        points.append(Point(x, y, f"{when}: {value:g} {std.unit} at {int(ga) // 7}w {int(ga) % 7}d",
                            row.result_id == current_id))
    y_step = _nice_step(y_hi)
    return Chart(key, title, std.unit, std.label, band(3.0, 97.0), band(10.0, 90.0), " ".join(path(lines[50.0])),
                 [(xy(w * 7, 0)[0], str(w)) for w in range(-(-lo_d // 7), hi_d // 7 + 1, 4)],
                 [(xy(lo_d, v)[1], f"{v:g}") for v in _frange(0.0, y_hi, y_step)], points, missing)


def _frange(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((stop - start) // step) + 1)]


def charts(series: Sequence[Any], current_id: str) -> list[Chart]:
    """One chart per quantity for the exams in `series` (rows with started_at, ga_days and <q>_value)."""
    return [_chart(key, title, series, current_id) for key, title in QUANTITIES]
