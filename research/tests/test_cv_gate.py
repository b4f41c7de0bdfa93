"""python -m research.biometry gate: the HC-spread gate is set from out-of-fold rows and judged by the rule of 2 Dec 2026 (docs/decisions.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from research.biometry.__main__ import main
from research.biometry.gate import choose_threshold, gate_report, spearman
from edge.errors import ConfigError


def _rows(errors: list[float | None], spreads: list[float]) -> list[dict]:
    return [{"name": f"{i}_HC", "fold": i % 3, "hc_ref_mm": 200.0, "hc_mm": None if e is None else 200.0 + e,
             "reason": "gate" if e is None else None, "quality": 1.0 / (1.0 + abs(s)),
             "details": {} if e is None else {"hc_spread_rel": s}}
            for i, (e, s) in enumerate(zip(errors, spreads))]


def _study(n: int = 200) -> list[dict]:
    """n heads: one already unanswered, three wild ones (15 mm off) whose outlines are uncertain, the rest 2 mm."""
    rng = np.random.default_rng(0)
    errors: list[float | None] = [None] + [15.0, -15.0, 15.0] + list(rng.choice([-2.0, 2.0], n - 4))
    spreads = [0.0, 0.20, -0.15, 0.12] + list(rng.uniform(0.0, 0.05, n - 4))
    return _rows(errors, spreads)


def test_the_gate_refuses_up_to_the_budget_largest_spreads_first() -> None:
    g = gate_report(_study(), max_unanswered_frac=0.015)     # 3 of 200 unanswered at most, 1 already is
    assert g.unanswered_before == 1 and g.refused == 2
    assert g.threshold == pytest.approx(0.12)                 # the next largest |spread| is kept
    assert g.refused_mae == pytest.approx(15.0)
    assert g.mae_before == pytest.approx((3 * 15 + 196 * 2) / 199)
    assert g.mae_after == pytest.approx((15 + 196 * 2) / 197)
    assert g.passes(0.10, 2.0)
    assert g.spearman_spread > 0.1 and g.spearman_quality < -0.1


def test_a_gate_that_refuses_ordinary_heads_does_not_pass() -> None:
    rows = _study()
    for r, s in zip(rows[1:4], (0.0, 0.0, 0.0)):             # the wild heads now look certain
        r["details"]["hc_spread_rel"] = s
    g = gate_report(rows, 0.015)
    assert g.refused == 2 and g.refused_mae == pytest.approx(2.0) and not g.passes(0.10, 2.0)


def test_no_budget_left_refuses_nothing_and_a_given_threshold_is_used() -> None:
    g = gate_report(_study(), max_unanswered_frac=0.005)      # floor(1) - 1 already unanswered = 0
    assert g.refused == 0 and g.threshold == math.inf and math.isnan(g.refused_mae)
    assert gate_report(_study(), threshold=0.13).refused == 2
    assert choose_threshold(np.array([0.3, 0.1, 0.2]), 5) == 0.0


def test_rows_without_spreads_are_refused_with_a_way_out(tmp_path: Path) -> None:
    rows = _study()
    del rows[5]["details"]["hc_spread_rel"]
    with pytest.raises(ConfigError, match="gather them again"):
        gate_report(rows)
    with pytest.raises(ConfigError, match="max unanswered"):
        gate_report(_study(), max_unanswered_frac=1.5)


def test_spearman_is_a_rank_correlation() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(x, x ** 3) == pytest.approx(1.0) and spearman(x, -np.exp(x)) == pytest.approx(-1.0)
    # ties share their mean rank: [1, 1, 2] ranks as [0.5, 0.5, 2], Pearson of that with [0, 1, 2]
    assert spearman(np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])) == pytest.approx(math.sqrt(3) / 2)


def test_gate_cv_command_prints_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cv_k3.json"
    path.write_text(json.dumps({"rows": _study(), "summary": {}}))
    assert main(["gate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "refused by the gate | 2 | 15.000" in out and "The gate passes the rule" in out
