"""The sync worker: drains the outbox to the broker with MQTT 5 QoS 1; a result leaves the outbox only
when the broker's PUBACK says it was accepted.

One thread, one loop: connect (with exponential backoff and jitter while the broker is unreachable, sleeping,
never spinning), publish up to `max_inflight` unacknowledged messages, mark acknowledged ones sent in
batches, publish telemetry at its interval. Every (re)connection starts from the outbox with a fresh client:
what was in flight and not acknowledged is simply sent again; the receiver's idempotent insert on
result_id turns at-least-once delivery into exactly-once records.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as mqtt

from edge.errors import SyncError
from edge.settings.sync import SyncSettings
from edge.store import OutboxItem, ResultStore
from edge.sync.checks import PayloadError
from edge.sync.payload import build_payload, encode
from edge.sync.transport import explain_connect_error, explain_refusal, make_client

log = logging.getLogger(__name__)


@dataclass
class SyncState:
    connected: bool = False
    sent: int = 0                 # acknowledged by the broker in this run
    refused: int = 0              # PUBACK with a failure reason code (kept in the outbox)
    connects: int = 0
    connect_failures: int = 0
    last_error: str | None = None
    last_sync_at: str | None = None
    held: int = 0                 # results that fail the payload schema or belong to other ids: kept, not sent
    steps: int = 0                # loop turns (each blocks up to poll_s or the backoff: no busy-waiting)


class SyncWorker:
    def __init__(self, store: ResultStore, settings: SyncSettings,
                 telemetry: Callable[[], dict[str, Any]] | None = None, telemetry_interval_s: float = 300.0) -> None:
        self.store, self.s = store, settings
        self.telemetry, self.telemetry_interval_s = telemetry, telemetry_interval_s
        self.state = SyncState()
        self._client: mqtt.Client | None = None
        self._last_log: str | None = None
        self._refused = False
        self._held: set[str] = set()
        self._connack = False
        self._inflight: dict[int, tuple[str, float]] = {}   # mid -> (result_id, published at)
        self._acked: list[str] = []
        self._cursor = 0
        self._delay = settings.backoff_min_s
        self._next_attempt = 0.0
        self._pause_until = 0.0
        self._next_telemetry = 0.0
        self._connect_started = 0.0

    # -- paho callbacks (run inside client.loop(), in this thread) --
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._fail(explain_refusal(rc, self.s.host, self.s.port))
            return
        self._connack, self.state.connected = True, True
        self.state.connects += 1
        if not self._refused:          # after a refusal the delay keeps growing until a PUBACK succeeds
            self._delay = self.s.backoff_min_s
        log.info("connected to %s:%d as %s", self.s.host, self.s.port, self.s.device_id)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if client is self._client:
            if self._refused and self.state.last_error:   # the broker dropped us after refusing: say why
                self._fail(self.state.last_error)
                return
            reason = self._last_log or str(rc)
            if not self._connack:
                self._fail(f"broker {self.s.host}:{self.s.port} closed the connection before accepting it "
                           f"({reason}); check the device certificate sync.cert={self.s.cert}: expired, "
                           f"revoked or not signed by the project CA?")
                return
            self._fail(f"connection to {self.s.host}:{self.s.port} lost ({reason})")

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return
        if rc.is_failure or rc.value == 0x10:   # e.g. "Not authorized" (ACL), "No matching subscribers"
            self.state.refused += 1
            why = ("no receiver is subscribed, so the broker would drop it" if rc.value == 0x10 else
                   "check the device certificate matches sync.clinic_id/device_id")
            msg = (f"broker did not take result {entry[0]} on {self.s.topic('results')}: {rc}; it stays in the "
                   f"outbox ({why})")
            if msg.split(":")[-2:] != (self.state.last_error or "").split(":")[-2:]:
                log.error(msg)
            self.state.last_error, self._refused = msg, True
            self._pause_until = time.monotonic() + self._backoff()
            self._cursor = 0
            return
        self._refused = False
        self._delay = self.s.backoff_min_s
        self._acked.append(entry[0])

    def _on_log(self, client: mqtt.Client, userdata: Any, level: int, msg: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            self._last_log = msg

    # -- connection management --
    def _backoff(self) -> float:
        delay = self._delay * random.uniform(0.8, 1.2)
        self._delay = min(self._delay * 2, self.s.backoff_max_s)
        return delay

    def _fail(self, message: str) -> None:
        if self.state.connected or self.state.last_error != message:
            log.warning("%s; results are kept in the outbox, retrying with backoff", message)
        self.state.last_error, self.state.connected = message, False
        self.state.connect_failures += 1
        self._drop_client()
        self._next_attempt = time.monotonic() + self._backoff()

    def _drop_client(self) -> None:
        client, self._client, self._connack = self._client, None, False
        self._inflight.clear()
        self._cursor = 0
        if client is not None:
            try:
                client.disconnect()
            except (OSError, ssl.SSLError):
                pass

    def _connect(self) -> None:
        self._last_log = None
        client = make_client(self.s.device_id, self.s.tls, self.s.ca, self.s.cert, self.s.key, self.s.max_inflight)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_publish, client.on_log = self._on_publish, self._on_log
        self._client, self._connect_started = client, time.monotonic()
        try:
            client.connect(self.s.host, self.s.port, keepalive=self.s.keepalive_s, clean_start=True)
        except (OSError, ssl.SSLError) as exc:
            self._fail(explain_connect_error(exc, self.s.host, self.s.port))

    # -- the drain --
    def _publish_window(self) -> None:
        room = self.s.max_inflight - len(self._inflight)
        if room <= 0 or time.monotonic() < self._pause_until:
            return
        busy = {rid for rid, _ in self._inflight.values()}
        items = [i for i in self.store.pending(min(room + len(busy), self.s.batch), self._cursor)
                 if i.result_id not in busy][:room]
        topic = self.s.topic("results")
        for item in items:
            try:
                payload = self._payload(item)
            except PayloadError as exc:
                self._hold(item.result_id, str(exc))
                self._cursor = item.seq
                continue
            if self._client is None:   # the connection dropped while writing (on_disconnect ran)
                return
            info = self._client.publish(topic, encode(payload), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return
            self._inflight[info.mid] = (item.result_id, time.monotonic())
            self._cursor = item.seq

    def _payload(self, item: OutboxItem) -> dict[str, Any]:
        ids = (item.exam.get("clinic_id"), item.exam.get("device_id"))
        if ids != (self.s.clinic_id, self.s.device_id):
            # the receiver would reject it (payload vs topic) after the broker acknowledged it: never send it
            raise PayloadError(f"result {item.result_id} was saved as {ids[0]}/{ids[1]} but this device is "
                               f"configured as {self.s.clinic_id}/{self.s.device_id}; it stays in the outbox")
        return build_payload(item.exam, item.saved_at, item.patient_ref, self.s.include_patient_ref)

    def _hold(self, result_id: str, why: str) -> None:
        """A result that cannot be sent as it is stays in the outbox (never marked sent), said once."""
        if result_id not in self._held:
            self._held.add(result_id)
            log.error("not sending: %s", why)
        self.state.held, self.state.last_error = len(self._held), why

    def _flush_acks(self) -> None:
        if self._acked:
            self.store.mark_sent(self._acked)
            self.state.sent += len(self._acked)
            self.state.last_sync_at = self.store.last_sync()
            self._acked = []

    def _expire(self) -> None:
        limit = time.monotonic() - self.s.ack_timeout_s
        stale = [mid for mid, (_, at) in self._inflight.items() if at < limit]
        for mid in stale:
            del self._inflight[mid]
        if stale:
            log.warning("%d messages not acknowledged within %.0f s; they will be sent again", len(stale),
                        self.s.ack_timeout_s)
            self._cursor = 0

    def _send_telemetry(self) -> None:
        if self.telemetry is None or time.monotonic() < self._next_telemetry:
            return
        self._next_telemetry = time.monotonic() + self.telemetry_interval_s
        self._client.publish(self.s.topic("telemetry"), encode(self.telemetry()), qos=1)

    def step(self, stop: threading.Event) -> None:
        """One turn of the loop; blocks at most ~poll_s and never busy-waits."""
        self.state.steps += 1
        now = time.monotonic()
        if self._client is None:
            stop.wait(max(0.0, min(self._next_attempt - now, self.s.poll_s)))
            if not stop.is_set() and time.monotonic() >= self._next_attempt:
                self._connect()
            return
        if not self._connack:
            if now - self._connect_started > 2 * 5.0:
                self._fail(f"broker {self.s.host}:{self.s.port} did not answer CONNECT "
                           f"({self._last_log or 'certificate rejected?'})")
                return
            self._client.loop(timeout=0.1)
            return
        self._publish_window()
        idle = not self._inflight
        if self._client is not None:
            self._client.loop(timeout=self.s.poll_s if idle else 0.05)
        self._flush_acks()
        if self._client is not None:
            self._expire()
            self._send_telemetry()
        if idle and time.monotonic() < self._pause_until:
            stop.wait(min(self._pause_until - time.monotonic(), self.s.poll_s))

    def run(self, stop: threading.Event | None = None, once: bool = False, timeout_s: float | None = None) -> SyncState:
        """Run until `stop` is set; with once=True, until the outbox is empty (SyncError after timeout_s)."""
        stop = stop or threading.Event()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        log.info("sync worker: %s:%d tls=%s topic %s", self.s.host, self.s.port, self.s.tls, self.s.topic("results"))
        try:
            while not stop.is_set():
                try:
                    self.step(stop)
                except SyncError as exc:   # the store failed (disk full, locked): keep what we have, retry later
                    if once:
                        raise
                    self.state.last_error = str(exc)
                    log.error("%s; sync paused, retrying with backoff", exc)
                    self._drop_client()
                    stop.wait(self._backoff())
                if once and not self._inflight and self.store.outbox_len() == 0:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    if once:
                        raise SyncError(f"{self.store.outbox_len()} results still unsynced after {timeout_s:.0f} s "
                                        f"(last error: {self.state.last_error or 'none'}); they are kept")
                    break
        finally:
            self._flush_acks()
            self._drop_client()
        return self.state
