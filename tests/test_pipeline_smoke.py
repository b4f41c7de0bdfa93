"""Each model's real recipe, end to end on a fresh clone: `fetal-compress pipeline --config
compress/configs/<task>.yaml --smoke` (a few real frames, a few steps; compress/configs/smoke.yaml) trains,
prunes, calibrates, exports, quantizes and writes a bundle that `fetal-compress ship` installs and the
device runtime runs exactly as the pipeline measured it. Every task with a smoke section is run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml

from compress.cli import main
from compress.paths import REPO_ROOT
from edge.manifest import load_manifest
from edge.models import load_model

CONFIGS = REPO_ROOT / "compress" / "configs"
TASKS = sorted(yaml.safe_load((CONFIGS / "smoke.yaml").read_text()))


SmokeRun = Callable[[str], Path]


@pytest.fixture(scope="module")
def smoke_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    """smoke_run(task) -> the folder holding that task's smoke `bundle` and `work` dir. Each task's pipeline runs
    once per module, on first request, whichever test asks (the generic tests and the task-specific ones share it;
    a failed run is not repeated either)."""
    done: dict[str, tuple[Path, int]] = {}

    def run(task: str) -> Path:
        if task not in done:
            tmp = tmp_path_factory.mktemp(f"smoke_{task}")
            done[task] = tmp, main(["pipeline", "--task", task, "--config", str(CONFIGS / f"{task}.yaml"), "--smoke",
                                    "--no-progress", "--data", str(data_dir), "--output", str(tmp / "bundle"),
                                    "--work-dir", str(tmp / "work")])
        tmp, code = done[task]
        assert code == 0, f"the {task} smoke pipeline exited {code} (its error is printed above, captured once)"
        return tmp

    return run


@pytest.fixture(params=TASKS)
def smoke(request: pytest.FixtureRequest, smoke_run: SmokeRun) -> tuple[str, Path]:
    return request.param, smoke_run(request.param)


def test_every_stage_ran_and_the_bundle_is_complete(smoke) -> None:
    task, tmp = smoke
    m = load_manifest(tmp / "bundle", verify=True)
    report = json.loads((tmp / "bundle" / "report.json").read_text())
    stages = [r["stage"] for r in report["rows"]]
    assert stages[0] in ("teacher", "train") and stages[-2:] == ["export", "quantize"]
    assert all(r["gate"] is None or r["gate"]["passed"] for r in report["rows"])
    assert m.precision == "int8" and set(m.variants) == {"int8", "fp32"}
    assert m.raw["calibration"]["n_frames"] >= 4 and m.raw["provenance"]["pipeline_config"].endswith(f"{task}.yaml")
    card = (tmp / "bundle" / "MODEL_CARD.md").read_text()
    assert f"Rebuild it: `fetal-compress pipeline --task {task}" in card and "Compression report" in card


def calibrated(tmp: Path) -> dict:
    """The manifest keys the smoke run's calibrate stage fitted (work dir state)."""
    return json.loads((tmp / "work" / "state.json").read_text())["outcomes"]["calibrate"]["notes"]["manifest"]


def test_the_biometry_bundle_carries_its_calibrated_threshold_and_runs_as_measured(smoke_run: SmokeRun,
                                                                                   data_dir: Path) -> None:
    import torch

    from compress.biometry.evaluate import module_predict_fn
    from compress.data.hc18 import load_split
    from compress.pipeline.config import load_pipeline_config
    from edge.biometry.segment import HeadSegmenter
    from edge.manifest import parse_preprocessing

    tmp = smoke_run("biometry")
    cfg = load_pipeline_config(CONFIGS / "biometry.yaml", CONFIGS / "smoke.yaml")
    m = load_manifest(tmp / "bundle")
    post = m.raw["postprocessing"]
    assert post == calibrated(tmp)["postprocessing"]
    assert post["threshold"] in cfg.task_options["thresholds"] and m.input_shape == (1, 1, 64, 96)
    assert m.raw["metrics"]["eval_split"] == "test" and "calibrate.hc_mae_mm" in m.raw["metrics"]
    model = torch.load(tmp / "work" / "pruned.pt", weights_only=False)
    reference = module_predict_fn(model, parse_preprocessing(m.raw["preprocessing"]), post["logit_offset"])
    seg = HeadSegmenter(tmp / "bundle", precision="fp32", threads=1)
    for r in load_split(data_dir / "hc18", "test")[:2]:
        frame = r.image()
        assert np.abs(seg(frame).prob - reference(frame)).max() < 1e-3


