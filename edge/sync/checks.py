"""Small typed checks the payload schema is built from. Each names the field path and what is valid.

Shared by the device (before sending) and the receiver (before storing): one schema, one code path.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Mapping

from edge.errors import SyncError

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")          # also a safe MQTT topic level
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SHA256_RE = re.compile(r"^[0-9a-f]{8,64}$")  # full sha256, or a prefix of at least 8
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


class PayloadError(SyncError):
    """A sync message does not follow the payload schema (the receiver rejects and logs it)."""


def fail(path: str, what: str, value: Any) -> PayloadError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return PayloadError(f"{path}: {what}, got {shown}")


def mapping(value: Any, path: str, required: set[str], optional: set[str] = frozenset()) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise fail(path, "expected an object", type(value).__name__)
    extra = value.keys() - required           # valid (the common case): two set operations, no sorting
    if (not extra or extra <= optional) and len(value) - len(extra) == len(required):
        return value
    unknown = sorted(str(k) for k in set(value) - required - optional)
    if unknown:
        raise fail(path, f"unknown field(s) {unknown[:5]}; valid: {sorted(required | optional)}", unknown[0])
    missing = sorted(required - set(value))
    if missing:
        raise fail(path, f"missing required field(s) {missing}", None)
    return value


def string(value: Any, path: str, max_len: int = 200, pattern: re.Pattern[str] | None = None,
           choices: tuple[str, ...] | None = None, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise fail(path, "expected a string", value)
    if len(value) > max_len:
        raise fail(path, f"longer than {max_len} characters ({len(value)})", value)
    if choices is not None and value not in choices:
        raise fail(path, f"valid values are {list(choices)}", value)
    if pattern is not None and not pattern.match(value):
        raise fail(path, f"does not match {pattern.pattern}", value)
    return value


def number(value: Any, path: str, lo: float, hi: float, nullable: bool = False,
           integer: bool = False) -> float | None:
    if value is None and nullable:
        return None
    kind = type(value)    # a plain int/float within range (the common case); bool, NaN, inf, subclasses below
    if (kind is int or (kind is float and not integer)) and lo <= value <= hi:
        return value
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise fail(path, "expected an integer" if integer else "expected a number", value)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise fail(path, f"must be within [{lo}, {hi}]", value)
    return value


def timestamp(value: Any, path: str, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    string(value, path, max_len=40, pattern=TIME_RE)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(path, "not a valid ISO 8601 time", value) from None
    return value


def array(value: Any, path: str, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        raise fail(path, "expected an array", type(value).__name__)
    if len(value) > max_items:
        raise fail(path, f"more than {max_items} items", len(value))
    return value


def model_ref(value: Any, path: str) -> None:
    mapping(value, path, {"name", "version", "sha256"})
    string(value["name"], f"{path}.name", 64, ID_RE)
    string(value["version"], f"{path}.version", 32)
    string(value["sha256"], f"{path}.sha256", 64, SHA256_RE)
