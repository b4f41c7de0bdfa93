"""Source options: typed, checked once when a source opens, unknown names refused."""

from __future__ import annotations

from typing import Any

from edge.errors import InputError


def take_options(uri: str, given: dict[str, Any], spec: dict[str, tuple[type, Any]]) -> dict[str, Any]:
    """Coerce query-string / keyword options to the types in `spec` ({name: (type, default)})."""
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise InputError(f"source {uri!r}: unknown option(s) {unknown}; valid options: {sorted(spec)}")
    out: dict[str, Any] = {}
    for name, (kind, default) in spec.items():
        value = given.get(name, default)
        if value is None:
            out[name] = None
        elif kind is bool:
            out[name] = _to_bool(uri, name, value)
        else:
            try:
                out[name] = kind(value)
            except (TypeError, ValueError):
                raise InputError(f"source {uri!r}: option {name}={value!r} is not a valid {kind.__name__}") from None
            if kind in (int, float) and out[name] < 0:
                raise InputError(f"source {uri!r}: option {name}={value!r} must be >= 0")
    return out


def _to_bool(uri: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise InputError(f"source {uri!r}: option {name}={value!r} must be true/false")
