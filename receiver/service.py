"""The receiver's MQTT side: subscribe, validate every message, store in batches, acknowledge after commit.

Messages are acknowledged (manual PUBACK) only after the batch holding them is committed, so a receiver
crash means redelivery, never loss; rejected messages are logged (table `rejected`) and acknowledged so a
hostile publisher cannot wedge the queue. The session is persistent (clean_start=False) so messages
published while the receiver is down wait at the broker.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from edge.sync.checks import PayloadError
from edge.sync.payload import MAX_MESSAGE_BYTES
from edge.sync.transport import explain_connect_error, explain_refusal, make_client
from receiver.db import Database, canonical, clean_text, db_errors
from receiver.validate import UnknownDevice, check_message

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
    max_bytes: int = MAX_MESSAGE_BYTES
    batch: int = 500
    batch_wait_s: float = 0.05
    accept_patient_ref: bool = False
    session_expiry_s: int = 7 * 24 * 3600


@dataclass
class ReceiverStats:
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    telemetry: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Receiver:
    def __init__(self, db: Database, settings: ReceiverSettings) -> None:
        self.db, self.s = db, settings
        self.stats = ReceiverStats()
        self.devices = db.devices()
        self.connected = threading.Event()
        self._queue: list[tuple[int, int, bytes, bytes]] = []
        self._first_at = 0.0
        self._client: mqtt.Client | None = None
        self._next_attempt = 0.0

    def check(self, topic: bytes, raw: bytes) -> tuple[str, dict[str, Any]]:
        """(kind, payload) for a valid message; PayloadError naming what is wrong otherwise."""
        return check_message(topic, raw, self.s.topic_prefix, self.s.max_bytes, self.s.accept_patient_ref,
                             self._registered)

    def _registered(self, clinic: str, device: str) -> bool:
        if (clinic, device) not in self.devices:
            self.devices = self.db.devices()   # registered since start-up?
        return (clinic, device) in self.devices

    def process(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Validate and store one batch of (topic, payload) in one transaction."""
        results, telemetry, rejects = [], [], []
        for topic, raw in messages:
            try:
                kind, payload = self.check(topic, raw)
            except PayloadError as exc:
                reason = clean_text(str(exc))
                log.warning("rejected message on %r (%d bytes): %s", clean_text(topic.decode("utf-8", "replace"), 120),
                            len(raw), reason)
                held = canonical(exc.payload) if isinstance(exc, UnknownDevice) and exc.payload else None
                rejects.append((topic.decode("utf-8", "replace"), reason, len(raw), hashlib.sha256(raw).hexdigest(),
                                held))
                key = reason.split(":")[0][:40]
                self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
                continue
            (results if kind == "results" else telemetry).append(payload)
        n_rejects = len(rejects)
        out = self.db.store(results, rejects, telemetry, datetime.now(timezone.utc))
        for rid in out.conflicts:
            log.error("result_id %s replayed with different content: rejected, the stored record is kept", rid)
        self.stats.stored += len(out.inserted)
        self.stats.duplicates += len(out.duplicates)
        self.stats.conflicts += len(out.conflicts)
        self.stats.rejected += n_rejects + len(out.conflicts)
        self.stats.telemetry += len(telemetry)

    # -- MQTT --
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.error(explain_refusal(rc, self.s.host, self.s.port))
            return
        client.subscribe([(f"{self.s.topic_prefix}/+/+/results", 1), (f"{self.s.topic_prefix}/+/+/telemetry", 1)])
        log.info("receiver connected to %s:%d", self.s.host, self.s.port)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        failed = [str(rc) for rc in rcs if rc.is_failure]
        if failed:
            log.error("receiver subscription refused by the broker: %s (check the ACL grants read)", failed)
            return
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if client is self._client:
            log.warning("receiver lost the broker (%s); reconnecting", rc)
            self._drop()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not self._queue:
            self._first_at = time.monotonic()
        self._queue.append((msg.mid, msg.qos, bytes(msg._topic), bytes(msg.payload)))

    def _drop(self) -> None:
        client, self._client = self._client, None
        self.connected.clear()
        self._queue.clear()           # unacknowledged: the broker redelivers them
        self._next_attempt = time.monotonic() + 1.0
        if client is not None:
            client.disconnect()

    def _connect(self) -> None:
        client = make_client(self.s.client_id, self.s.tls, self.s.ca, self.s.cert, self.s.key, 1000)
        client.manual_ack_set(True)
        client.on_connect, client.on_disconnect, client.on_message = self._on_connect, self._on_disconnect, \
            self._on_message
        client.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.s.session_expiry_s
        props.ReceiveMaximum = 1000
        self._client = client
        try:
            client.connect(self.s.host, self.s.port, keepalive=30, clean_start=False, properties=props)
        except OSError as exc:
            log.warning("%s; retrying", explain_connect_error(exc, self.s.host, self.s.port))
            self._drop()

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        try:
            self.process([(t, p) for _, _, t, p in batch])
        except db_errors() as exc:  # the database failed: do not ack; reconnect so the broker redelivers
            log.error("storing a batch of %d failed (%s: %s); not acknowledged, will be redelivered",
                      len(batch), type(exc).__name__, exc)
            self._drop()
            return
        for mid, qos, _, _ in batch:
            if self._client is None:   # the connection dropped while acknowledging: the rest is redelivered
                break
            if qos > 0:
                self._client.ack(mid, qos)

    def run(self, stop: threading.Event) -> None:
        log.info("receiver: broker %s:%d tls=%s, %d registered devices", self.s.host, self.s.port, self.s.tls,
                 len(self.devices))
        while not stop.is_set():
            try:
                self._step(stop)
            except Exception:  # the service boundary: log, reconnect (unacked messages come again), keep running
                log.exception("receiver loop failed; reconnecting")
                self._drop()
        if self._client is not None:
            if self._queue:
                self._flush()
            self._drop()

    def _step(self, stop: threading.Event) -> None:
        if self._client is None:
            if not stop.wait(max(0.0, self._next_attempt - time.monotonic())):
                self._connect()
            return
        self._client.loop(timeout=self.s.batch_wait_s if self._queue else 0.5)
        if self._client is not None and self._queue and (
                len(self._queue) >= self.s.batch or time.monotonic() - self._first_at >= self.s.batch_wait_s):
            self._flush()
