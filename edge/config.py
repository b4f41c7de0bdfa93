"""Firmware config: one YAML file per device class, one section per stage.

Each stage owns its section: a module `edge/settings/<section>.py` registers a parser with
`@SECTIONS.register("<section>")` that turns
the raw mapping into a frozen settings dataclass, raising ConfigError naming the key and what is valid.
`load_config(path)` parses every section present and rejects unknown sections. Nothing deep in the code
reads argv or environment variables: settings flow from here.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from edge.errors import ConfigError
from edge.registry import Registry

log = logging.getLogger(__name__)

SectionParser = Callable[[Mapping[str, Any]], Any]
SECTIONS: Registry[SectionParser] = Registry("config section")



def check_keys(d: Any, section: str, allowed: set[str], required: set[str] = frozenset()) -> Mapping[str, Any]:
    """Refuse non-mappings, unknown keys and missing required keys, naming them."""
    if d is None:
        d = {}
    if not isinstance(d, Mapping):
        raise ConfigError(f"config section {section!r} must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ConfigError(f"config section {section!r}: unknown key(s) {unknown}; valid keys: {sorted(allowed)}")
    missing = sorted(required - set(d))
    if missing:
        raise ConfigError(f"config section {section!r}: missing required key(s) {missing}")
    return d


def typed(d: Mapping[str, Any], section: str, key: str, kind: type | tuple[type, ...], default: Any = None,
          choices: tuple[Any, ...] | None = None, lo: float | None = None, hi: float | None = None) -> Any:
    """Read one value with type, choice and range checks; bool is never accepted as a number."""
    value = d.get(key, default)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{section}.{key} = {value!r}: expected {'/'.join(k.__name__ for k in kinds)}")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds):
        raise ConfigError(f"{section}.{key} = {value!r}: expected {'/'.join(k.__name__ for k in kinds)}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{section}.{key} = {value!r}: valid values are {list(choices)}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"{section}.{key} = {value!r}: must be within [{lo}, {hi}]")
    return value


@dataclass(frozen=True)
class Config:
    path: Path | None
    sections: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        if name not in self.sections:
            return SECTIONS.get(name)({})  # defaults
        return self.sections[name]

    def describe(self) -> dict[str, Any]:
        """The settings in force, for logging at start-up."""
        def plain(v: Any) -> Any:
            if is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in fields(v)}
            return v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
        return {k: plain(v) for k, v in self.sections.items()}


def _import_section_modules() -> None:
    """Every module in edge/settings/ registers the parser of the section it is named after."""
    import pkgutil

    import edge.settings

    for m in pkgutil.iter_modules(edge.settings.__path__):
        importlib.import_module(f"edge.settings.{m.name}")


def parse_config(raw: Any, path: Path | None = None) -> Config:
    _import_section_modules()
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'}: top level must be a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(k for k in raw if k not in SECTIONS)
    if unknown:
        raise ConfigError(f"{path or 'config'}: unknown section(s) {unknown}; valid sections: {SECTIONS.names()}")
    sections = {name: SECTIONS.get(name)(raw.get(name) or {}) for name in SECTIONS.names()}
    return Config(path, sections)


def read_yaml(path: str | Path, what: str, hint: str) -> Any:
    """Parse a YAML file; ConfigError naming the file when it is missing or not valid YAML."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} not found; {hint}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    raw = read_yaml(path, "config file", "see firmware_configs/ for one per device class")
    cfg = parse_config(raw, path)
    log.info("config %s in force: %s", path, cfg.describe())
    return cfg
