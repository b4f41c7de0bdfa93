"""The receiver's MQTT side: subscribe, validate every message, store in batches, acknowledge after commit.

Messages are acknowledged (manual PUBACK) only after the batch holding them is committed, so a receiver
crash means redelivery, never loss; rejected messages are logged (table `rejected`) and acknowledged so a
hostile publisher cannot wedge the queue; results that cannot be stored yet (a newer schema version, an
unregistered device) are held raw (table `held`) and acknowledged. The session is persistent
(clean_start=False) so messages published while the receiver is down wait at the broker.

Scale-out: receivers started with the same `share_group` (and each its own stable `client_id`) share one MQTT 5
shared subscription ($share/<group>/...): the broker hands each message to one of them; all write to one
PostgreSQL, where the idempotent insert absorbs any redelivery.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import delete

from edge.errors import SyncError
from edge.sync.transport import explain_connect_error, explain_refusal, make_client
from receiver.database import db_errors
from receiver.db import Database
from receiver.extract import clip
from receiver.health import LinkState, write_heartbeat
from receiver.ingest import prune_history
from receiver.intake import Incoming, Intake, ReceiverSettings, ReceiverStats
from receiver.models import ReceiverProcess

__all__ = ["Receiver", "ReceiverSettings", "ReceiverStats", "Incoming"]

log = logging.getLogger("receiver")
PRUNE_EVERY_S = 3600.0


class Receiver(Intake):
    """The MQTT service: `Receiver(db, settings).run(stop)`."""

    def __init__(self, db: Database, settings: ReceiverSettings) -> None:
        super().__init__(db, settings)
        self.connected = threading.Event()
        self.link = LinkState(settings.client_id, f"{settings.host}:{settings.port}", settings.topics())
        self._queue: list[tuple[int, int, bytes, bytes]] = []
        self._first_at = 0.0
        self._client: mqtt.Client | None = None
        self._next_attempt = 0.0
        self._beat_at = 0.0
        self._retiring, self._left_at, self._message_at = False, 0.0, 0.0
        self._pruned_at = float("-inf")

    def process(self, messages: Sequence[Incoming | tuple[bytes, bytes]]) -> None:
        super().process(messages)
        self.link.set(counts={"stored": self.stats.stored, "duplicates": self.stats.duplicates,
                              "rejected": self.stats.rejected, "held": self.stats.held})

    # -- MQTT --
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            message = explain_refusal(rc, self.s.host, self.s.port)
            log.error(message)
            self.link.set(last_error=message)
            return
        if self._retiring:
            client.unsubscribe(self.s.topics())
        else:
            client.subscribe([(t, 1) for t in self.s.topics()])
        self.link.set(broker_connected=True, last_error=None)
        log.info("receiver %s connected to %s:%d", self.s.client_id, self.s.host, self.s.port)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        failed = [str(rc) for rc in rcs if rc.is_failure]
        if failed:
            message = f"subscription refused by the broker: {failed} (check the ACL grants read)"
            log.error("receiver %s", message)
            self.link.set(last_error=message)
            return
        self.link.set(subscribed=True)
        self.connected.set()

    def _on_unsubscribe(self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        self._left_at = time.monotonic()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if client is self._client:
            log.warning("receiver lost the broker (%s); reconnecting", rc)
            self.link.set(last_error=f"lost the broker ({rc})")
            self._drop()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._message_at = time.monotonic()
        if not self._queue:
            self._first_at = time.monotonic()
        self._queue.append((msg.mid, msg.qos, bytes(msg._topic), bytes(msg.payload)))

    def _drop(self) -> None:
        client, self._client = self._client, None
        self.connected.clear()
        self.link.set(broker_connected=False, subscribed=False)
        self._queue.clear()           # unacknowledged: the broker redelivers them
        self._left_at = 0.0
        self._next_attempt = time.monotonic() + 1.0
        if client is not None:
            client.disconnect()

    def _connect(self) -> None:
        client = make_client(self.s.client_id, self.s.tls, self.s.ca, self.s.cert, self.s.key, 1000)
        client.manual_ack_set(True)
        client.on_connect, client.on_disconnect, client.on_message = self._on_connect, self._on_disconnect, \
            self._on_message
        client.on_subscribe, client.on_unsubscribe = self._on_subscribe, self._on_unsubscribe
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.s.session_expiry_s
        props.ReceiveMaximum = 1000
        self._client = client
        try:
            client.connect(self.s.host, self.s.port, keepalive=30, clean_start=False, properties=props)
        except OSError as exc:
            message = explain_connect_error(exc, self.s.host, self.s.port)
            log.warning("%s; retrying", message)
            self._drop()
            self.link.set(last_error=message)

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        try:
            self.process([(t, p) for _, _, t, p in batch])
        except db_errors() as exc:  # the database failed: do not ack; reconnect so the broker redelivers
            message = clip(f"{type(exc).__name__}: {exc}".splitlines()[0], 300)
            log.error("storing a batch of %d failed (%s); not acknowledged, will be redelivered", len(batch), message)
            self.link.set(database_ok=False, last_error=message)
            self._drop()
            return
        self.link.set(database_ok=True, last_message_at=datetime.now(timezone.utc))
        self._heartbeat()     # a database that came back is reported at once
        for mid, qos, _, _ in batch:
            if self._client is None:   # the connection dropped while acknowledging: the rest is redelivered
                break
            if qos > 0:
                self._client.ack(mid, qos)

    def _heartbeat(self) -> None:
        if not self.link.changed and time.monotonic() - self._beat_at < self.s.heartbeat_s:
            return
        self._beat_at = time.monotonic()
        try:
            with self.db.session() as s:
                write_heartbeat(s, self.link)
                if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                    self._pruned_at = time.monotonic()
                    before = datetime.now(timezone.utc) - timedelta(days=self.s.keep_telemetry_days)
                    gone = prune_history(s, before)
                    if gone:
                        log.info("deleted %d telemetry history rows older than %g days", gone,
                                 self.s.keep_telemetry_days)
        except db_errors() as exc:
            message = clip(f"{type(exc).__name__}: {exc}".splitlines()[0], 300)
            if self.link.database_ok:
                log.error("receiver cannot reach its database: %s", message)
            self.link.set(database_ok=False, last_error=message)

    def run(self, stop: threading.Event) -> None:
        log.info("receiver %s: broker %s:%d tls=%s, topics %s, %d registered devices", self.s.client_id,
                 self.s.host, self.s.port, self.s.tls, self.s.topics(), len(self.devices))
        try:
            tried = self.replay_held()
            if tried:
                log.info("tried %d held result(s) again: %d stored, %d still held", tried, self.stats.released,
                         tried - self.stats.released)
        except db_errors() as exc:   # the next start tries again; new traffic is not blocked by old holds
            log.error("could not try the held results again: %s", clip(str(exc), 300))
        while not stop.is_set():
            try:
                self._heartbeat()
                self._step(stop)
            except Exception:  # the service boundary: log, reconnect (unacked messages come again), keep running
                log.exception("receiver loop failed; reconnecting")
                self._drop()
        if self._client is not None:
            if self._queue:
                self._flush()
            self._drop()
        self._beat_at = 0.0
        self._heartbeat()

    def retire(self, quiet_s: float = 1.0, timeout_s: float = 600.0) -> None:
        """Take this receiver out of its shared group for good (scaling in): connect under its client id,
        unsubscribe, store what the broker had queued in its session, then end the session."""
        self._retiring, deadline, stop = True, time.monotonic() + timeout_s, threading.Event()
        while not (self._left_at and not self._queue and
                   time.monotonic() - max(self._left_at, self._message_at) > quiet_s):
            if time.monotonic() > deadline:
                raise SyncError(f"receiver {self.s.client_id} could not retire within {timeout_s:.0f} s "
                                f"({self.link.last_error or 'no answer from the broker'}); run it again")
            self._step(stop)
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0                  # the broker forgets the session and its subscription
        client, self._client = self._client, None
        client.disconnect(properties=props)
        with self.db.session() as s:
            s.execute(delete(ReceiverProcess).where(ReceiverProcess.client_id == self.s.client_id))
            s.commit()
        log.info("receiver %s retired: %d stored from its queue, session ended", self.s.client_id,
                 self.stats.stored)

    def _read_ready(self) -> None:
        """Read what has already arrived without a select() per message (paho's loop reads one packet)."""
        while self._client is not None and len(self._queue) < self.s.batch:
            before = len(self._queue)
            self._client.loop_read()
            if len(self._queue) == before:
                return

    def _step(self, stop: threading.Event) -> None:
        if self._client is None:
            if not stop.wait(max(0.0, min(self._next_attempt - time.monotonic(), self.s.heartbeat_s))):
                if time.monotonic() >= self._next_attempt:
                    self._connect()
            return
        self._client.loop(timeout=self.s.batch_wait_s if self._queue else 0.5)
        self._read_ready()
        if self._client is not None and self._queue and (
                len(self._queue) >= self.s.batch or time.monotonic() - self._first_at >= self.s.batch_wait_s):
            self._flush()