def test_the_planes_bundle_carries_its_calibration_and_the_classifier_uses_it(smoke_run: SmokeRun,
                                                                               data_dir: Path) -> None:
    """The temperature and unknown threshold the calibrate stage fitted travel in the manifest, and the runtime's
    PlaneClassifier loads the bundle with them: its probabilities on real held-out frames are the pipeline's
    model's logits / temperature, softmaxed, and its answers follow the unknown threshold."""
    import torch

    from compress.data.planes import load_records, split_dev_heldout
    from compress.planes.contract import SPEC
    from compress.planes.evaluate import softmax
    from edge.imageio import read_gray
    from edge.planes.classifier import PlaneClassifier, answer
    from edge.planes.taxonomy import PLANES, UNKNOWN
    from edge.preprocess import preprocess

    tmp = smoke_run("planes")
    m = load_manifest(tmp / "bundle")
    cal = m.raw["calibration_params"]
    assert {k: cal[k] for k in ("temperature", "unknown_threshold")} == \
        {k: calibrated(tmp)["calibration_params"][k] for k in ("temperature", "unknown_threshold")}
    assert cal["temperature"] > 0 and 0.0 <= cal["unknown_threshold"] <= 1.0 and "patient-grouped CV" in cal["source"]
    clf = PlaneClassifier(tmp / "bundle", precision="fp32", threads=1)
    assert (clf.temperature, clf.threshold) == (cal["temperature"], cal["unknown_threshold"])
    model = torch.load(tmp / "work" / "pruned.pt", weights_only=False).eval()
    records = load_records(data_dir)
    for i in split_dev_heldout(records)[1][:2]:
        frame = read_gray(records[i].path)
        with torch.no_grad():  # the pipeline's own preprocessing and model (the runtime reads the manifest's)
            logits = model(torch.from_numpy(preprocess(frame, SPEC).tensor)).numpy()[0]
        expected = softmax(logits, cal["temperature"])
        assert np.abs(clf.probabilities(frame) - expected).max() < 1e-4
        got, want = clf.classify(frame), answer(expected, cal["unknown_threshold"], clf.ref)
        assert got.plane in PLANES + (UNKNOWN,) and got.plane == want.plane and got.best == want.best
        assert got.plane == UNKNOWN or got.confidence >= cal["unknown_threshold"]


def test_ship_installs_the_bundle_once(smoke, tmp_path: Path) -> None:
    task, tmp = smoke
    models = tmp_path / "models"
    assert main(["ship", str(tmp / "bundle"), "--models-dir", str(models)]) == 0
    name = load_manifest(tmp / "bundle").name
    loaded = load_model(models / name, precision="int8")
    assert loaded.manifest.version == "0.0.1"
    frame = np.random.default_rng(0).integers(0, 255, (300, 400), dtype=np.uint8)
    out, _ = loaded.infer(frame)
    assert np.isfinite(out).all()
    assert main(["ship", str(tmp / "bundle"), "--models-dir", str(models)]) == 4   # same version: refused


def test_a_recipe_naming_a_missing_checkpoint_fails_before_any_work(tmp_path: Path, data_dir: Path, capsys) -> None:
    raw = yaml.safe_load((CONFIGS / "biometry.yaml").read_text())
    raw.update(student={**raw["student"], "init": str(tmp_path / "gone.pt")}, work_dir=str(tmp_path / "work"),
               card_notes=str(CONFIGS / "head-seg-card.md"))
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["pipeline", "--config", str(cfg), "--data", str(data_dir), "--no-progress"]) == 4
    assert "gone.pt not found" in capsys.readouterr().err and not (tmp_path / "work").exists()


@pytest.mark.parametrize("task, patch, code, words", [
    ("biometry", {"task_options": {"limit_imgaes": 4}}, 2, ["limit_imgaes", "not understood", "limit_images"]),
    ("planes", {"task_options": {"n_agu": 4}}, 2, ["n_agu", "not understood", "n_aug"]),
    ("biometry", {"teacher": {"family": "unet", "checkpoint": "/nonexistent/teacher.pt"}}, 4,
     ["teacher checkpoint /nonexistent/teacher.pt not found"]),
])
def test_a_shipped_recipe_with_bad_input_fails_before_any_work(tmp_path: Path, data_dir: Path, capsys, task: str,
                                                                patch: dict, code: int, words: list[str]) -> None:
    """Each shipped recipe with a typo in its task options or a teacher checkpoint that is not there: a clear
    error and its exit code before anything is built (no work dir, no view cache, no bundle)."""
    raw = yaml.safe_load((CONFIGS / f"{task}.yaml").read_text())
    for key, value in patch.items():
        raw[key] = {**(raw.get(key) or {}), **value} if key == "task_options" else value
    raw.update(work_dir=str(tmp_path / "work"), output=str(tmp_path / "bundle"))
    raw["task_options"] = {**raw["task_options"], **({"cache_dir": str(tmp_path / "cache")} if task == "planes" else {})}
    if raw.get("card_notes"):
        raw["card_notes"] = str(CONFIGS / Path(raw["card_notes"]).name)
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["pipeline", "--config", str(cfg), "--data", str(data_dir), "--no-progress"]) == code
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert not any(tmp_path.glob("work*")) and not (tmp_path / "cache").exists() and not (tmp_path / "bundle").exists()
