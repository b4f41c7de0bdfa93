"""`preprocess:` section: sector detection / text blanking and the probe calibration (pixel spacing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError, InputError
from edge.spacing import check_mm_per_px

_KEYS = {"roi", "roi_every", "roi_threshold", "frame_check", "probe_preset", "probe_presets", "pixel_spacing_mm"}


@dataclass(frozen=True)
class PreprocessSettings:
    roi: bool = True                  # blank outside the sector (burnt-in text, UI) in all that leaves the device
    roi_every: int = 30               # re-detect the sector every N frames (and on a size change)
    roi_threshold: int = 12           # gray level above which a pixel can belong to the sector
    frame_check: bool = True          # skip blank / saturated / colour-Doppler frames for biometry
    probe_preset: str | None = None   # key into probe_presets: the probe + depth preset in use
    probe_presets: dict[str, float] = field(default_factory=dict)  # name -> mm per pixel (calibrated)
    pixel_spacing_mm: float | None = None  # fixed spacing for this device's video output, if calibrated


@SECTIONS.register("preprocess")
def parse(d: Mapping[str, Any]) -> PreprocessSettings:
    d = check_keys(d, "preprocess", _KEYS)
    presets_raw = d.get("probe_presets") or {}
    if not isinstance(presets_raw, Mapping):
        raise ConfigError(f"preprocess.probe_presets must map preset name -> mm per pixel, got "
                          f"{type(presets_raw).__name__}")
    presets: dict[str, float] = {}
    try:
        for name, mm in presets_raw.items():
            presets[str(name)] = check_mm_per_px(mm, f"preprocess.probe_presets.{name}")
        fixed = d.get("pixel_spacing_mm")
        fixed = check_mm_per_px(fixed, "preprocess.pixel_spacing_mm") if fixed is not None else None
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    preset = typed(d, "preprocess", "probe_preset", str, None)
    if preset is not None and preset not in presets:
        raise ConfigError(f"preprocess.probe_preset = {preset!r}: not a key of preprocess.probe_presets "
                          f"(valid: {sorted(presets) or 'none defined'})")
    if preset is not None and fixed is not None:
        raise ConfigError("preprocess.probe_preset and preprocess.pixel_spacing_mm conflict: give one spacing")
    return PreprocessSettings(
        roi=typed(d, "preprocess", "roi", bool, True),
        roi_every=typed(d, "preprocess", "roi_every", int, 30, lo=1, hi=100000),
        roi_threshold=typed(d, "preprocess", "roi_threshold", int, 12, lo=0, hi=254),
        frame_check=typed(d, "preprocess", "frame_check", bool, True),
        probe_preset=preset,
        probe_presets=presets,
        pixel_spacing_mm=fixed,
    )
