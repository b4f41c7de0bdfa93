"""Pixel spacing (mm per pixel): where it comes from decides whether the device may report millimetres.

Sources, most trusted first: given by the user for this exam (`--pixel-size`), carried by the frame
(DICOM ultrasound regions, or a source that knows it), the probe/depth preset of the device config.
With none of them the spacing is unknown and `require_mm` refuses to turn pixels into millimetres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.errors import ConfigError, InputError

log = logging.getLogger(__name__)
MIN_MM, MAX_MM = 0.01, 2.0   # plausible mm per pixel of a clinical ultrasound frame
SOURCES = ("user", "frame", "preset", "unknown")


@dataclass(frozen=True)
class Spacing:
    mm_per_px: float | None
    source: str             # one of SOURCES

    @property
    def known(self) -> bool:
        return self.mm_per_px is not None


def check_mm_per_px(value: float, where: str) -> float:
    """Refuse spacings that no ultrasound frame has, naming where the value came from."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: pixel spacing {value!r} is not a number (mm per pixel)")
    if not MIN_MM <= float(value) <= MAX_MM:
        raise InputError(f"{where}: pixel spacing {value} mm/px is outside ({MIN_MM}, {MAX_MM}] mm per pixel")
    return float(value)


class SpacingResolver:
    """Decides the spacing of each frame once, from the user value, the frame, or the probe preset."""

    def __init__(self, user_mm: float | None = None, presets: dict[str, float] | None = None,
                 preset: str | None = None) -> None:
        presets = presets or {}
        self.user = check_mm_per_px(user_mm, "--pixel-size") if user_mm is not None else None
        if preset is not None and preset not in presets:
            raise ConfigError(f"preprocess.probe_preset = {preset!r} is not among preprocess.probe_presets "
                              f"{sorted(presets)}")
        self.preset = check_mm_per_px(presets[preset], f"preprocess.probe_presets.{preset}") if preset else None
        self._warned = False

    def resolve(self, frame_mm: float | None) -> Spacing:
        if frame_mm is not None:
            try:
                frame_mm = check_mm_per_px(frame_mm, "frame spacing")
            except InputError as exc:
                log.warning("%s: ignored", exc)
                frame_mm = None
        if self.user is not None:
            if frame_mm is not None and abs(frame_mm - self.user) > 0.05 * self.user and not self._warned:
                log.warning("user pixel size %.4f mm differs from the frame's %.4f mm; using the user's",
                            self.user, frame_mm)
                self._warned = True
            return Spacing(self.user, "user")
        if frame_mm is not None:
            return Spacing(frame_mm, "frame")
        if self.preset is not None:
            return Spacing(self.preset, "preset")
        return Spacing(None, "unknown")


def require_mm(spacing: Spacing) -> float:
    """mm per pixel, or InputError saying how to give it: never a length from an unknown spacing."""
    if spacing.mm_per_px is None:
        raise InputError("pixel spacing unknown: no DICOM spacing, no probe preset in the config "
                         "(preprocess.probe_preset) and no --pixel-size; refusing to report millimetres")
    return spacing.mm_per_px
