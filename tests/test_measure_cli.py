"""`fetal-edge measure`: JSON fields and exit codes scripts rely on (0 measured, 10 none, 3 input, 4 model)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from compress.data.hc18 import load_split
from edge.cli import main
from edge.models import shipped_model_dir

FIELDS = {"status", "reason", "hc_mm", "bpd_mm", "ofd_mm", "ga_weeks", "ga_method", "quality", "model"}


@pytest.fixture(scope="module")
def held_out(hc18_dir):
    # a held-out image inside Hadlock's HC range (89-358 mm), so that GA is given too
    return next(r for r in load_split(hc18_dir, "test") if 150 <= r.hc_mm <= 300)


def _run(capsys, *argv):
    code = main(["measure", *map(str, argv)])
    out = capsys.readouterr().out.strip()
    return code, (json.loads(out) if out else None)


def test_good_image_measures_with_all_fields_and_overlay(capsys, tmp_path, held_out):
    overlay = tmp_path / "o.png"
    code, out = _run(capsys, held_out.image_path, "--pixel-size", held_out.pixel_mm, "--overlay", overlay)
    assert code == 0 and out["status"] == "measured"
    assert FIELDS <= out.keys()
    assert out["hc_mm"] == pytest.approx(held_out.hc_mm, abs=5.0)
    assert out["bpd_mm"] < out["ofd_mm"] < out["hc_mm"] / 2
    assert out["ga_method"].startswith(("intergrowth21_hc", "hadlock1984_")) and 10 < out["ga_weeks"] < 42
    assert out["dating"]["source"] == "biometry" and out["measurements"]["hc"]["centile"] is None
    assert "cannot be judged" in out["measurements"]["hc"]["centile_reason"] and out["alerts"] == []
    assert set(out["model"]) == {"name", "version", "sha256"} and out["model"]["name"] == "head-seg"
    assert out["caliper"] == "outer-to-outer"
    img = cv2.imread(str(overlay))
    assert img is not None and img.shape[:2] == held_out.image().shape


def test_dates_and_given_ac_give_centiles_efw_and_alerts(capsys, held_out):
    from datetime import date, timedelta

    code, out = _run(capsys, held_out.image_path, "--pixel-size", held_out.pixel_mm)
    bio_days = out["ga_days"]
    lmp = (date.today() - timedelta(days=round(bio_days) + 35)).isoformat()   # dates 5 weeks older than the head
    ac = 10.0 * held_out.hc_mm / 11.0           # an ordinary HC/AC ratio for the head of this image
    code, out = _run(capsys, held_out.image_path, "--pixel-size", held_out.pixel_mm, "--lmp", lmp,
                     "--given", f"ac={ac:.0f}")
    assert code == 0 and out["dating"]["source"] == "established" and out["pregnancy"]["lmp"] == lmp
    efw, given = out["measurements"]["efw"], out["measurements"]["ac"]
    assert out["measurements"]["hc"]["centile"] is not None and given["source"] == "manual"
    assert given["value"] == round(ac) and given["centile"] is not None
    if held_out.hc_mm < 181:   # before 22 weeks the INTERGROWTH-21st EFW equation refuses, and says why
        assert efw["value"] is None and "181-359 mm" in efw["reason"]
    else:
        assert efw["value"] > 0 and efw["source"] == "manual"
    assert "ga_discrepancy" in {a["rule"] for a in out["alerts"]}


def test_blank_frame_gives_no_measurement_with_reason(capsys, tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((540, 800), np.uint8))
    code, out = _run(capsys, blank, "--pixel-size", "0.1")
    assert code == 10 and out["status"] == "no_measurement" and "blank" in out["reason"]
    assert out["hc_mm"] is None and out["model"]["name"] == "head-seg"


def test_non_image_file_is_bad_input(capsys, tmp_path):
    junk = tmp_path / "notes.png"
    junk.write_text("this is not an image")
    code, out = _run(capsys, junk, "--pixel-size", "0.1", "--json")
    assert code == 3 and out["status"] == "error" and "not a readable image" in out["reason"]


@pytest.mark.parametrize("px", ["0", "5", "-0.2"])
def test_pixel_size_out_of_range_is_bad_input(capsys, held_out, px):
    code, out = _run(capsys, held_out.image_path, "--pixel-size", px, "--json")
    assert code == 3 and "pixel size" in out["reason"]


def test_truncated_model_is_bad_model(capsys, tmp_path, held_out):
    bundle = tmp_path / "head-seg"
    shutil.copytree(shipped_model_dir("head-seg"), bundle)
    data = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(data[: len(data) // 3])
    code, out = _run(capsys, held_out.image_path, "--pixel-size", held_out.pixel_mm, "--model", bundle, "--json")
    assert code == 4 and "truncated" in out["reason"]


def test_precision_picks_the_graph_and_the_json_names_it(capsys, held_out):
    """Default (auto): the bundle's FP32 graph, faster on a CPU; --precision int8: the QDQ model.onnx. The
    model sha256 in the output is the graph that ran, and both graphs agree on HC to within 2 %."""
    from edge.manifest import load_manifest

    man = load_manifest(shipped_model_dir("head-seg"))
    runs = {}
    for precision in ("auto", "int8"):
        code, out = _run(capsys, held_out.image_path, "--pixel-size", held_out.pixel_mm, "--precision", precision)
        assert code == 0
        runs[precision] = out
    assert runs["auto"]["model"]["sha256"] == man.files[man.variants["fp32"]]["sha256"]
    assert runs["int8"]["model"]["sha256"] == man.files["model.onnx"]["sha256"] != runs["auto"]["model"]["sha256"]
    assert runs["int8"]["hc_mm"] == pytest.approx(runs["auto"]["hc_mm"], rel=0.02)


def test_report_is_strict_json_when_a_detail_is_unbounded(tmp_path):
    from edge.biometry.measure import GateSettings, measure_head
    from edge.commands.measure import report
    from edge.manifest import ModelRef

    prob = np.zeros((300, 400), np.float32)
    cv2.ellipse(prob, (200, 150), (120, 90), 0, 0, 360, 0.6, -1)   # a head no level above 0.6 sees
    res = measure_head(prob, 0.2, ModelRef("head-seg", "test", "0" * 64), GateSettings(spread_levels=(0.25, 0.75)))
    assert res.status == "measured" and res.details["hc_spread_rel"] == float("inf")
    out = json.loads(json.dumps(report(res, None, res.hc.model, tmp_path / "f.png", 0.2, None), allow_nan=False))
    assert out["details"]["hc_spread_rel"] is None and out["hc_mm"] > 0
