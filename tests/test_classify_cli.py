"""`fetal-edge classify --json`: one JSON line per file, unreadable files as `unknown` lines, never a crash."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compress.data.planes import load_records, split_dev_heldout
from edge.planes.taxonomy import PLANES, UNKNOWN

REPO = Path(__file__).resolve().parent.parent


def classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", "classify", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def folder(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three held-out real images, a truncated PNG and a text file named .png."""
    records = load_records(data_dir)
    _, held = split_dev_heldout(records)
    d = tmp_path_factory.mktemp("classify")
    for plane in ("Fetal brain", "Fetal femur", "Maternal cervix"):
        src = next(records[i].path for i in held if records[i].plane == plane)
        shutil.copy(src, d / f"a_{plane.replace(' ', '_')}.png")
    data = src.read_bytes()
    (d / "b_truncated.png").write_bytes(data[: len(data) // 4])
    (d / "c_notes.png").write_text("not an image")
    return d


def test_json_lines_for_a_folder(folder: Path) -> None:
    res = classify(str(folder), "--json")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [Path(r["file"]).name for r in rows] == sorted(p.name for p in folder.iterdir())
    for r in rows:
        assert set(r) >= {"file", "plane", "brain_plane", "confidence", "model"}
        assert r["plane"] in PLANES + (UNKNOWN,)
        assert r["model"]["name"] == "plane-cls"
    bad = {Path(r["file"]).name: r for r in rows if Path(r["file"]).name.startswith(("b_", "c_"))}
    for r in bad.values():
        assert r["plane"] == UNKNOWN and r["confidence"] == 0.0 and "readable" in r["reason"]
    good = [r for r in rows if Path(r["file"]).name.startswith("a_")]
    right = sum(r["plane"] == Path(r["file"]).stem[2:].replace("_", " ") for r in good)
    assert right >= 2, good


def test_missing_file_gives_an_unknown_line_not_a_crash(folder: Path) -> None:
    res = classify(str(folder / "nope.png"), "--json")
    assert res.returncode == 0
    row = json.loads(res.stdout)
    assert row["plane"] == UNKNOWN and "no such file" in row["reason"]


def test_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    res = classify(str(tmp_path), "--json")
    assert res.returncode == 3
    assert json.loads(res.stdout)["status"] == "error"


def test_bad_model_dir_is_a_model_error(folder: Path, tmp_path: Path) -> None:
    res = classify(str(folder), "--model", str(tmp_path / "none"))
    assert res.returncode == 4 and "plane-cls" not in res.stdout


def test_precision_picks_the_graph_and_both_agree(folder: Path) -> None:
    """Default (auto) runs the FP32 graph, --precision int8 the QDQ model.onnx; each line names the graph
    that ran, and the two give the same plane on the real frames."""
    from edge.manifest import load_manifest
    from edge.models import shipped_model_dir

    man = load_manifest(shipped_model_dir("plane-cls"))
    rows = {}
    for precision in ("auto", "int8"):
        res = classify(str(folder), "--json", "--precision", precision)
        assert res.returncode == 0, res.stderr
        lines = [json.loads(line) for line in res.stdout.splitlines()]
        rows[precision] = [r for r in lines if Path(r["file"]).name.startswith("a_")]
    assert len(rows["auto"]) == 3
    assert {r["model"]["sha256"] for r in rows["auto"]} == {man.files[man.variants["fp32"]]["sha256"]}
    assert {r["model"]["sha256"] for r in rows["int8"]} == {man.files["model.onnx"]["sha256"]}
    assert [r["plane"] for r in rows["auto"]] == [r["plane"] for r in rows["int8"]]
