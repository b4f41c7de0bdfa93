"""Every message the receiver gets is checked here before anything is stored: topic shape, size, UTF-8,
JSON, the payload schema (edge.sync.payload), payload ids equal to the topic's, device registered."""

from __future__ import annotations

from typing import Any, Callable

from edge.sync.checks import PayloadError
from edge.sync.payload import decode, validate_result, validate_telemetry
from receiver.db import clean_text

KINDS = ("results", "telemetry")


class UnknownDevice(PayloadError):
    """A schema-valid message from a device not registered (yet): rejected, but its result is held."""

    def __init__(self, message: str, payload: dict[str, Any]) -> None:
        super().__init__(message)
        self.payload = payload


def check_message(topic: bytes, raw: bytes, prefix: str, max_bytes: int, accept_patient_ref: bool,
                  registered: Callable[[str, str], bool]) -> tuple[str, dict[str, Any]]:
    """(kind, payload) for a valid message on <prefix>/<clinic>/<device>/<kind>; PayloadError otherwise."""
    try:
        parts = topic.decode("utf-8").split("/")
    except UnicodeDecodeError:
        raise PayloadError("topic is not valid UTF-8") from None
    levels = prefix.split("/")
    if len(parts) != len(levels) + 3 or parts[:len(levels)] != levels or parts[-1] not in KINDS:
        raise PayloadError(f"topic {clean_text(topic.decode('utf-8', 'replace'), 120)!r} is not "
                           f"{prefix}/<clinic>/<device>/results|telemetry")
    clinic, device, kind = parts[-3:]
    payload = decode(raw, max_bytes)
    if kind == "results":
        validate_result(payload, allow_patient_ref=accept_patient_ref)
    else:
        validate_telemetry(payload)
    if (payload["clinic_id"], payload["device_id"]) != (clinic, device):
        raise PayloadError(f"payload clinic/device {payload['clinic_id']}/{payload['device_id']} does not "
                           f"match topic {clinic}/{device}")
    if not registered(clinic, device):
        raise UnknownDevice(f"unknown device {clinic}/{device}; its results are held until it is registered "
                            f"with `fetal-receiver add-device {clinic} {device}`",
                            payload if kind == "results" else {})
    return kind, payload
