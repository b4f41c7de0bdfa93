"""The plane model card's confusion matrix and coverage table, from the shipped student on real held-out frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compress.data.planes import load_records, split_dev_heldout
from compress.planes.card import results_markdown
from compress.planes.model_card import _short, confusion_table, coverage_table
from compress.planes.report import model_metrics
from edge.imageio import read_gray
from edge.models import load_model
from edge.planes.taxonomy import PLANES


@pytest.fixture(scope="module")
def heldout_metrics(data_dir: Path) -> dict:
    records = load_records(data_dir)
    _, held = split_dev_heldout(records)
    recs = [records[i] for i in held]
    bundle = load_model("plane-cls", threads=1)
    logits = np.stack([bundle.infer(read_gray(r.path))[0] for r in recs])
    return model_metrics(logits, recs, temperature=1.0, threshold=0.8)


def _cells(table: str) -> dict[str, list[int]]:
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return {r[0].strip(): [int(c) for c in r[1:]] for r in rows}


def test_confusion_table_matches_the_metrics(heldout_metrics: dict) -> None:
    cells = _cells(confusion_table(heldout_metrics))
    assert sum(map(sum, cells.values())) == heldout_metrics["n"] == 83
    diagonal = sum(row[i] for i, row in enumerate(cells.values()))
    assert diagonal / heldout_metrics["n"] == pytest.approx(heldout_metrics["accuracy"])
    for plane, support in heldout_metrics["support"].items():
        short = _short(plane)
        assert sum(cells[short]) == support
        assert cells[short][list(cells).index(short)] / support == pytest.approx(heldout_metrics["recall"][plane])


def test_confusion_table_leaves_out_planes_nobody_saw() -> None:
    cm = np.zeros((len(PLANES), len(PLANES)), dtype=int)
    cm[0, 0], cm[3, 0] = 5, 2                                 # brain right 5x, thorax called brain 2x
    table = confusion_table({"confusion": cm.tolist()})
    assert list(_cells(table)) == ["brain", "thorax"]
    assert _cells(table)["thorax"] == [2, 0]


def test_coverage_table_falls_as_the_threshold_rises(heldout_metrics: dict) -> None:
    lines = coverage_table(heldout_metrics).splitlines()
    coverage = [float(c) for c in lines[2].strip("|").split("|")[1:]]
    assert coverage[0] == 1.0 and coverage == sorted(coverage, reverse=True)
    accuracy = [float(c) for c in lines[3].strip("|").split("|")[1:]]
    assert accuracy[0] == pytest.approx(heldout_metrics["accuracy"], abs=1e-3)


def test_confusion_table_has_a_junk_column_for_a_junk_output() -> None:
    cm = np.zeros((len(PLANES), len(PLANES) + 1), dtype=int)
    cm[0, 0], cm[0, len(PLANES)] = 4, 1                        # one brain frame answered junk
    table = confusion_table({"confusion": cm.tolist()})
    assert table.splitlines()[0].endswith("| junk |") and _cells(table)["brain"] == [4, 1]


def test_card_carries_the_tables(heldout_metrics: dict) -> None:
    junk_row = {"n": 10, "unknown_rate": 0.9, "frame check": 5, "junk output": 4, "threshold": 0, "answered": 1}
    report = {"heldout": {"student int8": heldout_metrics, "student fp32": heldout_metrics},
              "heldout_african": {"student int8": heldout_metrics}, "cv": {"student": heldout_metrics},
              "junk": {"kinds": {"banding": {**junk_row, "seen": False}}, "groups": {"all": junk_row}},
              "real_junk": {"all": {"n": 5, "junk_output": 0, "frame_check": 0, "threshold": 1, "answered": 4,
                                    "junk_rate": 0.0}},
              "cv_junk_cost": {"with_junk": 0.85, "junk_ignored": 0.86}}
    text = results_markdown(report)
    assert text.count("| true \\ predicted |") == 2
    assert "| coverage | 1.00 |" in text
    assert "| banding | no | 10 | 90.0 % | 5 | 4 | 0 | 1 |" in text
    assert "0.850 with junk answers counted as misses against 0.860" in text
