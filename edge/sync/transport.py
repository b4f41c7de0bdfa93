"""paho-mqtt is only the transport: build a client from the sync settings, and turn its failures into
clear messages (connect errors, refused CONNACKs) for the worker, `fetal-edge status` and the receiver."""

from __future__ import annotations

import random
import socket
import ssl
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from edge.errors import ConfigError

CONNECT_TIMEOUT_S = 5.0


class Backoff:
    """Exponential reconnect delay with +-20 % jitter: min, 2*min, 4*min ... up to max; reset on success."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self.min_s, self.max_s, self.delay = min_s, max_s, min_s

    def next(self) -> float:
        delay = self.delay * random.uniform(0.8, 1.2)
        self.delay = min(self.delay * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self.delay = self.min_s


def make_client(client_id: str, tls: bool, ca: Path | None, cert: Path | None, key: Path | None,
                max_inflight: int = 100) -> mqtt.Client:
    """An MQTT 5 client (paho 2.x callback API v2). TLS verifies the broker against the project CA."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect_timeout = CONNECT_TIMEOUT_S
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    if tls:
        for what, path in (("CA certificate", ca), ("client certificate", cert), ("client key", key)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"sync TLS {what} {path} not found; make them with scripts/make_certs.sh")
        try:
            client.tls_set(ca_certs=str(ca) if ca else None, certfile=str(cert) if cert else None,
                           keyfile=str(key) if key else None, cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigError(f"sync TLS files (ca={ca}, cert={cert}, key={key}) cannot be used: {exc}") from None
    return client


def explain_connect_error(exc: BaseException, host: str, port: int) -> str:
    """One line an operator can act on."""
    where = f"broker {host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{where}: its TLS certificate was not accepted ({exc.verify_message}); "
                f"check sync.ca is the project CA and the broker certificate is valid and names {host}")
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS handshake failed ({exc.reason or exc}); check the device certificate and key"
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: connection refused (broker not running, or wrong port)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"{where}: no answer within {CONNECT_TIMEOUT_S:.0f} s (network down or firewall)"
    if isinstance(exc, socket.gaierror):
        return f"{where}: host name cannot be resolved ({exc})"
    return f"{where}: {type(exc).__name__}: {exc}"


def explain_refusal(reason: object, host: str, port: int) -> str:
    text = str(reason)
    hint = ""
    if "authori" in text.lower() or "user name" in text.lower():
        hint = "; the broker does not accept this device's certificate/identity"
    return f"broker {host}:{port} refused the connection: {text}{hint}"


def probe(client: mqtt.Client, host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> tuple[bool, str]:
    """Connect, wait for CONNACK, disconnect. (reachable, message)."""
    outcome: dict[str, object] = {}
    client.on_connect = lambda c, u, f, rc, p: outcome.setdefault("rc", rc)
    client.on_disconnect = lambda c, u, f, rc, p: outcome.setdefault("lost", rc)
    errors: list[str] = []
    client.on_log = lambda c, u, level, msg: errors.append(msg) if level == mqtt.MQTT_LOG_ERR else None
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        return False, explain_connect_error(exc, host, port)
    deadline = time.monotonic() + timeout_s
    while "rc" not in outcome and "lost" not in outcome and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    rc = outcome.get("rc")
    client.disconnect()
    if rc is None:
        detail = errors[-1] if errors else "the connection closed before CONNACK"
        return False, f"broker {host}:{port}: no CONNACK ({detail}); certificate rejected?"
    if getattr(rc, "is_failure", False):
        return False, explain_refusal(rc, host, port)
    return True, f"broker {host}:{port} reachable (MQTT 5 CONNACK accepted)"
