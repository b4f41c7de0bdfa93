"""Bookkeeping between the outbox and the broker: what is in flight, what was acknowledged, what is held.

A result leaves the outbox (`ResultStore.mark_sent`) only after its PUBACK; anything in flight when the
connection drops, or unacknowledged after `ack_timeout_s`, is simply sent again. Results that must not be
sent as they are (saved under other clinic/device ids, failing the payload schema) are held: never sent,
never dropped, reported once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from edge.settings.sync import SyncSettings
from edge.store import OutboxItem, ResultStore
from edge.sync.checks import PayloadError
from edge.sync.payload import build_payload, encode

log = logging.getLogger(__name__)


@dataclass
class SyncState:
    connected: bool = False
    published: int = 0            # messages published in this run (a resend counts again)
    sent: int = 0                 # acknowledged by the broker in this run
    refused: int = 0              # PUBACK with a failure reason code (kept in the outbox)
    connects: int = 0
    connect_failures: int = 0
    last_error: str | None = None
    last_sync_at: str | None = None
    held: int = 0                 # results that fail the payload schema or belong to other ids: kept, not sent
    steps: int = 0                # loop turns (each blocks up to poll_s or the backoff: no busy-waiting)


class Drain:
    def __init__(self, store: ResultStore, settings: SyncSettings, state: SyncState) -> None:
        self.store, self.s, self.state = store, settings, state
        self.inflight: dict[int, tuple[str, float]] = {}   # mid -> (result_id, published at)
        self._acked: list[str] = []
        self._held: set[str] = set()
        self._cursor = 0                                  # outbox seq of the last row sent on this connection

    def reset(self) -> None:
        """A new connection: nothing is in flight any more; start again from the head of the outbox."""
        self.inflight.clear()
        self._cursor = 0

    def rewind(self) -> None:
        self._cursor = 0

    def fill(self, publish: Callable[[bytes], int | None]) -> None:
        """Publish outbox rows until max_inflight are unacknowledged; publish returns the mid or None."""
        room = self.s.max_inflight - len(self.inflight)
        if room <= 0:
            return
        busy = {rid for rid, _ in self.inflight.values()}
        items = [i for i in self.store.pending(min(room + len(busy), self.s.batch), self._cursor)
                 if i.result_id not in busy][:room]
        for item in items:
            try:
                payload = self._payload(item)
            except PayloadError as exc:
                self._hold(item.result_id, str(exc))
                self._cursor = item.seq
                continue
            mid = publish(encode(payload))
            if mid is None:
                return
            self.inflight[mid] = (item.result_id, time.monotonic())
            self.state.published += 1
            self._cursor = item.seq

    def _payload(self, item: OutboxItem) -> dict[str, Any]:
        ids = (item.exam.get("clinic_id"), item.exam.get("device_id"))
        if ids != (self.s.clinic_id, self.s.device_id):
            # the receiver would reject it (payload vs topic) after the broker acknowledged it: never send it
            raise PayloadError(f"result {item.result_id} was saved as {ids[0]}/{ids[1]} but this device is "
                               f"configured as {self.s.clinic_id}/{self.s.device_id}; it stays in the outbox")
        return build_payload(item.exam, item.saved_at, item.patient_ref, self.s.include_patient_ref)

    def _hold(self, result_id: str, why: str) -> None:
        if result_id not in self._held:
            self._held.add(result_id)
            log.error("not sending: %s", why)
        self.state.held, self.state.last_error = len(self._held), why

    def settle(self, mid: int) -> str | None:
        """The result a PUBACK is for (None: not ours, or already given up on)."""
        entry = self.inflight.pop(mid, None)
        return entry[0] if entry else None

    def acknowledged(self, result_id: str) -> None:
        self._acked.append(result_id)

    def flush(self) -> None:
        """Mark acknowledged results sent, in one transaction."""
        if self._acked:
            self.store.mark_sent(self._acked)
            self.state.sent += len(self._acked)
            self.state.last_sync_at = self.store.last_sync()
            self._acked = []

    def expire(self) -> None:
        limit = time.monotonic() - self.s.ack_timeout_s
        stale = [mid for mid, (_, at) in self.inflight.items() if at < limit]
        for mid in stale:
            del self.inflight[mid]
        if stale:
            log.warning("%d messages not acknowledged within %.0f s; they will be sent again", len(stale),
                        self.s.ack_timeout_s)
            self._cursor = 0
