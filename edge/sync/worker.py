"""The sync worker: drains the outbox to the broker with MQTT 5 QoS 1; a result leaves the outbox only
when the broker's PUBACK says it was accepted.

One thread, one loop: connect (with exponential backoff and jitter while the broker is unreachable, sleeping,
never spinning), publish up to `max_inflight` unacknowledged messages, mark acknowledged ones sent in
batches, publish telemetry at its interval. Every (re)connection starts from the outbox with a fresh client:
what was in flight and not acknowledged is simply sent again; the receiver's idempotent insert on
result_id turns at-least-once delivery into exactly-once records.

Every `sync.progress_interval_s`, and once on exit, the worker logs its progress (published, acknowledged,
left in the outbox) and rewrites its heartbeat file beside the store (edge.sync.heartbeat), which
`fetal-edge status` reads to tell whether a sync service is running.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from typing import Any, Callable

import paho.mqtt.client as mqtt

from edge.errors import SyncError
from edge.settings.sync import SyncSettings
from edge.store import ResultStore
from edge.sync.drain import Drain, SyncState
from edge.sync.heartbeat import Heartbeat
from edge.sync.payload import encode
from edge.sync.transport import Backoff, explain_connect_error, explain_refusal, make_client

log = logging.getLogger(__name__)


class SyncWorker:
    def __init__(self, store: ResultStore, settings: SyncSettings,
                 telemetry: Callable[[], dict[str, Any]] | None = None, telemetry_interval_s: float = 300.0) -> None:
        self.store, self.s = store, settings
        self.telemetry, self.telemetry_interval_s = telemetry, telemetry_interval_s
        self.state = SyncState()
        self._client: mqtt.Client | None = None
        self._last_log: str | None = None
        self._refused: str | None = None    # the broker's reason while it refuses our messages
        self._connack = False
        self.drain = Drain(store, settings, self.state)
        self.backoff = Backoff(settings.backoff_min_s, settings.backoff_max_s)
        self._next_attempt = 0.0
        self._pause_until = 0.0
        self._next_telemetry = 0.0
        self._connect_started = 0.0
        self.heartbeat = Heartbeat(store.path, settings.progress_interval_s)
        self._next_progress = 0.0

    # -- paho callbacks (run inside client.loop(), in this thread) --
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._fail(explain_refusal(rc, self.s.host, self.s.port))
            return
        self._connack, self.state.connected = True, True
        self.state.connects += 1
        if not self._refused:          # after a refusal the delay keeps growing until a PUBACK succeeds
            self.backoff.reset()
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
        result_id = self.drain.settle(mid)
        if result_id is None:
            return
        if rc.is_failure or rc.value == 0x10:   # e.g. "Not authorized" (ACL), "No matching subscribers"
            self.state.refused += 1
            why = ("no receiver is subscribed, so the broker would drop it" if rc.value == 0x10 else
                   "check the device certificate matches sync.clinic_id/device_id")
            msg = f"broker did not take results on {self.s.topic('results')}: {rc}; they stay in the outbox ({why})"
            if self._refused != str(rc):        # said once per reason, not once per message
                log.error(msg)
            self.state.last_error, self._refused = msg, str(rc)
            self._pause_until = time.monotonic() + self.backoff.next()
            self.drain.rewind()
            return
        self._refused = None
        self.backoff.reset()
        self.drain.acknowledged(result_id)

    def _on_log(self, client: mqtt.Client, userdata: Any, level: int, msg: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            self._last_log = msg

    # -- connection management --
    def _fail(self, message: str) -> None:
        if self.state.connected or self.state.last_error != message:
            log.warning("%s; results are kept in the outbox, retrying with backoff", message)
        self.state.last_error, self.state.connected = message, False
        self.state.connect_failures += 1
        self._drop_client()
        self._next_attempt = time.monotonic() + self.backoff.next()

    def _drop_client(self) -> None:
        client, self._client, self._connack = self._client, None, False
        self.drain.reset()
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

    def _publish(self, payload: bytes) -> int | None:
        if self._client is None:       # the connection dropped while writing (on_disconnect ran)
            return None
        info = self._client.publish(self.s.topic("results"), payload, qos=1)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None

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
        if time.monotonic() >= self._pause_until:
            self.drain.fill(self._publish)
        idle = not self.drain.inflight
        if self._client is not None:
            self._client.loop(timeout=self.s.poll_s if idle else 0.05)
        self.drain.flush()
        if self._client is not None:
            self.drain.expire()
            self._send_telemetry()
        if idle and time.monotonic() < self._pause_until:
            stop.wait(min(self._pause_until - time.monotonic(), self.s.poll_s))

    def progress(self) -> dict[str, Any]:
        """Counts of this run and what is left, for the log line and the heartbeat file."""
        try:
            left: int | None = self.store.outbox_len()
        except SyncError:
            left = None
        st = self.state
        return {"connected": st.connected, "published": st.published, "acknowledged": st.sent,
                "in_flight": len(self.drain.inflight), "refused": st.refused, "held": st.held, "left": left,
                "last_error": st.last_error}

    def _report(self, final: bool = False) -> None:
        p = self.progress()
        where = f"{self.s.host}:{self.s.port}"
        log.info("sync %s: %d published, %d acknowledged, %s left in the outbox (%d in flight, %d refused, %d held); "
                 "%s%s", "stopped" if final else "progress", p["published"], p["acknowledged"],
                 "?" if p["left"] is None else p["left"], p["in_flight"], p["refused"], p["held"],
                 f"connected to {where}" if p["connected"] else f"not connected to {where}",
                 f"; last error: {p['last_error']}" if p["last_error"] and not p["connected"] else "")
        (self.heartbeat.stop if final else self.heartbeat.beat)(p)
        self._next_progress = time.monotonic() + self.s.progress_interval_s

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        """Sleep (a backoff) while still reporting progress at its interval."""
        until = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < until:
            stop.wait(max(0.0, min(until, self._next_progress) - time.monotonic()))
            if time.monotonic() >= self._next_progress:
                self._report()

    def run(self, stop: threading.Event | None = None, once: bool = False, timeout_s: float | None = None) -> SyncState:
        """Run until `stop` is set; with once=True, until the outbox is empty (SyncError after timeout_s)."""
        stop = stop or threading.Event()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        log.info("sync worker: %s:%d tls=%s topic %s; progress every %g s, heartbeat %s", self.s.host, self.s.port,
                 self.s.tls, self.s.topic("results"), self.s.progress_interval_s, self.heartbeat.path)
        self._report()
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
                    self._wait(stop, self.backoff.next())
                if time.monotonic() >= self._next_progress:
                    self._report()
                if once and not self.drain.inflight and self.store.outbox_len() == 0:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    if once:
                        raise SyncError(f"{self.store.outbox_len()} results still unsynced after {timeout_s:.0f} s "
                                        f"(last error: {self.state.last_error or 'none'}); they are kept")
                    break
        finally:
            try:
                self.drain.flush()
            finally:
                self._drop_client()
                self.state.connected = False
                self._report(final=True)
        return self.state
