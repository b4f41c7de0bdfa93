"""deploy/ (docs/deploy.md) stays runnable: every command in the compose file parses with today's
`fetal-receiver`, the receivers form one shared group with distinct stable ids, and the broker config and ACL
are the ones the TLS tests run with."""

from __future__ import annotations

from pathlib import Path

import yaml

from receiver.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_compose_commands_parse_and_receivers_share_one_group() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    parser = build_parser()
    receivers = {name: parser.parse_args(s["command"]) for name, s in services.items() if name.startswith("receiver")}
    assert len(receivers) >= 3
    assert len({a.client_id for a in receivers.values()}) == len(receivers)           # one stable id each
    assert {a.share_group for a in receivers.values()} == {"receivers"}
    assert all(a.tls and a.ca and a.cert and a.key and a.http_host == "0.0.0.0" for a in receivers.values())
    dashboard = parser.parse_args(services["dashboard"]["command"])
    assert dashboard.command == "dashboard" and dashboard.secure_cookies
    assert {a.db for a in receivers.values()} == {dashboard.db}                        # one PostgreSQL
    assert all(services[n]["restart"] == "always" and "healthcheck" in services[n] for n in receivers)


def test_broker_config_requires_certificates_and_the_acl() -> None:
    conf = dict(line.split(None, 1) for line in (DEPLOY / "mosquitto.conf").read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    assert conf["require_certificate"].split()[0] == "true" and conf["allow_anonymous"].split()[0] == "false"
    assert conf["use_identity_as_username"].split()[0] == "true" and conf["max_queued_messages"].split()[0] == "0"
    acl = [line for line in (DEPLOY / "acl").read_text().splitlines() if line and not line.startswith("#")]
    assert acl == ["pattern write fetal-edge/v1/%u/results", "pattern write fetal-edge/v1/%u/telemetry",
                   "user receiver", "topic read fetal-edge/v1/#"]
