"""Model families, registered by name: what a recipe's `student.family` / `teacher.family` may say.

A family builds an untrained network at a width multiplier and, when its filters can start from SonoNet-16's
published weights, says how (`from_sononet`). Each network module registers its own families with
`@FAMILIES.register(name)`; `family(name)` imports the modules listed in FAMILY_MODULES on first use, so that
naming a family never needs an if-chain and research code can register more
(research/biometry/nets.py, research/planes/sononet_s.py, research/planes/planenet_s.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edge.errors import ConfigError
from edge.registry import Registry

FAMILY_MODULES = ["compress.nets.segnet", "compress.nets.sono_seg", "compress.nets.sono_lowrank"]  # they register


@dataclass(frozen=True)
class Family:
    name: str
    task: str                                  # "biometry" | "planes": which task's outputs it produces
    build: Callable[[float], Any]              # width_mult -> untrained torch.nn.Module
    summary: str                               # one line for model cards and --help
    fixed_width: bool = False                  # widths come from SonoNet-16: width_mult must be 1.0
    # (model, SonoNet16 npz path, frames (N,1,H,W) standardised) -> fills the model's filters in place
    from_sononet: Callable[[Any, Path, Any], None] | None = None

    def create(self, width_mult: float) -> Any:
        if not width_mult > 0:
            raise ConfigError(f"student.width_mult {width_mult} must be > 0")
        if self.fixed_width and width_mult != 1.0:
            raise ConfigError(f"family {self.name!r} has fixed widths (cut from SonoNet-16); width_mult must be 1.0, "
                              f"got {width_mult}")
        return self.build(width_mult)


FAMILIES: Registry[Family] = Registry("model family")


def _load() -> None:
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def family(name: str) -> Family:
    if name not in FAMILIES:
        _load()
    return FAMILIES.get(name)


def family_names(task: str | None = None) -> list[str]:
    _load()
    return [n for n in FAMILIES.names() if task is None or FAMILIES.get(n).task == task]


def register_family(fam: Family) -> Family:
    return FAMILIES.register(fam.name)(fam)
