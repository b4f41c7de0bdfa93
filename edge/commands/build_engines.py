"""`fetal-edge build-engines --config firmware_configs/DEVICE.yaml`: a TensorRT engine per installed model.

Valid cached engines are kept; missing, stale or foreign ones are (re)built. `--dry-run` prints the plan
without building (with `--assume-device "NAME,CC,TRT"` it runs without TensorRT, e.g. on a workstation).
"""

from __future__ import annotations

import argparse
import json

from edge.config import load_config
from edge.engines.device import DeviceInfo, check_trt_version, parse_compute_capability
from edge.errors import ConfigError


def assumed_device(text: str) -> DeviceInfo:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise ConfigError(f"--assume-device {text!r}: expected 'GPU NAME,CC,TRT VERSION[,DLA CORES]', "
                          "e.g. 'Orin,8.7,8.6.2,2'")
    check_trt_version(parts[2])
    dla = int(parts[3]) if len(parts) == 4 and parts[3].isdigit() else 0
    return DeviceInfo(parts[0], parse_compute_capability(parts[1]), parts[2], dla)


def run(args: argparse.Namespace) -> int:
    from edge.engines.manager import ensure_engines
    from edge.models import MODELS_DIR

    settings = load_config(args.config).section("engines")
    if args.assume_device and not args.dry_run:
        raise ConfigError("--assume-device needs --dry-run: engines must be built on the GPU they run on")
    if args.assume_device:
        device, build = assumed_device(args.assume_device), None
    else:
        from edge.engines import trt_builder

        device = trt_builder.probe_device()
        build = None if args.dry_run else trt_builder.build_engine
    statuses = ensure_engines(settings, device, build, MODELS_DIR, force=args.force)
    if args.json:
        print(json.dumps({"status": "ok", "device": {"gpu": device.gpu_name, "compute_capability": device.cc_text,
                                                      "tensorrt": device.trt_version},
                          "engines": [s.to_dict() for s in statuses]}))
    else:
        print(f"{device.gpu_name} (SM {device.cc_text}), TensorRT {device.trt_version}")
        for s in statuses:
            why = f" ({s.reason})" if s.reason else ""
            print(f"  {s.model:<14} {s.precision:<5} {s.action:<8} {s.engine}{why}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-engines", help="build (or reuse) a TensorRT engine per installed model")
    p.add_argument("--config", required=True, help="firmware config (its engines: section)")
    p.add_argument("--dry-run", action="store_true", help="print what would be built; build nothing")
    p.add_argument("--assume-device", help="with --dry-run: 'GPU NAME,CC,TRT VERSION[,DLA CORES]' instead of probing")
    p.add_argument("--force", action="store_true", help="rebuild even valid cached engines")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
