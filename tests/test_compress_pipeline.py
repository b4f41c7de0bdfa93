"""The whole pipeline on the tiny 'toy' task (real planes frames at 32x32, a few training steps): bundle
contents, manifest the runtime loads, ONNX checks, reports, the accuracy gate and bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from compress.onnx_checks import check_onnx
from compress.pipeline.config import load_pipeline_config
from compress.pipeline.runner import AccuracyGateError, run_stages
from compress.tasks.toy import ToyTask
from edge.errors import InputError, ModelError
from edge.manifest import load_manifest
from edge.models import load_model

TOY = Path(__file__).resolve().parent.parent / "compress" / "configs" / "toy.yaml"


def toy_cfg(tmp: Path, **sections: object):
    cfg = load_pipeline_config(TOY)
    cfg = replace(cfg, output=tmp / "bundle", work_dir=tmp / "work", threads=1)
    return replace(cfg, **sections)


@pytest.fixture(scope="module")
def toy(data_dir: Path) -> ToyTask:
    return ToyTask(data_dir, {"n_images": 48})


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, toy: ToyTask):
    tmp = tmp_path_factory.mktemp("smoke")
    cfg = toy_cfg(tmp)
    return cfg, run_stages(cfg, data_dir, progress=False, task=toy)


def test_bundle_holds_checked_int8_and_fp32_with_a_verified_manifest(toy_run) -> None:
    cfg, result = toy_run
    bundle = result.bundle
    assert bundle == cfg.output and bundle.is_dir()
    assert not list(bundle.parent.glob(".bundle.*")), "temporary bundle directories must be gone"
    m = load_manifest(bundle, verify=True)
    assert m.precision == "int8" and m.raw["opset"] == 17 and m.input_shape == (1, 1, 32, 32)
    assert set(m.files) == {"model.onnx", "model_fp32.onnx", "report.json", "report.md", "MODEL_CARD.md"}
    assert len(m.raw["calibration"]["sha256"]) == 64 and m.raw["calibration"]["n_frames"] == 16
    for stage in ("teacher", "train", "prune", "export", "quantize"):
        assert f"{stage}.macro_f1" in m.raw["metrics"]
    for f in ("model.onnx", "model_fp32.onnx"):
        assert check_onnx(bundle / f).ok
    ops = check_onnx(bundle / "model.onnx").operators
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops


def test_runtime_loads_the_bundle_and_matches_the_quantized_work_file(toy_run, toy: ToyTask) -> None:
    cfg, result = toy_run
    model = load_model(result.bundle)
    out = model.backend.run(toy.x_val[:1])["logits"]
    assert out.shape == (1, 6)
    from compress.stages.common import ort_predict

    np.testing.assert_allclose(out, ort_predict(cfg.work_dir / "model_int8.onnx")(toy.x_val[:1]), rtol=1e-5)


def test_pruning_really_removes_channels_and_report_covers_every_stage(toy_run) -> None:
    cfg, result = toy_run
    report = json.loads((result.bundle / "report.json").read_text())
    rows = {r["stage"]: r for r in report["rows"]}
    assert list(rows) == ["teacher", "train", "prune", "export", "quantize"]
    assert rows["prune"]["params"] < rows["train"]["params"]
    assert rows["prune"]["macs"] < rows["train"]["macs"]
    assert rows["prune"]["onnx_bytes"] < rows["train"]["onnx_bytes"]
    for r in report["rows"]:
        assert r["latency_median_ms"] > 0 and r["latency_p95_ms"] >= r["latency_median_ms"]
    assert all(o.passed for o in result.outcomes)
    assert rows["export"]["gate"]["worse_by"] <= cfg.export.budget


class Degrading(ToyTask):
    """The toy task whose INT8 model (evaluated with onnxruntime on the quantized file) looks much worse."""

    def evaluate(self, predict):  # type: ignore[no-untyped-def]
        m = super().evaluate(predict)
        if getattr(self, "quantizing", False):
            m["macro_f1"] -= 50.0
        return m

    def calibration(self, n_frames: int):  # type: ignore[no-untyped-def]
        self.quantizing = n_frames >= 16  # the quantize stage's calibration, not export's 4-frame probe
        return super().calibration(n_frames)


def test_stage_over_budget_fails_with_a_report_and_ships_nothing(tmp_path: Path, data_dir: Path) -> None:
    task = Degrading(data_dir, {"n_images": 48})
    cfg = toy_cfg(tmp_path, quantize=replace(load_pipeline_config(TOY).quantize, budget=1.0, max_float_layers=1))
    with pytest.raises(AccuracyGateError) as err:
        run_stages(cfg, data_dir, progress=False, task=task)
    msg = str(err.value)
    assert "'quantize'" in msg and "quantize.budget 1.0" in msg and "no bundle" in msg
    assert not cfg.output.exists() and not list(tmp_path.glob(".bundle*"))
    assert "**FAIL**" in (cfg.work_dir / "failed_report.md").read_text()
    notes = json.loads((cfg.work_dir / "state.json").read_text())["outcomes"]["quantize"]["notes"]
    assert len(notes["attempts"]) == 2, "one retry with the worst layer left in float"
    tried = notes["attempts"][1]["float_layers"]
    assert len(tried) == 1 and tried[0].endswith(("Conv", "Gemm"))
    best = max(notes["attempts"], key=lambda a: a["macro_f1"])
    assert notes["float_layers"] == best["float_layers"], "over budget: the best attempt is kept and reported"


def test_teacher_checkpoint_of_another_architecture_is_refused(tmp_path: Path, data_dir: Path, toy: ToyTask) -> None:
    wrong = tmp_path / "teacher.pt"
    torch.save(toy.build_student("tiny", 0.25).state_dict(), wrong)
    base = load_pipeline_config(TOY)
    cfg = toy_cfg(tmp_path, teacher=replace(base.teacher, checkpoint=str(wrong), train_epochs=0))
    with pytest.raises(ModelError, match="does not match the teacher architecture"):
        run_stages(cfg, data_dir, ("train",), progress=False, task=toy)


def test_missing_teacher_checkpoint_is_refused_before_any_work(tmp_path: Path, data_dir: Path) -> None:
    """Refused before the task is even built: a task that counts its constructions proves no work began."""
    built = []

    class Counting(ToyTask):
        def __init__(self, *a, **k):  # type: ignore[no-untyped-def]
            built.append(1)
            super().__init__(*a, **k)

    base = load_pipeline_config(TOY)
    cfg = toy_cfg(tmp_path, teacher=replace(base.teacher, checkpoint=str(tmp_path / "missing.pt"), train_epochs=0))
    with pytest.raises(ModelError, match="teacher checkpoint .*missing.pt not found"):
        run_stages(cfg, data_dir, progress=False)
    assert not built and not (tmp_path / "work").exists()


def test_too_little_calibration_data_is_refused(toy_run, data_dir: Path, toy: ToyTask) -> None:
    cfg, _ = toy_run
    q = replace(cfg.quantize, calibration_frames=500, min_calibration_frames=400)
    with pytest.raises(InputError, match="calibration data too small"):
        run_stages(replace(cfg, quantize=q), data_dir, ("quantize",), progress=False, write=False, task=toy)


def test_stage_alone_needs_its_input(tmp_path: Path, data_dir: Path, toy: ToyTask) -> None:
    from edge.errors import ConfigError

    with pytest.raises(ConfigError, match="fetal-compress export"):
        run_stages(toy_cfg(tmp_path), data_dir, ("quantize",), progress=False, task=toy)


def test_rerunning_a_stage_forgets_later_outcomes(tmp_path: Path, toy_run, data_dir: Path, toy: ToyTask) -> None:
    import shutil

    cfg, _ = toy_run
    work = tmp_path / "work"
    shutil.copytree(cfg.work_dir, work)
    run_stages(replace(cfg, work_dir=work), data_dir, ("export",), progress=False, write=False, task=toy)
    outcomes = json.loads((work / "state.json").read_text())["outcomes"]
    assert set(outcomes) == {"train", "prune", "export"}, "the old quantize outcome must not survive"


def test_a_labels_only_student_goes_through_without_a_teacher(tmp_path: Path, data_dir: Path, toy: ToyTask) -> None:
    from compress.pipeline.config import parse_pipeline_config
    from edge.config import read_yaml
    from edge.errors import ConfigError

    raw = read_yaml(TOY, "pipeline config", "")
    raw["teacher"] = {"enabled": False}
    with pytest.raises(ConfigError, match="distill settings need a teacher"):
        parse_pipeline_config(raw)
    del raw["distill"]
    raw.update(prune={"enabled": False}, output=str(tmp_path / "bundle"), work_dir=str(tmp_path / "work"))
    cfg = parse_pipeline_config(raw)
    run_stages(cfg, data_dir, progress=False, task=toy)
    report = json.loads((cfg.output / "report.json").read_text())
    assert [r["stage"] for r in report["rows"]] == ["train", "export", "quantize"]   # no teacher row
    assert report["rows"][0]["label"] == "student (trained on labels alone, no teacher)"
    assert report["macs_reduction_vs_teacher"] is None
    man = load_manifest(cfg.output)
    assert man.raw["provenance"]["teacher"] is None and "teacher.macro_f1" not in man.raw["metrics"]
    assert "Teacher: none" in (cfg.output / "MODEL_CARD.md").read_text()


def test_pruning_keeps_the_unpruned_student_where_no_ratio_passes_its_gate(tmp_path: Path, toy_run, data_dir: Path,
                                                                          toy: ToyTask) -> None:
    import shutil

    cfg, _ = toy_run
    work = tmp_path / "work"
    shutil.copytree(cfg.work_dir, work)
    strict = replace(cfg, work_dir=work, prune=replace(cfg.prune, ratios=(0.9, 0.85), budget=0.0))
    run_stages(strict, data_dir, ("prune",), progress=False, write=False, task=toy)
    out = json.loads((work / "state.json").read_text())["outcomes"]["prune"]
    assert out["passed"] and out["notes"]["ratio"] == 0.0
    assert [a["ratio"] for a in out["notes"]["attempts"]] == [0.9, 0.85]
    assert out["value"] == out["reference"] and out["profile"]["params"] == out["notes"]["params_before"]


def test_requantize_keeps_the_float_graph_and_gates_against_it(toy_run, toy: ToyTask, data_dir: Path,
                                                               tmp_path: Path) -> None:
    """`fetal-compress requantize` (how head-seg 1.3.1 was made): the bundle's own float graph, byte for byte,
    quantised again by the pipeline's quantize stage, gated against that graph, written by the bundle writer."""
    from compress.commands.requantize import requantize

    cfg, result = toy_run
    new_cfg = replace(cfg, version="9.9.1", output=tmp_path / "requantized", work_dir=tmp_path / "work")
    outcome, bundle = requantize(new_cfg, toy, result.bundle, data_dir, progress=False)
    old, new = load_manifest(result.bundle), load_manifest(bundle, verify=True)
    assert new.version == "9.9.1" and new.files["model_fp32.onnx"] == old.files["model_fp32.onnx"]
    (q,) = outcome.outcomes
    assert q.stage == "quantize" and q.passed and q.notes["per_tensor_activations"] is True
    export = json.loads((bundle / "report.json").read_text())["rows"][0]
    assert export["stage"] == "export" and export["gate"]["reference"].startswith("shipped toy")
    assert check_onnx(bundle / "model.onnx").ok


def test_pipeline_from_a_stage_reuses_earlier_artifacts_and_writes_the_bundle(tmp_path: Path, toy_run,
                                                                               data_dir: Path) -> None:
    """`fetal-compress pipeline --from export`: no training again, the bundle rewritten from the work dir."""
    import shutil

    from compress.cli import main

    cfg, _ = toy_run
    work = tmp_path / "work"
    shutil.copytree(cfg.work_dir, work)
    student = (work / "student.pt").stat().st_mtime_ns
    before = json.loads((work / "state.json").read_text())["outcomes"]["train"]
    assert main(["pipeline", "--config", str(TOY), "--from", "export", "--no-progress", "--data", str(data_dir),
                 "--work-dir", str(work), "--output", str(tmp_path / "bundle")]) == 0
    state = json.loads((work / "state.json").read_text())["outcomes"]
    assert (work / "student.pt").stat().st_mtime_ns == student and state["train"] == before
    assert load_manifest(tmp_path / "bundle").raw["metrics"]["train.macro_f1"] == before["value"]
