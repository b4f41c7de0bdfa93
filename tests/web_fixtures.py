"""Shared by the dashboard tests: a receiver database with two clinics' exams stored through the real ingest
path, the app on it, and a logged-in test client per role."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import PG_URL, make_exam, pg_schema

from edge.sync.payload import build_payload
from receiver import users
from receiver.database import open_engine, sessions
from receiver.ingest import Batch, settle_latest, write_batch
from receiver.models import Clinic, Device
from receiver.web.app import create_app
from receiver.web.settings import WebSettings

PASSWORDS = {"prog": "programme-pass", "nurse-a": "clinic-a-pass", "boss": "admin-password"}
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def payload(clinic: str = "clinic-a", device: str = "dev-1", days_ago: float = 1.0, **edit: Any) -> dict[str, Any]:
    """A valid result payload (edge.sync.payload) started `days_ago`, with top-level fields replaced by `edit`."""
    p = build_payload(make_exam(clinic, device), (NOW - timedelta(days=days_ago, minutes=-5)).isoformat())
    started = NOW - timedelta(days=days_ago)
    p["started_at"], p["ended_at"] = started.isoformat(), (started + timedelta(minutes=4)).isoformat()
    p.update(edit)
    return p


def implausible(clinic: str = "clinic-a", device: str = "dev-1", days_ago: float = 0.5,
                source: str = "Hadlock et al. 1981") -> dict[str, Any]:
    """An exam whose cephalic index check failed: the receiver raises an alert for it."""
    p = payload(clinic, device, days_ago)
    p["plausibility"] = [{"check": "bpd_ofd_ratio", "value": 0.62, "range": [0.70, 0.86], "ok": False,
                          "source": source}]
    return p


def store(engine: Any, payloads: list[dict[str, Any]], at: datetime = NOW) -> None:
    with sessions(engine)() as db:
        write_batch(db, Batch(results=[(p, at) for p in payloads]))
        db.commit()
        settle_latest(db, payloads)
        db.commit()


def add_clinic(engine: Any, clinic: str, devices: tuple[str, ...] = ("dev-1",), name: str | None = None,
               district: str | None = None) -> None:
    with sessions(engine)() as db:
        db.add(Clinic(clinic_id=clinic, name=name, district=district, created_at=NOW))
        for d in devices:
            db.add(Device(clinic_id=clinic, device_id=d, registered_at=NOW - timedelta(days=30)))
        db.commit()


def seed_two_clinics(engine: Any) -> dict[str, list[str]]:
    """clinic-a (North): 3 exams, one implausible; clinic-b (South): 2 exams, one implausible. Users:
    prog (programme), nurse-a (clinic, clinic-a), boss (admin)."""
    add_clinic(engine, "clinic-a", ("dev-1", "dev-2"), "Clinic A", "North")
    add_clinic(engine, "clinic-b", ("dev-1",), "Clinic B", "South")
    a = [payload(days_ago=2), payload(device="dev-2", days_ago=3), implausible()]
    b = [payload("clinic-b", days_ago=1), implausible("clinic-b", days_ago=0.2)]
    store(engine, a + b)
    with sessions(engine)() as db:
        users.add_user(db, "prog", PASSWORDS["prog"], "programme")
        users.add_user(db, "nurse-a", PASSWORDS["nurse-a"], "clinic", ["clinic-a"])
        users.add_user(db, "boss", PASSWORDS["boss"], "admin")
        db.commit()
    return {"clinic-a": [p["result_id"] for p in a], "clinic-b": [p["result_id"] for p in b]}


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(client: Any, name: str, password: str | None = None) -> Any:
    token = csrf(client.get("/login").text)
    r = client.post("/login", data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token,
                                    "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A migrated receiver database on SQLite, and on PostgreSQL in a schema of its own (dropped after)."""
    if request.param == "sqlite":
        eng = open_engine(str(tmp_path / "rx.sqlite"))
        yield eng
        eng.dispose()
        return
    with pg_schema("fetal_web") as schema:
        eng = open_engine(PG_URL, pg_schema=schema)
        yield eng
        eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    eng = open_engine(str(tmp_path / "rx.sqlite"))
    yield eng
    eng.dispose()


def make_client(engine: Any, **settings: Any):
    from fastapi.testclient import TestClient

    return TestClient(create_app(WebSettings(**settings), engine), raise_server_exceptions=True)
