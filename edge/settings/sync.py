"""`sync:` section: where and how the device publishes its results (see docs/sync.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from edge.config import SECTIONS, check_keys, typed
from edge.errors import ConfigError
from edge.sync.checks import ID_RE

_KEYS = {"host", "port", "tls", "ca", "cert", "key", "clinic_id", "device_id", "topic_prefix", "keepalive_s",
         "backoff_min_s", "backoff_max_s", "poll_s", "max_inflight", "batch", "ack_timeout_s",
         "include_patient_ref", "progress_interval_s"}


@dataclass(frozen=True)
class SyncSettings:
    host: str = "127.0.0.1"
    port: int = 8883
    tls: bool = True
    ca: Path | None = None          # project CA (scripts/make_certs.sh)
    cert: Path | None = None        # this device's client certificate
    key: Path | None = None
    clinic_id: str = "clinic-0"
    device_id: str = "device-0"
    topic_prefix: str = "fetal-edge/v1"
    keepalive_s: int = 30
    backoff_min_s: float = 1.0      # reconnect delay doubles from here ...
    backoff_max_s: float = 60.0     # ... up to here (with jitter)
    poll_s: float = 1.0             # how often an idle worker looks at the outbox
    max_inflight: int = 100         # unacknowledged QoS 1 messages at once
    batch: int = 500                # outbox rows read per query
    ack_timeout_s: float = 60.0     # republish a message not acknowledged within this time
    include_patient_ref: bool = False  # send ExamResult.patient_ref; off: nothing identifying leaves
    progress_interval_s: float = 30.0  # progress logged and heartbeat file rewritten (fetal-edge status reads it)

    def topic(self, kind: str) -> str:
        return f"{self.topic_prefix}/{self.clinic_id}/{self.device_id}/{kind}"


@SECTIONS.register("sync")
def parse(d: Mapping[str, Any]) -> SyncSettings:
    d = check_keys(d, "sync", _KEYS)
    s = "sync"
    out: dict[str, Any] = {
        "host": typed(d, s, "host", str, "127.0.0.1"),
        "port": typed(d, s, "port", int, 8883, lo=1, hi=65535),
        "tls": typed(d, s, "tls", bool, True),
        "clinic_id": typed(d, s, "clinic_id", str, "clinic-0"),
        "device_id": typed(d, s, "device_id", str, "device-0"),
        "topic_prefix": typed(d, s, "topic_prefix", str, "fetal-edge/v1"),
        "keepalive_s": typed(d, s, "keepalive_s", int, 30, lo=5, hi=3600),
        "backoff_min_s": typed(d, s, "backoff_min_s", float, 1.0, lo=0.01, hi=3600),
        "backoff_max_s": typed(d, s, "backoff_max_s", float, 60.0, lo=0.01, hi=86400),
        "poll_s": typed(d, s, "poll_s", float, 1.0, lo=0.01, hi=3600),
        "max_inflight": typed(d, s, "max_inflight", int, 100, lo=1, hi=65535),
        "batch": typed(d, s, "batch", int, 500, lo=1, hi=100000),
        "ack_timeout_s": typed(d, s, "ack_timeout_s", float, 60.0, lo=1, hi=86400),
        "include_patient_ref": typed(d, s, "include_patient_ref", bool, False),
        "progress_interval_s": typed(d, s, "progress_interval_s", float, 30.0, lo=0.1, hi=86400),
    }
    for key in ("ca", "cert", "key"):
        value = typed(d, s, key, str)
        out[key] = Path(value) if value else None
    for key in ("clinic_id", "device_id"):
        if not ID_RE.match(out[key]):
            raise ConfigError(f"sync.{key} = {out[key]!r}: use 1-64 of A-Z a-z 0-9 _ . - (no / + #)")
    prefix = out["topic_prefix"]
    if not prefix or any(ch in prefix for ch in "+#") or prefix.startswith("/") or prefix.endswith("/"):
        raise ConfigError(f"sync.topic_prefix = {prefix!r}: no wildcards (+ #) and no leading/trailing '/'")
    if out["backoff_min_s"] > out["backoff_max_s"]:
        raise ConfigError(f"sync.backoff_min_s = {out['backoff_min_s']} conflicts with sync.backoff_max_s = "
                          f"{out['backoff_max_s']}: the minimum must not exceed the maximum")
    if out["tls"] and (out["cert"] is None) != (out["key"] is None):
        raise ConfigError("sync.cert and sync.key must be given together (the device's client certificate)")
    return SyncSettings(**out)
