"""`fetal-compress requantize --config FILE --bundle DIR --version X.Y.Z`: the pipeline's quantize stage run
again on a shipped bundle's own float graph (no retraining), gated against that graph and written as a new
bundle by the pipeline's bundle writer. For a quantisation fix (e.g. per-tensor activation scales for
TensorRT) that must leave the float model, and so every accuracy number but the INT8 one, unchanged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

from compress.paths import require_data_dir
from compress.pipeline.config import load_pipeline_config
from compress.pipeline.registry import ORDER
from edge.errors import ConfigError
from edge.manifest import load_manifest, sha256_of


def seed_export(cfg, task, bundle: Path):  # -> WorkDir
    """The work dir as if the export stage had produced the bundle's float graph: the graph copied in, its
    metric measured now on the gate's split, its params/MACs taken from the bundle's compression report."""
    from compress.pipeline.workdir import StageOutcome, WorkDir
    from compress.stages.common import onnx_latency_ms, ort_predict

    manifest = load_manifest(bundle, verify=True)
    if manifest.name != task.info.model_name or "fp32" not in manifest.variants:
        raise ConfigError(f"{bundle} is {manifest.name!r} with graphs {sorted(manifest.variants)}; requantize needs a "
                          f"{task.info.model_name!r} bundle with a float (fp32) graph")
    work = WorkDir(cfg.work_dir)
    work.invalidate(ORDER)
    src = manifest.directory / manifest.variants["fp32"]
    shutil.copyfile(src, work.path("export"))
    t0 = time.perf_counter()
    metrics = task.evaluate(ort_predict(work.path("export")))
    report = json.loads((manifest.directory / "report.json").read_text(encoding="utf-8"))
    shipped = next((r for r in report.get("rows", []) if r.get("stage") == "export"), {})
    profile = {k: shipped[k] for k in ("params", "macs") if k in shipped}
    profile.update(onnx_bytes=src.stat().st_size, **onnx_latency_ms(src, task.info.input_shape))
    value = metrics[task.info.metric]
    label = f"shipped {manifest.name} {manifest.version} float graph"
    work.record(StageOutcome("export", task.info.metric, label, value, value, 0.0, cfg.export.budget, metrics,
                             profile, {"source": f"{manifest.directory.name}/{src.name}", "sha256": sha256_of(src)},
                             time.perf_counter() - t0))
    return work


def requantize(cfg, task, bundle: Path, data: Path, progress: bool = True):  # -> (PipelineResult, Path)
    """Seed the work dir from `bundle`, run the quantize stage (gated), write the new bundle to cfg.output."""
    from compress.pipeline.bundle import write_bundle
    from compress.pipeline.runner import run_stages

    work = seed_export(cfg, task, bundle)
    result = run_stages(cfg, data, ("quantize",), progress=progress, write=False, task=task)
    return result, write_bundle(cfg, task, work)


def run(args: argparse.Namespace) -> int:
    from compress.tasks import create_task

    cfg = load_pipeline_config(args.config)
    options = dict(cfg.task_options)
    for item in args.option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE, e.g. postprocessing_from=DIR/manifest.json")
        options[key] = value
    cfg = replace(cfg, version=args.version, output=Path(args.out).resolve() if args.out else cfg.output,
                  task_options=options)
    data = require_data_dir(args.data or cfg.data_dir)
    result, bundle = requantize(cfg, create_task(cfg.task, data, cfg.task_options), Path(args.bundle), data,
                                progress=not args.no_progress)
    for o in result.outcomes:
        print(f"{o.stage:<9} {o.metric} {o.value:.4f} (vs {o.reference_name} {o.reference:.4f}, "
              f"worse by {o.worse_by:+.4f}, budget {o.budget})")
    print(f"bundle: {bundle}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("requantize", help="re-run INT8 quantisation on a shipped bundle's float graph; write a new "
                                          "bundle (no retraining)")
    p.add_argument("--config", required=True, help="pipeline YAML of the model (its quantize: section applies)")
    p.add_argument("--bundle", required=True, help="the shipped bundle whose model_fp32.onnx is quantised")
    p.add_argument("--version", required=True, help="version of the new bundle, e.g. 1.3.1")
    p.add_argument("--out", help="bundle directory to write (default: the config's output)")
    p.add_argument("--option", action="append", help="KEY=VALUE overriding one of the config's task_options "
                                                      "(string values), e.g. postprocessing_from=BUNDLE/manifest.json")
    p.add_argument("--data", help="development data folder (default: $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
