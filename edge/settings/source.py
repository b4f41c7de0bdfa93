"""`source:` section: where frames come from (a URI, see edge.sources) and how long to wait for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError

_KEYS = {"uri", "options", "read_timeout_s", "stall_timeout_s"}


@dataclass(frozen=True)
class SourceSettings:
    uri: str = "synthetic://sweep"
    options: dict[str, Any] = field(default_factory=dict)  # passed to the source (e.g. open_timeout, width)
    read_timeout_s: float = 1.0     # one read waits at most this long
    stall_timeout_s: float = 10.0   # no frame for this long: the exam ends as a partial result


@SECTIONS.register("source")
def parse(d: Mapping[str, Any]) -> SourceSettings:
    d = check_keys(d, "source", _KEYS)
    options = d.get("options") or {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"source.options must be a mapping of option: value, got {type(options).__name__}")
    s = SourceSettings(
        uri=typed(d, "source", "uri", str, "synthetic://sweep"),
        options=dict(options),
        read_timeout_s=typed(d, "source", "read_timeout_s", float, 1.0, lo=0.01, hi=60.0),
        stall_timeout_s=typed(d, "source", "stall_timeout_s", float, 10.0, lo=0.1, hi=3600.0),
    )
    if s.stall_timeout_s < s.read_timeout_s:
        raise ConfigError(f"source.stall_timeout_s = {s.stall_timeout_s} conflicts with source.read_timeout_s = "
                          f"{s.read_timeout_s}: a stall must last at least one read")
    return s
