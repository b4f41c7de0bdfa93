"""Schema versions at the receiver (issue #23 item 8): every known minor version is stored; a result of a
newer version is held raw (acknowledged, never dropped) and stored once the receiver is upgraded."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from mqtt_broker import (Broker, RunningReceiver, broker, make_exam, receiver_db, sync_settings,  # noqa: F401
                         wait_until)

from edge.results import utc_now
from edge.store import ResultStore
from edge.sync.payload import KNOWN_SCHEMA_VERSIONS, build_payload, encode
from edge.sync.worker import SyncWorker
from receiver.db import Database
from receiver.service import Receiver, ReceiverSettings
from receiver.validate import known_versions

TOPIC = b"fetal-edge/v1/clinic-a/dev-1/results"


def future(version: str, **extra: object) -> dict:
    """A result as a newer device might send it: another version, a field this receiver has never seen."""
    p = build_payload(make_exam(), utc_now())
    p.update(schema_version=version, placenta={"position": "anterior"}, **extra)
    return p


def test_the_receiver_knows_what_the_device_sends() -> None:
    assert known_versions() == ("1.0", "1.1") == KNOWN_SCHEMA_VERSIONS


def test_newer_results_are_held_raw_and_tried_again(receiver_db: Database) -> None:
    db = receiver_db
    db.register_device("clinic-a", "dev-1")
    rx = Receiver(db, ReceiverSettings(tls=False))
    newer = [future("1.9"), future("2.0"), future("1.9")]
    raws = [encode(p) for p in newer]
    bad = [future("0.9"), future("1.x"), future("1.9", clinic_id="clinic-b"), future("1.9", patient_ref="P-1"),
           dict(future("1.9"), result_id="not-a-uuid")]
    rx.process([(TOPIC, r) for r in raws] + [(TOPIC, encode(p)) for p in bad] + [(TOPIC, raws[0])])
    assert rx.stats.held == 4 and rx.stats.rejected == 5 and rx.stats.stored == 0
    held = db.query("SELECT kind, schema_version, result_id, payload FROM held ORDER BY id")
    assert [h[:3] for h in held] == [("newer_schema", p["schema_version"], p["result_id"]) for p in newer + newer[:1]]
    assert [h[3].encode() for h in held] == raws + raws[:1]                  # exactly the bytes received
    again = Receiver(db, ReceiverSettings(tls=False))                          # a restart, still not upgraded
    assert again.replay_held() == 4
    assert again.stats.held == 0 and again.stats.stored == 0 and again.stats.rejected == 0
    assert db.query("SELECT COUNT(*) FROM held")[0][0] == 4 and db.query("SELECT COUNT(*) FROM results")[0][0] == 0


def test_upgraded_receiver_stores_what_the_old_one_held(receiver_db: Database) -> None:
    """The same payloads: an old receiver (knows 1.0 only) holds the 1.1 ones, the upgrade stores them once."""
    db = receiver_db
    db.register_device("clinic-a", "dev-1")
    current = [build_payload(make_exam(), utc_now()) for _ in range(6)]
    assert {p["schema_version"] for p in current} == {"1.1"}
    older = copy.deepcopy(current[0])
    old_ones = [build_payload({**make_exam().to_dict(), "schema_version": "1.0"}, utc_now()) for _ in range(2)]
    old = Receiver(db, ReceiverSettings(tls=False, known_versions=("1.0",)))
    old.process([(TOPIC, encode(p)) for p in current + old_ones])
    assert old.stats.held == 6 and old.stats.stored == 2
    new = Receiver(db, ReceiverSettings(tls=False))
    new.replay_held()
    new.process([(TOPIC, encode(older))])                                    # a redelivery after the upgrade
    assert new.stats.released == 6 and new.stats.stored == 6 and new.stats.duplicates == 1
    stored = {rid: json.loads(p) for rid, p in db.query("SELECT result_id, payload FROM results")}
    assert stored == {p["result_id"]: json.loads(encode(p)) for p in current + old_ones}
    assert db.query("SELECT COUNT(*) FROM held")[0][0] == 0


def test_old_receiver_then_upgraded_through_mosquitto(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    """Device on 1.1, receiver on 1.0 (every result acknowledged and held), then the receiver upgraded and
    restarted: every result stored exactly once, nothing left held, the device outbox empty."""
    url = str(tmp_path / "rx.sqlite")
    store = ResultStore(tmp_path / "dev.sqlite")
    saved = [r.result_id for r in store.save_many([make_exam() for _ in range(40)])]
    with RunningReceiver(broker, url, known_versions=("1.0",)) as old:
        state = SyncWorker(store, sync_settings(broker)).run(once=True, timeout_s=60)
        assert state.sent == 40 and store.outbox_len() == 0              # the broker acknowledged all of them
        assert wait_until(lambda: old.receiver.stats.held == 40)
        assert old.ids() == [] and old.receiver.stats.rejected == 0
    with RunningReceiver(broker, url) as new:                               # upgraded: tries the held ones
        assert wait_until(lambda: len(new.ids()) == 40)
        ids = new.ids()
        assert len(ids) == len(set(ids)) == 40 and set(ids) == set(saved)
        assert new.db.query("SELECT COUNT(*) FROM held")[0][0] == 0
    with RunningReceiver(broker, url) as again:                             # and again: nothing twice
        assert sorted(again.ids()) == sorted(saved) and again.receiver.stats.released == 0
