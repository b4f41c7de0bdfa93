"""`engines:` section: how TensorRT engines are built and cached on the device (see edge/engines/).

precision: auto = INT8 from the bundle's QDQ graph where the GPU has fast INT8 (with FP16 from the float
graph as the fallback when the INT8 build fails), else FP16 (GPUs without fast INT8), else FP32. dla_core: run on that DLA core (Xavier / Orin), with layers DLA cannot run
falling back to the GPU when gpu_fallback is true. workspace_mb limits the builder's scratch memory;
timing_cache (a file) makes rebuilds after an update fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError

ENGINE_PRECISIONS = ("auto", "fp32", "fp16", "int8")
_KEYS = {"precision", "cache_dir", "models_dir", "models", "workspace_mb", "timing_cache", "dla_core",
         "gpu_fallback", "builder_optimization_level"}


@dataclass(frozen=True)
class EnginesSettings:
    precision: str = "auto"
    cache_dir: str = "/var/lib/fetal-edge/engines"
    models_dir: str | None = None  # installed bundles; None = the shipped edge/models/
    models: tuple[str, ...] = ()  # model names to build; empty = every installed bundle
    workspace_mb: int = 512
    timing_cache: str | None = None
    dla_core: int | None = None
    gpu_fallback: bool = True
    builder_optimization_level: int | None = None  # TensorRT >= 8.6: 0..5 (default 3)


@SECTIONS.register("engines")
def parse(d: Mapping[str, Any]) -> EnginesSettings:
    d = check_keys(d, "engines", _KEYS)
    models = d.get("models") or []
    if not (isinstance(models, list) and all(isinstance(m, str) and m for m in models)):
        raise ConfigError(f"engines.models = {models!r}: expected a list of model names, e.g. [plane-cls, head-seg]")
    s = EnginesSettings(
        precision=typed(d, "engines", "precision", str, "auto", choices=ENGINE_PRECISIONS),
        cache_dir=typed(d, "engines", "cache_dir", str, "/var/lib/fetal-edge/engines"),
        models_dir=typed(d, "engines", "models_dir", str, None),
        models=tuple(models),
        workspace_mb=typed(d, "engines", "workspace_mb", int, 512, lo=16, hi=1 << 16),
        timing_cache=typed(d, "engines", "timing_cache", str, None),
        dla_core=typed(d, "engines", "dla_core", int, None, lo=0, hi=1),
        gpu_fallback=typed(d, "engines", "gpu_fallback", bool, True),
        builder_optimization_level=typed(d, "engines", "builder_optimization_level", int, None, lo=0, hi=5),
    )
    if s.dla_core is not None and s.precision == "fp32":
        raise ConfigError("engines.dla_core conflicts with engines.precision = 'fp32': DLA runs FP16 or INT8 "
                          "only; use precision auto, fp16 or int8, or remove dla_core")
    if not s.cache_dir:
        raise ConfigError("engines.cache_dir must be a directory path, e.g. /var/lib/fetal-edge/engines")
    return s
