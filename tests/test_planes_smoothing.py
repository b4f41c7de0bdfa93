"""PlaneSmoother: a plane is reported only once stable, dropped only once lost (synthetic sequences)."""

from __future__ import annotations

import pytest

from edge.errors import ConfigError
from edge.manifest import ModelRef
from edge.planes.classifier import PlanePrediction
from edge.planes.smoothing import NO_PLANE, PlaneSmoother
from edge.planes.taxonomy import PLANES, UNKNOWN

REF = ModelRef("plane-cls", "test", "0" * 64)


def pred(plane: str, p: float = 0.9) -> PlanePrediction:
    rest = (1.0 - p) / (len(PLANES) - 1)
    probs = {name: (p if name == plane else rest) for name in PLANES}
    return PlanePrediction(plane, None, p, probs, REF)


def refused() -> PlanePrediction:
    return PlanePrediction(UNKNOWN, None, 0.0, {}, REF, "blank frame")


def run(smoother: PlaneSmoother, seq: list[PlanePrediction]) -> list[str]:
    return [smoother.update(p).plane for p in seq]


def test_plane_reported_only_after_enter_frames() -> None:
    out = run(PlaneSmoother(alpha=1.0, enter_frames=4, exit_frames=3), [pred("Fetal femur")] * 6)
    assert out == [NO_PLANE] * 3 + ["Fetal femur"] * 3


def test_single_glitch_frames_do_not_switch_or_drop_the_plane() -> None:
    s = PlaneSmoother(alpha=1.0, enter_frames=3, exit_frames=3)
    seq = [pred("Fetal abdomen")] * 4 + [pred("Fetal thorax"), refused(), pred("Fetal abdomen")] * 3
    out = run(s, seq)
    assert out[2:] == ["Fetal abdomen"] * (len(seq) - 2)


def test_plane_dropped_after_exit_frames_then_new_plane_after_enter_frames() -> None:
    s = PlaneSmoother(alpha=1.0, enter_frames=2, exit_frames=3)
    out = run(s, [pred("Fetal brain")] * 3 + [pred("Fetal femur")] * 6)
    assert out[:3] == [NO_PLANE, "Fetal brain", "Fetal brain"]
    assert out[3:5] == ["Fetal brain", "Fetal brain"]     # lost for 1, 2 frames: kept
    assert out[5:] == ["Fetal femur"] * 4                 # lost 3 frames: dropped; femur stable since 3 frames


def test_low_confidence_stream_never_reports_a_plane() -> None:
    s = PlaneSmoother(alpha=0.5, enter_frames=2, exit_frames=2, threshold=0.6)
    assert set(run(s, [pred("Other", 0.4), pred("Fetal thorax", 0.45)] * 10)) == {NO_PLANE}


def test_refused_frames_end_a_reported_plane() -> None:
    s = PlaneSmoother(alpha=0.5, enter_frames=2, exit_frames=4)
    out = run(s, [pred("Maternal cervix", 0.95)] * 4 + [refused()] * 6)
    assert out[3] == "Maternal cervix"
    assert out[-1] == NO_PLANE


def test_exponential_smoothing_absorbs_an_outlier() -> None:
    s = PlaneSmoother(alpha=0.3, enter_frames=1, exit_frames=1)
    run(s, [pred("Fetal abdomen", 0.95)] * 5)
    assert s.update(pred("Fetal femur", 0.95)).plane == "Fetal abdomen"


@pytest.mark.parametrize("kwargs", [{"alpha": 0.0}, {"alpha": 1.5}, {"enter_frames": 0}, {"threshold": 1.2}])
def test_bad_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        PlaneSmoother(**kwargs)
