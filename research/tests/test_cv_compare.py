"""python -m research.biometry compare: the paired difference and the ship rule that decide whether a head recipe replaces another."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from research.biometry.__main__ import main
from research.biometry.compare import PairedDiff, load_rows, paired
from edge.errors import ConfigError


def _rows(errors: list[float | None], refs: list[float]) -> list[dict]:
    return [{"name": f"{i}_HC", "fold": i % 2, "hc_ref_mm": ref, "hc_mm": None if e is None else ref + e,
             "reason": "gate" if e is None else None} for i, (e, ref) in enumerate(zip(errors, refs))]


REFS = [150.0, 180.0, 120.0, 260.0, 250.0, 300.0]


def test_paired_difference_over_images_both_answered_split_by_size_and_fold() -> None:
    base = _rows([2.0, -3.0, 1.0, 4.0, -5.0, 6.0], REFS)
    new = _rows([1.0, -2.0, None, 3.0, -4.0, 2.0], REFS)   # one image left unanswered by the new recipe
    diffs, unanswered = paired(base, new)
    by = {d.group: d for d in diffs}
    assert unanswered == {"base": 0, "new": 1}
    d = np.array([-1.0, -1.0, -1.0, -1.0, -4.0])            # |new| - |base| on the five answered by both
    assert by["all"].n == 5 and by["all"].diff == pytest.approx(d.mean())
    assert by["all"].se == pytest.approx(d.std(ddof=1) / np.sqrt(5))
    assert by["HC < 200 mm"].n == 2 and by["HC >= 200 mm"].n == 3 and by["HC >= 200 mm"].mae_base == pytest.approx(5.0)
    assert by["fold 0"].n == 2 and by["fold 1"].n == 3


def test_the_rule_needs_both_the_gain_and_the_standard_errors() -> None:
    assert PairedDiff("all", 600, 2.2, 2.05, -0.15, 0.05).passes(0.10, 2.0)
    assert not PairedDiff("all", 600, 2.2, 2.13, -0.07, 0.02).passes(0.10, 2.0)    # too small to matter
    assert not PairedDiff("all", 600, 2.2, 2.05, -0.15, 0.10).passes(0.10, 2.0)    # within the noise
    assert not PairedDiff("all", 600, 2.2, 2.35, +0.15, 0.01).passes(0.10, 2.0)    # worse


def test_runs_over_different_images_or_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="different images"):
        paired(_rows([1.0, 2.0], REFS[:2]), _rows([1.0], REFS[:1]))
    bad = tmp_path / "cv.json"
    bad.write_text("{\"summary\": {}}")
    with pytest.raises(ConfigError, match="not a CV result"):
        load_rows(bad)


def test_compare_cv_command_prints_the_table_and_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, errs in (("a.json", [3.0] * 6), ("b.json", [1.0, 1.1, 0.9, 1.0, 1.2, 0.8])):
        (tmp_path / name).write_text(json.dumps({"rows": _rows(errs, REFS)}))
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "| all | 6 | 3.000 | 1.000 | -2.000" in out and "passes the rule" in out
    assert main(["compare", str(tmp_path / "b.json"), str(tmp_path / "a.json")]) == 0
    assert "does not pass" in capsys.readouterr().out
