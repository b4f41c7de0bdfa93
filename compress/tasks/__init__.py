"""Task registry: `@TASKS.register("planes")` on an adapter factory `(data_dir: Path, options: dict) -> TaskAdapter`.

Adapters live in this package and are imported on first use, so that `fetal-compress --help` does not
import every task's networks and data readers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from compress.tasks.base import Calibration, PredictFn, TaskAdapter, TaskInfo
from edge.registry import Registry

TaskFactory = Callable[[Path, dict[str, Any]], TaskAdapter]
TASKS: Registry[TaskFactory] = Registry("compression task")
_MODULES = {"planes": "compress.tasks.planes", "biometry": "compress.tasks.biometry", "toy": "compress.tasks.toy"}
TASK_NAMES = tuple(sorted(_MODULES))


def create_task(name: str, data_dir: Path, options: dict[str, Any] | None = None) -> TaskAdapter:
    module = _MODULES.get(name)
    if module is not None and name not in TASKS:
        importlib.import_module(module)
    return TASKS.get(name)(Path(data_dir), dict(options or {}))


__all__ = ["TASKS", "TASK_NAMES", "Calibration", "PredictFn", "TaskAdapter", "TaskInfo", "create_task"]
