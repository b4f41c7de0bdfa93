"""The pipeline's work directory: one file per stage artifact plus `state.json` with every stage's outcome.

Stages read their input from here and write their output here, so each stage can also run alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ConfigError


@dataclass
class StageOutcome:
    """What one stage did, and whether it stayed within its accuracy budget."""

    stage: str
    metric: str
    reference_name: str  # what it was compared against ("teacher", "train", ...)
    reference: float
    value: float
    worse_by: float  # in metric units, positive = worse
    budget: float
    metrics: dict[str, float] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)  # params, macs, onnx_bytes, latency
    notes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.worse_by <= self.budget + 1e-9

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


class WorkDir:
    ARTIFACTS = {"teacher": "teacher.pt", "train": "student.pt", "prune": "pruned.pt",
                 "export": "model_fp32.onnx", "quantize": "model_int8.onnx"}

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_path = self.root / "state.json"

    def path(self, stage: str) -> Path:
        return self.root / self.ARTIFACTS[stage]

    def require(self, stage: str, needed_by: str) -> Path:
        p = self.path(stage)
        if not p.is_file():
            raise ConfigError(f"stage {needed_by!r} needs {p}, written by stage {stage!r}; run "
                              f"`fetal-compress {stage}` with the same config first (or the whole pipeline)")
        return p

    def state(self) -> dict[str, Any]:
        if not self.state_path.is_file():
            return {"outcomes": {}, "values": {}}
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_path)

    def record(self, outcome: StageOutcome) -> None:
        state = self.state()
        state["outcomes"][outcome.stage] = outcome.to_dict()
        self._write(state)

    def invalidate(self, stages: tuple[str, ...]) -> None:
        """Forget the outcomes of `stages` (a stage being rerun and every stage after it), so that a report
        never mixes this run's numbers with an older run's."""
        state = self.state()
        for stage in stages:
            state["outcomes"].pop(stage, None)
        self._write(state)

    def remember(self, key: str, value: Any) -> None:
        state = self.state()
        state["values"][key] = value
        self._write(state)

    def recall(self, key: str) -> Any:
        return self.state()["values"].get(key)

    def outcome(self, stage: str) -> dict[str, Any] | None:
        return self.state()["outcomes"].get(stage)
