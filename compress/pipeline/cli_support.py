"""What the `fetal-compress pipeline|train|prune|calibrate|export|quantize` commands share."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compress.paths import REPO_ROOT, require_data_dir
from compress.pipeline.config import load_pipeline_config
from compress.pipeline.registry import ORDER
from compress.pipeline.runner import run_stages
from compress.tasks import TASK_NAMES
from edge.errors import ConfigError

SMOKE = REPO_ROOT / "compress" / "configs" / "smoke.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the model's recipe (see compress/configs/)")
    p.add_argument("--task", choices=TASK_NAMES, help="must match the config's task (a guard against mix-ups)")
    p.add_argument("--data", help="development data folder (default: $FETAL_EDGE_DATA or ../shared/data)")
    p.add_argument("--smoke", action="store_true",
                   help="a tiny real run: lay this task's section of compress/configs/smoke.yaml over the recipe")
    p.add_argument("--output", help="bundle directory (overrides the recipe's output)")
    p.add_argument("--work-dir", help="work directory (overrides the recipe's work_dir)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")


def run_command(args: argparse.Namespace, names: tuple[str, ...], write: bool = False) -> int:
    """Run `names` (one stage, or the pipeline from --from on); `write`: the bundle too (the pipeline command)."""
    smoke = SMOKE if args.smoke else None
    here = {k: str(Path(v).resolve()) for k, v in (("output", args.output), ("work_dir", args.work_dir)) if v}
    cfg = load_pipeline_config(args.config, smoke, **here)
    if args.task and args.task != cfg.task:
        raise ConfigError(f"--task {args.task} conflicts with task {cfg.task!r} in {args.config}; "
                          "use the config made for that task")
    data = require_data_dir(args.data or cfg.data_dir)
    start = getattr(args, "from_stage", None)
    if start:  # the pipeline from this stage on, reusing the work dir's earlier artifacts; still writes the bundle
        names = ORDER[ORDER.index(start):]
    result = run_stages(cfg, data, names, progress=not args.no_progress, write=write)
    summary = {"status": "ok", "stages": [o.to_dict() for o in result.outcomes],
               "report": str(result.report_path), "bundle": str(result.bundle) if result.bundle else None}
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        for o in result.outcomes:
            print(f"{o.stage:<9} {o.metric} {o.value:.4f} (vs {o.reference_name} {o.reference:.4f}, "
                  f"worse by {o.worse_by:+.4f}, budget {o.budget}) {o.seconds:.0f} s")
        print(f"report: {result.report_path}")
        if result.bundle:
            print(f"bundle: {result.bundle}")
    return 0
