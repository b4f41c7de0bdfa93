"""From raw MQTT messages to stored rows: every message checked (receiver.validate), stored in one transaction
per batch (receiver.ingest), refused ones logged, results that cannot be stored yet held raw and tried again.
`Intake` is the part of the receiver without the network: tools (add-device, the dashboard's device
registration) use it to store held results with the same checks as live traffic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from sqlalchemy import select

from edge.sync.checks import PayloadError
from edge.sync.payload import MAX_MESSAGE_BYTES
from receiver.db import Database
from receiver.extract import clip, digest
from receiver.health import HEARTBEAT_S
from receiver.ingest import Batch
from receiver.models import Held
from receiver.validate import Hold, UnknownDevice, check_message

log = logging.getLogger("receiver")


@dataclass(frozen=True)
class ReceiverSettings:
    host: str = "127.0.0.1"
    port: int = 8883
    tls: bool = True
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    client_id: str = "fetal-receiver"
    topic_prefix: str = "fetal-edge/v1"
    share_group: str | None = None          # MQTT 5 shared subscription group of a scaled-out deployment
    known_versions: tuple[str, ...] | None = None    # None: every version this receiver can read
    max_bytes: int = MAX_MESSAGE_BYTES
    batch: int = 500
    batch_wait_s: float = 0.05
    accept_patient_ref: bool = False
    session_expiry_s: int = 7 * 24 * 3600
    heartbeat_s: float = HEARTBEAT_S
    keep_telemetry_days: float = 90.0       # telemetry history older than this is deleted (hourly)

    def topics(self) -> list[str]:
        share = f"$share/{self.share_group}/" if self.share_group else ""
        return [f"{share}{self.topic_prefix}/+/+/{kind}" for kind in ("results", "telemetry")]


@dataclass
class ReceiverStats:
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    telemetry: int = 0
    held: int = 0          # newly held (newer schema, unknown device)
    released: int = 0      # held earlier, stored now
    reasons: dict[str, int] = field(default_factory=dict)


class Incoming(NamedTuple):
    topic: bytes
    raw: bytes
    received_at: datetime | None = None
    held_id: int | None = None          # a held row being tried again


class Intake:
    def __init__(self, db: Database, settings: ReceiverSettings) -> None:
        self.db, self.s = db, settings
        self.stats = ReceiverStats()
        self.devices = db.devices()

    def check(self, topic: bytes, raw: bytes) -> tuple[str, dict[str, Any]]:
        """(kind, payload) for a valid message; PayloadError naming what is wrong otherwise."""
        return check_message(topic, raw, self.s.topic_prefix, self.s.max_bytes, self.s.accept_patient_ref,
                             self._registered, self.s.known_versions)

    def _registered(self, clinic: str, device: str) -> bool:
        if (clinic, device) not in self.devices:
            self.devices = self.db.devices()   # registered since start-up?
        return (clinic, device) in self.devices

    def _reject(self, batch: Batch, m: Incoming, at: datetime, exc: PayloadError) -> None:
        reason = clip(str(exc), 300)
        log.warning("rejected message on %r (%d bytes): %s", clip(m.topic.decode("utf-8", "replace"), 120),
                    len(m.raw), reason)
        batch.rejects.append({"received_at": at, "topic": clip(m.topic.decode("utf-8", "replace"), 200),
                              "reason": reason, "size": len(m.raw), "sha256": digest(m.raw)})
        key = reason.split(":")[0][:40]
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
        self.stats.rejected += 1

    def _hold(self, batch: Batch, m: Incoming, at: datetime, hold: Hold) -> None:
        if isinstance(hold, UnknownDevice) and m.held_id is None:
            self._reject(batch, m, at, hold)              # logged as before; the result itself is kept
        if m.held_id is not None or not hold.payload:
            return
        p = hold.payload
        text = m.raw.decode("utf-8")
        batch.held.append({"received_at": at, "topic": m.topic.decode("utf-8"), "kind": hold.kind,
                           "schema_version": clip(p.get("schema_version"), 16), "result_id": p["result_id"],
                           "clinic_id": p["clinic_id"], "device_id": p["device_id"], "sha256": digest(text),
                           "payload": text, "last_error": None})
        self.stats.held += 1
        log.info("held result %s from %s/%s: %s", p["result_id"], p["clinic_id"], p["device_id"], hold)

    def process(self, messages: Sequence[Incoming | tuple[bytes, bytes]]) -> None:
        """Validate and store one batch of (topic, payload[, received_at, held_id]) in one transaction."""
        now = datetime.now(timezone.utc)
        batch = Batch()
        for m in (Incoming(*m) for m in messages):
            at = m.received_at or now
            try:
                kind, payload = self.check(m.topic, m.raw)
            except Hold as hold:
                self._hold(batch, m, at, hold)
                continue
            except PayloadError as exc:
                if m.held_id is None:
                    self._reject(batch, m, at, exc)
                else:                                   # held, and still refused: kept, with the reason
                    batch.held_errors[m.held_id] = clip(str(exc), 300)
                    log.error("held message %d is still refused: %s", m.held_id, clip(str(exc), 300))
                continue
            if kind == "results":
                batch.results.append((payload, at))
                if m.held_id is not None:
                    batch.released.append(m.held_id)
            else:
                batch.telemetry.append((payload, at))
        out = self.db.write(batch)
        for rid in out.conflicts:
            log.error("result_id %s replayed with different content: rejected, the stored record is kept", rid)
        self.stats.stored += len(out.inserted)
        self.stats.duplicates += len(out.duplicates)
        self.stats.conflicts += len(out.conflicts)
        self.stats.rejected += len(out.conflicts)
        self.stats.released += len(batch.released)
        self.stats.telemetry += len(batch.telemetry)

    def replay_held(self, clinic: str | None = None, device: str | None = None, chunk: int = 500) -> int:
        """Try every held result again (after an upgrade or a registration); how many were tried."""
        last, tried = 0, 0
        while True:
            q = select(Held.id, Held.topic, Held.payload, Held.received_at).where(Held.id > last)
            if clinic is not None:
                q = q.where(Held.clinic_id == clinic, Held.device_id == device)
            with self.db.session() as s:
                rows = s.execute(q.order_by(Held.id).limit(chunk)).tuples().all()
            if not rows:
                return tried
            self.process([Incoming(t.encode(), p.encode(), at, i) for i, t, p, at in rows])
            last, tried = rows[-1][0], tried + len(rows)
