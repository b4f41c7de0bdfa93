"""Config mapping: installed bundle + `engines` settings + device facts -> one BuildSpec per model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.engines.cache import EngineKey
from edge.engines.device import DeviceInfo, choose_precision, needs_float_graph
from edge.errors import BackendError, ModelError
from edge.manifest import Manifest, load_manifest, sha256_of
from edge.settings.engines import EnginesSettings


@dataclass(frozen=True)
class BuildSpec:
    model_name: str
    onnx_path: Path
    precision: str
    key: EngineKey
    engine_path: Path
    workspace_bytes: int
    timing_cache: Path | None
    dla_core: int | None
    gpu_fallback: bool
    optimization_level: int | None


def variants(manifest: Manifest) -> dict[str, str]:
    """precision -> file name of the ONNX graph in the bundle ('int8' = QDQ graph, 'fp32' = float graph; the
    manifest's verified `variants`, an fp16 model_file counting as the float graph)."""
    v = dict(manifest.variants)
    v.setdefault("int8" if manifest.precision == "int8" else "fp32", manifest.model_file)
    return {p: f for p, f in v.items() if p in ("int8", "fp32")}


def engine_for(manifest: Manifest, settings: EnginesSettings, device: DeviceInfo) -> BuildSpec:
    have = variants(manifest)
    precision = choose_precision(settings.precision, device, set(have))
    graph = "fp32" if needs_float_graph(precision) else "int8"
    if graph not in have:
        raise ModelError(f"model {manifest.name}: a {precision} engine needs the bundle's {graph} graph, which "
                         f"it lacks (has: {sorted(have)}); install the full compressed bundle")
    if settings.dla_core is not None and settings.dla_core >= device.dla_cores:
        raise BackendError(f"engines.dla_core = {settings.dla_core} but {device.gpu_name} has "
                           f"{device.dla_cores} DLA core(s); remove dla_core (DLA: Xavier / Orin only)")
    onnx_path = manifest.directory / have[graph]
    key = EngineKey(sha256_of(onnx_path), device.trt_version, device.gpu_name, device.cc_text, precision,
                    settings.dla_core)
    cache = Path(settings.cache_dir)
    return BuildSpec(manifest.name, onnx_path, precision, key, cache / key.file_name(manifest.name),
                     settings.workspace_mb << 20, Path(settings.timing_cache) if settings.timing_cache else None,
                     settings.dla_core, settings.gpu_fallback, settings.builder_optimization_level)


def installed_bundles(settings: EnginesSettings, default_dir: Path) -> list[Manifest]:
    """Verified manifests of the bundles to build (all installed, or the ones `engines.models` names)."""
    root = Path(settings.models_dir) if settings.models_dir else default_dir
    if not root.is_dir():
        raise ModelError(f"models directory {root} not found; set engines.models_dir to the installed bundles")
    found = {p.name: p for p in sorted(root.iterdir()) if (p / "manifest.json").is_file()}
    wanted = settings.models or tuple(found)
    missing = [m for m in wanted if m not in found]
    if missing:
        raise ModelError(f"engines.models names {missing}, not installed in {root}; installed: {sorted(found)}")
    return [load_manifest(found[m], verify=True) for m in wanted]
