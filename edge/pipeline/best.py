"""Best frames per plane: the top-k by smoothed confidence, kept with what was measured on them."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Candidate:
    score: float
    index: int
    image: np.ndarray
    mm_per_px: float | None
    measured: dict[str, Any] | None = None   # filled by biometry once (cached)
    order: int = field(default=0)

    def __lt__(self, other: "Candidate") -> bool:
        return (self.score, -self.order) < (other.score, -other.order)


class BestFrames:
    """Per plane, a min-heap of at most k candidates: a better frame replaces the worst kept one."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._heaps: dict[str, list[Candidate]] = {}
        self._counter = itertools.count()

    def offer(self, plane: str, score: float, index: int, image: np.ndarray, mm_per_px: float | None) -> bool:
        """Keep the frame if it is among the k best of its plane so far; True if kept."""
        heap = self._heaps.setdefault(plane, [])
        if len(heap) >= self.k and score <= heap[0].score:
            return False
        cand = Candidate(score, index, image.copy(), mm_per_px, order=next(self._counter))
        if len(heap) < self.k:
            heapq.heappush(heap, cand)
        else:
            heapq.heapreplace(heap, cand)
        return True

    def best(self, plane: str) -> list[Candidate]:
        """Kept candidates of a plane, best first."""
        return sorted(self._heaps.get(plane, []), reverse=True)

    def unmeasured(self, plane: str) -> list[Candidate]:
        return [c for c in self.best(plane) if c.measured is None]

    def planes(self) -> list[str]:
        return sorted(self._heaps)
