"""Every message the receiver gets is checked here before anything is stored: topic shape, size, UTF-8,
JSON, the payload schema (edge.sync.payload), payload ids equal to the topic's, device registered.

Schema versions: a result whose schema_version this receiver knows is validated by that version's rules; one
of a NEWER version (same major with a higher minor, or a higher major) is held raw (`NewerSchema`) after the
few checks every version shares (format family, result_id, ids equal to the topic's), and stored when an
upgraded receiver starts. Anything else is rejected with the reason.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from edge.sync.checks import ID_RE, UUID_RE, PayloadError
from edge.sync.payload import (KNOWN_SCHEMA_VERSIONS, NewerSchemaError, decode, validate_result,
                               validate_telemetry)
from receiver.extract import clip

KINDS = ("results", "telemetry")
# The result schema versions this receiver can extract typed columns from (receiver.extract); the payload
# module must validate them too (a version only one of them knows is "newer": held, not lost).
RECEIVER_VERSIONS = ("1.0", "1.1")
_FORMAT = re.compile(r"^fetal-edge-result/\d{1,4}$")


def known_versions() -> tuple[str, ...]:
    return tuple(v for v in RECEIVER_VERSIONS if v in KNOWN_SCHEMA_VERSIONS)


class Hold(PayloadError):
    """A result kept raw and acknowledged, to be stored later: `kind` names what it waits for."""

    kind = ""

    def __init__(self, message: str, payload: dict[str, Any]) -> None:
        super().__init__(message)
        self.payload = payload


class UnknownDevice(Hold):
    """A schema-valid message from a device not registered (yet): rejected (logged), its result held."""

    kind = "unknown_device"


class NewerSchema(Hold):
    """A result of a schema version newer than this receiver knows: held, stored once it is upgraded."""

    kind = "newer_schema"


def _newer(payload: dict[str, Any], clinic: str, device: str, accept_patient_ref: bool) -> NewerSchema:
    fmt, rid = payload.get("format"), payload.get("result_id")
    if not (isinstance(fmt, str) and _FORMAT.match(fmt)):
        raise PayloadError(f"format {clip(fmt, 40)!r}: expected fetal-edge-result/<major>")
    if not (isinstance(rid, str) and UUID_RE.match(rid)):
        raise PayloadError(f"result_id {clip(rid, 40)!r}: expected a uuid")
    if (payload.get("clinic_id"), payload.get("device_id")) != (clinic, device):
        raise PayloadError(f"payload clinic/device {clip(payload.get('clinic_id'), 64)}/"
                           f"{clip(payload.get('device_id'), 64)} does not match topic {clinic}/{device}")
    if "patient_ref" in payload and not accept_patient_ref:
        raise PayloadError("patient_ref: this receiver does not accept patient references (--accept-patient-ref)")
    return NewerSchema(f"result {rid} has schema_version {payload['schema_version']}, newer than this receiver "
                       f"knows; held until the receiver is upgraded", payload)


def check_message(topic: bytes, raw: bytes, prefix: str, max_bytes: int, accept_patient_ref: bool,
                  registered: Callable[[str, str], bool],
                  known: tuple[str, ...] | None = None) -> tuple[str, dict[str, Any]]:
    """(kind, payload) for a valid message on <prefix>/<clinic>/<device>/<kind>; PayloadError otherwise
    (a Hold for a result to keep raw)."""
    try:
        parts = topic.decode("utf-8").split("/")
    except UnicodeDecodeError:
        raise PayloadError("topic is not valid UTF-8") from None
    levels = prefix.split("/")
    if len(parts) != len(levels) + 3 or parts[:len(levels)] != levels or parts[-1] not in KINDS:
        raise PayloadError(f"topic {clip(topic.decode('utf-8', 'replace'), 120)!r} is not "
                           f"{prefix}/<clinic>/<device>/results|telemetry")
    clinic, device, kind = parts[-3:]
    if not (ID_RE.match(clinic) and ID_RE.match(device)):
        raise PayloadError(f"topic {clip(topic.decode('utf-8', 'replace'), 120)!r}: clinic/device are not ids")
    payload = decode(raw, max_bytes)
    if kind == "results":
        try:
            validate_result(payload, allow_patient_ref=accept_patient_ref,
                            known_versions=known_versions() if known is None else known)
        except NewerSchemaError:
            raise _newer(payload, clinic, device, accept_patient_ref) from None
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
