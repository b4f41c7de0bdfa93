"""Temporal smoothing of plane predictions on a stream, with hysteresis.

Probabilities are smoothed exponentially (s <- (1 - a) s + a p). A plane is *reported* only after it has
been the smoothed winner, above the threshold, for `enter_frames` consecutive frames, and it is *dropped*
only after it has not been the winner for `exit_frames` consecutive frames. Frames the frame check refused
(blank, Doppler, ...) count as frames without a plane. Until a plane is stable the answer is
`NO_PLANE` ("no usable plane").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.errors import ConfigError
from edge.planes.classifier import PlanePrediction
from edge.planes.taxonomy import PLANES

NO_PLANE = "no usable plane"


@dataclass(frozen=True)
class StablePlane:
    plane: str                  # one of PLANES, or NO_PLANE
    confidence: float           # smoothed probability of the reported plane (0.0 for NO_PLANE)
    stable_frames: int          # consecutive frames the reported plane has been the winner
    brain_plane: str | None = None


class PlaneSmoother:
    """update(PlanePrediction) -> StablePlane, one call per frame."""

    def __init__(self, alpha: float = 0.5, enter_frames: int = 5, exit_frames: int = 5,
                 threshold: float = 0.5) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ConfigError(f"planes smoothing alpha {alpha} must be in (0, 1]")
        if enter_frames < 1 or exit_frames < 1:
            raise ConfigError(f"enter_frames {enter_frames} and exit_frames {exit_frames} must be >= 1")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"planes smoothing threshold {threshold} must be in [0, 1]")
        self.alpha, self.enter, self.exit, self.threshold = alpha, enter_frames, exit_frames, threshold
        self.reset()

    def reset(self) -> None:
        self.smoothed: np.ndarray | None = None
        self.reported: str | None = None
        self.candidate: str | None = None
        self.candidate_run = 0
        self.lost_run = 0
        self.stable_run = 0
        self.brain_plane: str | None = None

    def _winner(self, pred: PlanePrediction) -> str | None:
        if not pred.probs:  # refused frame: no plane evidence; let the smoothed state fade
            if self.smoothed is not None:
                self.smoothed = (1.0 - self.alpha) * self.smoothed
            return None
        p = np.array([pred.probs.get(name, 0.0) for name in PLANES])
        self.smoothed = p if self.smoothed is None else (1.0 - self.alpha) * self.smoothed + self.alpha * p
        k = int(self.smoothed.argmax())
        return PLANES[k] if self.smoothed[k] >= self.threshold else None

    def update(self, pred: PlanePrediction) -> StablePlane:
        winner = self._winner(pred)
        if winner == self.candidate:
            self.candidate_run += 1
        else:
            self.candidate, self.candidate_run = winner, 1
        if winner is not None and winner == self.reported:
            self.lost_run = 0
            self.stable_run += 1
            if pred.brain_plane:
                self.brain_plane = pred.brain_plane
        elif self.reported is not None:
            self.lost_run += 1
            if self.lost_run >= self.exit:
                self.reported, self.stable_run, self.brain_plane = None, 0, None
        if self.reported is None and self.candidate is not None and self.candidate_run >= self.enter:
            self.reported, self.lost_run, self.stable_run = self.candidate, 0, self.candidate_run
            self.brain_plane = pred.brain_plane
        if self.reported is None:
            return StablePlane(NO_PLANE, 0.0, 0)
        conf = float(self.smoothed[PLANES.index(self.reported)]) if self.smoothed is not None else 0.0
        return StablePlane(self.reported, conf, self.stable_run, self.brain_plane)
