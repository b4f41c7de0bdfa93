"""Golden frames (tests/golden/): ten small public frames with what the shipped models answered on them when
they shipped. Both graphs of each installed bundle, FP32 and INT8, must still give the same plane and, on the
heads, HC within 0.5 mm and GA within 2 days. The expectations must come from the installed models: after a
model ships, run `python tests/golden/make_expected.py` (and look at what changed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_expected import answers, installed_models  # noqa: E402

EXPECTED = json.loads((GOLDEN / "expected.json").read_text())
HC_TOL_MM, GA_TOL_DAYS = 0.5, 2.0


def test_expectations_come_from_the_installed_models() -> None:
    assert EXPECTED["models"] == installed_models(), (
        "tests/golden/expected.json was made with other models than edge/models holds: a model shipped; run "
        "`python tests/golden/make_expected.py`, check the differences it shows in git, and commit it")


def test_frames_are_small_public_and_credited() -> None:
    readme = (GOLDEN / "README.md").read_text()
    assert 8 <= len(EXPECTED["frames"]) <= 12
    for f in EXPECTED["frames"]:
        assert (GOLDEN / f["file"]).stat().st_size < 60_000 and f["licence"] == "CC BY 4.0"
        assert f["file"] in readme


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("frame", EXPECTED["frames"], ids=lambda f: f["file"])
def test_each_graph_answers_the_golden_frames_within_clinical_tolerance(frame: dict, precision: str) -> None:
    got = answers(frame, precision)
    assert (got["plane"], got["best"]) == (frame["plane"], frame["best"])
    if "pixel_mm" in frame:
        assert got["status"] == frame["status"]
        assert abs(got["hc_mm"] - frame["hc_mm"]) <= HC_TOL_MM
        if frame["ga_days"] is None:
            assert got["ga_days"] is None
        else:
            assert abs(got["ga_days"] - frame["ga_days"]) <= GA_TOL_DAYS
