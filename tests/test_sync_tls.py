"""Security over TLS: project CA, one client certificate per device, ACL per clinic/device topic."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import Broker, RunningReceiver, certs, make_certs, make_exam, sync_settings, tls_broker  # noqa: F401

from edge.results import utc_now
from edge.store import ResultStore
from edge.sync.payload import build_payload, encode
from edge.sync.transport import make_client, probe
from edge.sync.worker import SyncWorker


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, unrelated CA with a device certificate of the same name."""
    return make_certs(tmp_path_factory.mktemp("other-pki"), "clinic-a/dev-1")


@pytest.fixture(scope="module")
def expired(certs: Path) -> Path:  # noqa: F811
    make_certs(certs, "clinic-a/dev-expired", days=-1)
    return certs


def run_for(worker: SyncWorker, seconds: float) -> None:
    stop = threading.Event()
    t = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join(10)


def publish_once(certs: Path, ident: str, port: int, topic: str, payload: bytes) -> str:
    """Publish one QoS 1 message with a device's certificate; the PUBACK reason."""
    client = make_client(ident.replace("/", "-"), True, certs / "ca.crt", certs / f"devices/{ident}.crt",
                         certs / f"devices/{ident}.key")
    acks: list[object] = []
    client.on_publish = lambda c, u, mid, rc, p: acks.append(rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1)
    deadline = time.monotonic() + 5
    while not acks and time.monotonic() < deadline:
        time.sleep(0.02)
    client.loop_stop()
    client.disconnect()
    return str(acks[0]) if acks else "no PUBACK"


def test_device_cannot_publish_into_another_clinics_topic(tls_broker: Broker, certs: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    with RunningReceiver(tls_broker, str(tmp_path / "rx.sqlite"), certs) as rx:
        # a clinic-a device, with a valid payload claiming to be clinic-b/dev-1, on clinic-b's topic
        forged = build_payload(make_exam("clinic-b", "dev-1"), utc_now())
        assert publish_once(certs, "clinic-a/dev-1", tls_broker.port, "fetal-edge/v1/clinic-b/dev-1/results",
                            encode(forged)) == "Not authorized"
        # nor into another device's topic of its own clinic
        assert publish_once(certs, "clinic-a/dev-1", tls_broker.port, "fetal-edge/v1/clinic-a/dev-2/results",
                            encode(build_payload(make_exam("clinic-a", "dev-2"), utc_now()))) == "Not authorized"
        own = build_payload(make_exam("clinic-a", "dev-1"), utc_now())
        assert publish_once(certs, "clinic-a/dev-1", tls_broker.port, "fetal-edge/v1/clinic-a/dev-1/results",
                            encode(own)) == "Success"
        assert rx.wait_for(1, 10) == 1
        time.sleep(0.3)
        assert rx.ids() == [own["result_id"]] and rx.receiver.stats.rejected == 0


def test_worker_configured_for_another_clinic_keeps_results_and_says_why(tls_broker: Broker, certs: Path,  # noqa: F811
                                                                         tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "dev.sqlite")
    store.save(make_exam("clinic-b", "dev-1"))
    s = sync_settings(tls_broker, certs, "clinic-a/dev-1", clinic_id="clinic-b")   # cert is clinic-a's
    worker = SyncWorker(store, s)
    run_for(worker, 1.5)
    assert worker.state.sent == 0 and worker.state.refused >= 1 and store.outbox_len() == 1
    assert "Not authorized" in worker.state.last_error and "stay in the outbox" in worker.state.last_error
    assert worker.state.steps < 100


@pytest.mark.parametrize("case", ["no_certificate", "certificate_of_another_ca", "expired_certificate"])
def test_client_without_a_valid_certificate_is_refused(tls_broker: Broker, certs: Path, other_pki: Path,  # noqa: F811
                                                       expired: Path, case: str) -> None:
    cert, key = {
        "no_certificate": (None, None),
        "certificate_of_another_ca": (other_pki / "devices/clinic-a/dev-1.crt", other_pki / "devices/clinic-a/dev-1.key"),
        "expired_certificate": (certs / "devices/clinic-a/dev-expired.crt", certs / "devices/clinic-a/dev-expired.key"),
    }[case]
    ok, message = probe(make_client(f"probe-{case}", True, certs / "ca.crt", cert, key), "127.0.0.1",
                        tls_broker.port)
    assert not ok
    assert "127.0.0.1" in message


def test_expired_certificate_worker_keeps_results_and_retries_without_spinning(
        tls_broker: Broker, expired: Path, tmp_path: Path) -> None:  # noqa: F811
    store = ResultStore(tmp_path / "dev.sqlite")
    store.save_many([make_exam() for _ in range(3)])
    worker = SyncWorker(store, sync_settings(tls_broker, expired, "clinic-a/dev-expired", clinic_id="clinic-a",
                                             device_id="dev-expired"))
    run_for(worker, 2.0)
    assert worker.state.sent == 0 and store.outbox_len() == 3
    assert worker.state.connect_failures >= 2 and worker.state.steps < 150
    # the broker sends a "certificate expired" TLS alert, or (timing) just closes the socket
    assert "closed the connection before accepting it" in worker.state.last_error
    assert "dev-expired.crt" in worker.state.last_error


def test_device_refuses_a_broker_not_signed_by_the_project_ca(tls_broker: Broker, certs: Path,  # noqa: F811
                                                               other_pki: Path, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "dev.sqlite")
    store.save(make_exam())
    s = sync_settings(tls_broker, certs, ca=other_pki / "ca.crt")
    worker = SyncWorker(store, s)
    run_for(worker, 1.0)
    assert store.outbox_len() == 1 and worker.state.sent == 0
    assert "certificate was not accepted" in worker.state.last_error
    assert "self-signed certificate in certificate chain" in worker.state.last_error


def test_unencrypted_client_is_refused(tls_broker: Broker) -> None:
    ok, message = probe(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5), "127.0.0.1",
                        tls_broker.port, timeout_s=2)
    assert not ok


def test_a_device_cannot_read_other_devices_results(tls_broker: Broker, certs: Path, tmp_path: Path) -> None:  # noqa: F811
    spy = make_client("spy", True, certs / "ca.crt", certs / "devices/clinic-a/dev-1.crt",
                      certs / "devices/clinic-a/dev-1.key")
    got: list[bytes] = []
    subacks: list[list[str]] = []
    spy.on_message = lambda c, u, msg: got.append(msg.payload)
    spy.on_subscribe = lambda c, u, mid, rcs, p: subacks.append([str(rc) for rc in rcs])
    spy.connect("127.0.0.1", tls_broker.port)
    spy.loop_start()
    spy.subscribe("fetal-edge/v1/#", qos=1)
    deadline = time.monotonic() + 5
    while not subacks and time.monotonic() < deadline:
        time.sleep(0.02)
    with RunningReceiver(tls_broker, str(tmp_path / "rx.sqlite"), certs) as rx:
        p = build_payload(make_exam("clinic-b", "dev-1"), utc_now())
        assert publish_once(certs, "clinic-b/dev-1", tls_broker.port, "fetal-edge/v1/clinic-b/dev-1/results",
                            encode(p)) == "Success"
        assert rx.wait_for(1, 10) == 1                     # the receiver got it ...
        time.sleep(0.3)
    spy.loop_stop()
    spy.disconnect()
    assert got == []                                      # ... the other clinic's device did not
    assert subacks       # mosquitto 2.0 grants the subscription and filters each message by the read ACL
