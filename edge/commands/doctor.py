"""`fetal-edge doctor`: is this device ready? Device, backends available, shipped models and their
checksums verified, config problems. Exit 0 when nothing is wrong, 1 otherwise (`--json` for scripts)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
from pathlib import Path
from typing import Any

from edge.errors import FetalEdgeError
from edge.manifest import load_manifest
from edge.models import MODELS_DIR

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "firmware_configs"


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check device, backends, models and config")
    p.add_argument("--config", help="firmware config to validate (default: every file in firmware_configs/)")
    p.add_argument("--models", metavar="DIR", help="model bundles to verify (default: the shipped edge/models/)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=main)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip("\x00\n ")
    except OSError:
        return None


def device() -> dict[str, Any]:
    mem_kb = next((int(line.split()[1]) for line in (_read("/proc/meminfo") or "").splitlines()
                   if line.startswith("MemTotal")), 0)
    return {"machine": platform.machine(), "system": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "memory_mb": mem_kb // 1024,
            "jetson_model": _read("/proc/device-tree/model"), "l4t": _read("/etc/nv_tegra_release")}


def backends() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        import onnxruntime as ort

        out["onnxruntime"] = {"version": ort.__version__, "providers": ort.get_available_providers()}
    except ImportError as exc:
        out["onnxruntime"] = {"error": str(exc)}
    for mod in ("tensorrt", "pycuda"):
        out[mod] = {"available": importlib.util.find_spec(mod) is not None}
    return out


def models(root: Path = MODELS_DIR) -> list[dict[str, Any]]:
    out = []
    for d in sorted(p for p in root.rglob("manifest.json")):
        d = d.parent
        try:
            m = load_manifest(d, verify=True)
            out.append({"name": m.name, "dir": str(d.relative_to(root)), "version": m.version, "precision": m.precision,
                        "variants": sorted(m.variants), "sha256": m.model_sha256, "ok": True})
        except FetalEdgeError as exc:
            out.append({"dir": str(d.relative_to(root)), "ok": False, "problem": str(exc)})
    return out


def configs(path: str | None) -> list[dict[str, Any]]:
    from edge.config import load_config
    from edge.pipeline.app import check_cross_sections

    files = [Path(path)] if path else sorted(REPO_CONFIGS.glob("*.yaml")) if REPO_CONFIGS.is_dir() else []
    out = []
    for f in files:
        try:
            check_cross_sections(load_config(f))
            out.append({"file": str(f), "ok": True})
        except FetalEdgeError as exc:
            out.append({"file": str(f), "ok": False, "problem": str(exc)})
    return out


def main(args: argparse.Namespace) -> int:
    root = Path(args.models) if args.models else MODELS_DIR
    report = {"device": device(), "backends": backends(), "models": models(root), "configs": configs(args.config)}
    problems = [f"model {m['dir']}: {m['problem']}" for m in report["models"] if not m["ok"]]
    problems += [f"config {c['file']}: {c['problem']}" for c in report["configs"] if not c["ok"]]
    if not report["models"]:
        problems.append(f"no model bundles in {root}")
    report["problems"] = problems
    if args.json:
        print(json.dumps(report, indent=1))
        return 1 if problems else 0
    d = report["device"]
    print(f"device   {d['jetson_model'] or d['machine']} | {d['cpus']} CPUs | {d['memory_mb']} MB | {d['system']}")
    b = report["backends"]
    ort = b["onnxruntime"]
    print(f"backends onnxruntime {ort.get('version', '-')} {ort.get('providers', ort.get('error'))}; "
          f"tensorrt {'yes' if b['tensorrt']['available'] else 'no'}; pycuda {'yes' if b['pycuda']['available'] else 'no'}")
    for m in report["models"]:
        print(f"model    {m['dir']}: " + (f"{m['name']} {m['version']} {m['precision']} sha256 {m['sha256'][:16]}... "
                                          f"verified (variants: {', '.join(m['variants'])})" if m["ok"]
                                          else f"PROBLEM {m['problem']}"))
    for c in report["configs"]:
        print(f"config   {c['file']}: " + ("ok" if c["ok"] else f"PROBLEM {c['problem']}"))
    print("doctor: " + ("all good" if not problems else f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)))
    return 1 if problems else 0
