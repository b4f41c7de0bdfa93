"""A real mosquitto for the sync tests: started on a free loopback port with a generated config.

`Broker(workdir, tls=False)`: plain MQTT, anonymous. `Broker(workdir, tls=True, certs=...)`: TLS with
require_certificate + use_identity_as_username and an ACL under which a device (certificate CN
"<clinic>/<device>") may publish only to fetal-edge/v1/<clinic>/<device>/{results,telemetry} and only the
"receiver" identity may subscribe. Persistence is on, so a graceful restart keeps queued messages.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(out: Path, *identities: str, days: int | None = None) -> Path:
    env = None if days is None else {"DAYS": str(days), "PATH": "/usr/bin:/bin"}
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
