"""A real mosquitto for the sync tests: started on a free loopback port with a generated config.

`Broker(workdir, tls=False)`: plain MQTT, anonymous. `Broker(workdir, tls=True, certs=...)`: TLS with
require_certificate + use_identity_as_username and an ACL under which a device (certificate CN
"<clinic>/<device>") may publish only to fetal-edge/v1/<clinic>/<device>/{results,telemetry} and only the
"receiver" identity may subscribe. Persistence is on, so a graceful restart keeps queued messages.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
IDENTITIES = ("clinic-a/dev-1", "clinic-a/dev-2", "clinic-b/dev-1", "receiver")

ACL = """# devices: only their own topic (CN = <clinic>/<device>, the user name)
pattern write fetal-edge/v1/%u/results
pattern write fetal-edge/v1/%u/telemetry
# the central receiver reads everything
user receiver
topic read fetal-edge/v1/#
"""


def wait_until(cond, timeout: float = 60.0, every: float = 0.05) -> bool:
    """Poll `cond` until it is true or `timeout` seconds have passed; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return bool(cond())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(out: Path, *identities: str, days: int | None = None) -> Path:
    env = None if days is None else {**os.environ, "DAYS": str(days)}
    subprocess.run(["bash", str(REPO / "scripts" / "make_certs.sh"), str(out), *identities], check=True,
                   capture_output=True, env=env)
    return out


class Broker:
    def __init__(self, workdir: Path, tls: bool = False, certs: Path | None = None) -> None:
        if not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto is not installed (make mosquitto)")
        self.dir, self.tls, self.certs = workdir, tls, certs
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = self.dir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {self.dir}/",
                 "max_queued_messages 0", "max_inflight_messages 1000", "log_dest stderr",
                 "log_type error", "log_type warning", "log_type notice",
                 f"user {getpass.getuser()}"]  # as root, mosquitto would switch to "mosquitto" and lose the files
        if tls:
            (self.dir / "acl").write_text(ACL)
            lines += [f"cafile {certs}/ca.crt", f"certfile {certs}/broker.crt", f"keyfile {certs}/broker.key",
                      "require_certificate true", "use_identity_as_username true", f"acl_file {self.dir}/acl",
                      "allow_anonymous false"]
        else:
            lines += ["allow_anonymous true"]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> "Broker":
        self.log = open(self.dir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {(self.dir / 'mosquitto.log').read_text()[-2000:]}")
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("pki"), *IDENTITIES)


@pytest.fixture
def broker(tmp_path: Path) -> Broker:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def tls_broker(tmp_path: Path, certs: Path) -> Broker:
    b = Broker(tmp_path / "broker", tls=True, certs=certs).start()
    yield b
    b.stop()


PG_URL = "postgresql://127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def receiver_db(request: pytest.FixtureRequest, tmp_path: Path):
    """The receiver database on SQLite, and on PostgreSQL in a schema of its own (dropped afterwards)."""
    from receiver.db import Database

    if request.param == "sqlite":
        d = Database(str(tmp_path / "rx.sqlite"))
        yield d
        d.close()
        return
    with pg_schema() as schema:
        d = Database(PG_URL, pg_schema=schema)
        yield d
        d.close()


@contextlib.contextmanager
def pg_schema(prefix: str = "fetal_rx"):
    """A fresh PostgreSQL schema name (skips the test when PostgreSQL is not reachable); dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        psycopg.connect(PG_URL).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    try:
        yield schema
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---- helpers shared by the sync tests -------------------------------------------------------------

def make_exam(clinic: str = "clinic-a", device: str = "dev-1", hc: float | None = 181.5) -> "ExamResult":
    """A realistic exam result (HC/BPD/OFD measured by a model, GA derived, EFW not measured)."""
    from edge.manifest import ModelRef
    from edge.results import ExamResult, Measurement, utc_now

    seg = ModelRef("head-seg", "1.0.0", "3f" * 32)
    planes = ModelRef("planes-student", "1.0.0", "a1" * 32)
    ok = hc is not None
    meas = {
        "hc": Measurement("hc", hc, "mm", 0.91 if ok else 0.2, "ok" if ok else "no_measurement", seg,
                          "ellipse_fit", None if ok else "quality gate", 5),
        "bpd": Measurement("bpd", 47.2, "mm", 0.9, "ok", seg, "ellipse_fit", n_frames=5),
        "ofd": Measurement("ofd", 62.0, "mm", 0.9, "ok", seg, "ellipse_fit", n_frames=5),
        "ga": Measurement("ga", 140.0 if ok else None, "d", 0.9 if ok else 0.0, "ok" if ok else "no_measurement",
                          None, "hadlock1984_hc", None if ok else "no HC"),
        "efw": Measurement("efw", None, "g", 0.0, "no_measurement", None, None, "no AC/FL measured"),
    }
    return ExamResult(clinic, device, utc_now(), utc_now(), models=[seg, planes],
                      planes_seen={"Fetal brain": 120, "Other": 30}, measurements=meas,
                      plausibility=[{"check": "hc_vs_bpd_ofd", "value": 0.98, "range": [0.9, 1.1], "ok": True}],
                      frames=150, frames_dropped=2, fps=14.5)


class RunningReceiver:
    """The real receiver service in a thread, against a broker, storing into `db_url` (`settings` override
    ReceiverSettings fields, e.g. known_versions=("1.0",) for an old receiver)."""

    def __init__(self, broker: Broker, db_url: str, certs: Path | None = None,
                 devices: tuple[str, ...] = ("clinic-a/dev-1", "clinic-a/dev-2", "clinic-b/dev-1"),
                 pg_schema: str | None = None, **settings: object) -> None:
        import threading

        from receiver.db import Database
        from receiver.service import Receiver, ReceiverSettings

        self.db = Database(db_url, pg_schema)
        for ident in devices:
            self.db.register_device(*ident.split("/"))
        tls = broker.tls
        self.settings = ReceiverSettings(
            port=broker.port, tls=tls, ca=certs / "ca.crt" if tls else None,
            cert=certs / "devices/receiver.crt" if tls else None, key=certs / "devices/receiver.key" if tls else None,
            **settings)
        self.receiver = Receiver(self.db, self.settings)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.receiver.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> "RunningReceiver":
        self.thread.start()
        if not self.receiver.connected.wait(10):
            raise RuntimeError("receiver did not connect")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def ids(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT result_id FROM results")]

    def wait_for(self, n: int, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.receiver.stats.stored < n:
            time.sleep(0.05)
        return self.receiver.stats.stored


def sync_settings(broker: Broker, certs: Path | None = None, ident: str = "clinic-a/dev-1", **kw: object):
    from edge.settings.sync import SyncSettings

    clinic, device = ident.split("/")
    tls = broker.tls
    opts = dict(port=broker.port, tls=tls, clinic_id=clinic, device_id=device, backoff_min_s=0.1,
                backoff_max_s=0.5, poll_s=0.1)
    if tls:
        opts |= dict(ca=certs / "ca.crt", cert=certs / f"devices/{ident}.crt", key=certs / f"devices/{ident}.key")
    opts |= kw
    return SyncSettings(**opts)
