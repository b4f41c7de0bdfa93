"""The receiver trusts nothing: >= 1,000 deterministic hostile messages (wrong types, huge strings, deep
nesting, invalid UTF-8, replayed ids, forged topics, unknown devices) -> no crash, no bad row stored,
every genuine result stored exactly once with its first content."""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any, Iterator

import paho.mqtt.client as mqtt
from mqtt_broker import Broker, RunningReceiver, broker, make_exam, receiver_db  # noqa: F401

from edge.results import utc_now
from edge.sync.payload import build_payload, encode, validate_result
from receiver.db import Database
from receiver.service import Receiver, ReceiverSettings

TOPIC = "fetal-edge/v1/clinic-a/dev-1/results"
WRONG = [None, True, -1, 1e308, "x", "", [], {}, [1, 2], {"a": 1}, "\x00", "\ud800", 2**70]


def genuine(n: int) -> list[dict[str, Any]]:
    return [build_payload(make_exam(hc=150.0 + i % 50), utc_now()) for i in range(n)]


def paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from paths(v, prefix + (i,))


def put(obj: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def hostile(rng: random.Random, base: list[dict[str, Any]]) -> Iterator[tuple[str, bytes]]:
    """Every message here must be rejected."""
    for i in range(300):                                   # a wrong type somewhere
        p = copy.deepcopy(rng.choice(base))
        path = rng.choice(list(paths(p)))
        old = p
        for k in path:
            old = old[k]
        bad = rng.choice([w for w in WRONG if type(w) is not type(old) and not (old is None and w is None)])
        if path[-1] in ("ended_at", "fps", "value", "model", "method", "reason", "range") and bad is None:
            bad = "not-a-number-or-null"
        if isinstance(old, (int, float)) and not isinstance(old, bool) and isinstance(bad, (int, float)) \
                and not isinstance(bad, bool) and abs(bad) < 1e6:
            bad = "7"
        put(p, path, bad)
        yield TOPIC, json.dumps(p).encode("utf-8", "surrogatepass")
    for i in range(150):                                   # huge strings
        p = copy.deepcopy(rng.choice(base))
        strings = [pa for pa in paths(p) if isinstance(_get(p, pa), str)]
        put(p, rng.choice(strings), "A" * rng.choice([2001, 5000, 70000, 2_000_000]))
        yield TOPIC, json.dumps(p).encode()
    for i in range(150):                                   # deep nesting
        p = copy.deepcopy(rng.choice(base))
        depth = rng.choice([20, 500, 5000, 30000])
        put(p, rng.choice(list(paths(p))), json.loads("[" * min(depth, 900) + "]" * min(depth, 900)))
        raw = json.dumps(p).encode() if depth <= 900 else b'{"format":' + b"[" * depth + b"]" * depth + b"}"
        yield TOPIC, raw
    for i in range(150):                                   # invalid UTF-8 / not JSON / NaN
        raw = bytearray(encode(rng.choice(base)))
        kind = i % 5
        if kind == 0:
            raw[rng.randrange(len(raw))] = rng.choice([0xFF, 0xC0, 0x80])
        elif kind == 1:
            raw = bytearray(rng.randbytes(rng.randrange(1, 3000)))
            raw[0] = 0xFF
        elif kind == 2:
            raw = raw[: rng.randrange(1, len(raw) - 1)]
        elif kind == 3:
            raw = bytearray(raw.replace(b'"fps":14.5', rng.choice([b'"fps":NaN', b'"fps":Infinity', b'"fps":-1e999'])))
        else:
            raw = bytearray(rng.choice([b"", b"null", b"[]", b"42", b'"x"', b"{}", b"\xef\xbb\xbf{}"]))
        yield TOPIC, bytes(raw)
    for i in range(150):                                   # replayed ids with different content
        p = copy.deepcopy(rng.choice(base))
        p["measurements"]["hc"]["value"] = p["measurements"]["hc"]["value"] + 1.0 + i
        yield TOPIC, encode(p)
    for i in range(100):                                   # forged topics, unknown devices, extra fields
        p = copy.deepcopy(rng.choice(base))
        p["result_id"] = f"{rng.getrandbits(32):08x}-0000-4000-8000-{i:012d}"
        kind = i % 5
        if kind == 0:
            yield "fetal-edge/v1/clinic-b/dev-1/results", encode(p)           # payload says clinic-a
        elif kind == 1:
            p["clinic_id"], p["device_id"] = "clinic-z", "dev-9"
            yield "fetal-edge/v1/clinic-z/dev-9/results", encode(p)           # not registered
        elif kind == 2:
            p["image"] = "iVBORw0KGgo="
            yield TOPIC, encode(p)
        elif kind == 3:
            p["patient_ref"] = "MRN-0001"
            yield TOPIC, encode(p)
        else:
            yield rng.choice(["fetal-edge/v1/clinic-a/results", "fetal-edge/v2/clinic-a/dev-1/results",
                              "fetal-edge/v1/clinic-a/dev-1/results/x"]), encode(p)


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def test_1000_hostile_messages_store_no_bad_row(receiver_db: Database) -> None:
    db = receiver_db
    db.register_device("clinic-a", "dev-1")
    db.register_device("clinic-b", "dev-1")
    rx = Receiver(db, ReceiverSettings(tls=False))
    base = genuine(50)
    rx.process([(TOPIC.encode(), encode(p)) for p in base])
    assert rx.stats.stored == 50
    rng = random.Random(20261122)
    bad = [(t.encode(), raw) for t, raw in hostile(rng, base)]
    assert len(bad) >= 1000
    for i in range(0, len(bad), 97):
        rx.process(bad[i:i + 97])
    assert rx.stats.stored == 50 and rx.stats.rejected == len(bad)
    rows = db.query("SELECT result_id, payload FROM results")
    assert len(rows) == 50
    stored = {rid: json.loads(text) for rid, text in rows}
    assert stored == {p["result_id"]: json.loads(encode(p)) for p in base}      # first content kept
    for p in stored.values():
        validate_result(p)
    logged = db.query("SELECT COUNT(*), MAX(LENGTH(reason)), MAX(LENGTH(topic)) FROM rejected")[0]
    assert logged[0] == len(bad) and logged[1] <= 300 and logged[2] <= 200
    assert any("replayed with different content" in r for (r,) in db.query("SELECT reason FROM rejected"))


def test_service_keeps_running_through_hostile_traffic_on_the_broker(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    rng = random.Random(7)
    base = genuine(20)
    bad = list(hostile(rng, base))[::5]                       # 200 of them, every category
    with RunningReceiver(broker, str(tmp_path / "rx.sqlite")) as rx:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        infos = [client.publish(t, raw, qos=1) for t, raw in bad[:110]]
        infos += [client.publish(TOPIC, encode(p), qos=1) for p in base]
        infos += [client.publish(t, raw, qos=1) for t, raw in bad[110:]]
        for info in infos:
            info.wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        deadline = time.monotonic() + 30
        while rx.receiver.stats.stored + rx.receiver.stats.rejected < len(infos) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rx.thread.is_alive()
        assert rx.receiver.stats.stored == 20 and rx.receiver.stats.rejected == len(bad)
        assert sorted(rx.ids()) == sorted(p["result_id"] for p in base)
