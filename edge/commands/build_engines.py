"""`fetal-edge build-engines --config firmware_configs/DEVICE.yaml`: a TensorRT engine per installed model.

Valid cached engines are kept; missing, stale or foreign ones are (re)built; each model on its own, an INT8
build that fails falling back to FP16 from the float graph (reason printed). Exit 0 when every model has an
engine, 5 when one has none (`fetal-edge run` then runs that model on onnxruntime). `--dry-run` prints the plan
without building (with `--assume-device "NAME,CC,TRT"` it runs without TensorRT, e.g. on a workstation).
The container entrypoint runs this at every start: it is quick when the engines are valid.
"""

from __future__ import annotations

import argparse
import json
import sys

from edge.config import load_config
from edge.engines.device import DeviceInfo, check_trt_version, parse_compute_capability
from edge.engines.jetson import jetpack_of
from edge.errors import BackendError, ConfigError


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

    cfg = load_config(args.config)
    settings = cfg.section("engines")
    if cfg.section("backend").name != "tensorrt" and not args.assume_device:
        print(f"{args.config}: backend {cfg.section('backend').name}, not tensorrt: no engines to build "
              "(onnxruntime's TensorRT provider caches its own)")
        return 0
    if args.assume_device and not args.dry_run:
        raise ConfigError("--assume-device needs --dry-run: engines must be built on the GPU they run on")
    if args.assume_device:
        device, build = assumed_device(args.assume_device), None
    else:
        from edge.engines import trt_builder

        device = trt_builder.probe_device()
        build = None if args.dry_run else trt_builder.build_engine
    statuses = ensure_engines(settings, device, build, MODELS_DIR, force=args.force)
    failed = [s.model for s in statuses if not s.ok]
    if args.json:
        print(json.dumps({"status": "failed" if failed else "ok", "device": device_dict(device),
                          "engines": [s.to_dict() for s in statuses]}))
    else:
        print(f"{device.gpu_name} (SM {device.cc_text}, {device.sm_count} SMs) on {device.board}, TensorRT "
              f"{device.trt_version}, CUDA {device.cuda}, L4T {device.l4t} (JetPack {jetpack_of(device.l4t)})")
        for s in statuses:
            how = f"{s.action} (fallback from {s.fallback_from})" if s.fallback_from else s.action
            why = f" ({s.reason})" if s.reason else ""
            print(f"  {s.model:<14} {s.precision:<5} {how:<8} {s.engine or '-'}{why}")
    if failed:
        print(f"no TensorRT engine for {', '.join(failed)} (reasons above); `fetal-edge run` runs "
              f"{'it' if len(failed) == 1 else 'them'} on onnxruntime (CPU) until one builds", file=sys.stderr)
        return BackendError.exit_code
    return 0


def device_dict(device: DeviceInfo) -> dict[str, object]:
    return {"gpu": device.gpu_name, "compute_capability": device.cc_text, "sm_count": device.sm_count,
            "dla_cores": device.dla_cores, "board": device.board, "tensorrt": device.trt_version,
            "cuda": device.cuda, "l4t": device.l4t, "jetpack": jetpack_of(device.l4t)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-engines", help="build (or reuse) a TensorRT engine per installed model")
    p.add_argument("--config", required=True, help="firmware config (its engines: section)")
    p.add_argument("--dry-run", action="store_true", help="print what would be built; build nothing")
    p.add_argument("--assume-device", help="with --dry-run: 'GPU NAME,CC,TRT VERSION[,DLA CORES]' instead of probing")
    p.add_argument("--force", action="store_true", help="rebuild even valid cached engines")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
