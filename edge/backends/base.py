"""The one interface every inference backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from edge.manifest import Manifest


class Backend(ABC):
    """Runs one model. Constructed from a verified manifest; `run` maps the input tensor to named outputs."""

    name: str = "?"

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    @abstractmethod
    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """x: float32 array of the manifest's input shape. Returns {output_name: array}."""

    def warmup(self, n: int = 3) -> None:
        x = np.zeros(self.manifest.input_shape, dtype=np.float32)
        for _ in range(n):
            self.run(x)

    def describe(self) -> str:
        return f"{self.name}"
