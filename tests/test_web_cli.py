"""`fetal-receiver user ...` and the demo database a newcomer opens."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from mqtt_broker import REPO
from web_fixtures import log_in, make_client

from sqlalchemy import func, select

from receiver.database import open_engine, sessions
from receiver.models import Result
from receiver.web.cli import DEMO_USERS
from receiver.web.demo import seed_demo


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "receiver.cli", *args], cwd=REPO, input=stdin, text=True,
                          capture_output=True, timeout=120)


def test_user_commands_add_list_disable_and_refuse_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "rx.sqlite")
    ok = _cli("user", "add", "nurse", "--role", "clinic", "--clinic", "C1", "--clinic", "C2", "--db", db,
              "--password-stdin", stdin="a-long-password\n")
    assert ok.returncode == 0, ok.stderr
    listed = _cli("user", "list", "--db", db).stdout
    assert "nurse\tclinic\tC1,C2\tactive" in listed
    for args, stdin, message in (
            (("add", "x", "--role", "clinic"), "a-long-password\n", "needs at least one --clinic"),
            (("add", "y", "--role", "programme", "--clinic", "C1"), "a-long-password\n", "only with --role clinic"),
            (("add", "nurse", "--role", "admin"), "a-long-password\n", "exists already"),
            (("add", "z", "--role", "admin"), "short\n", "at least 10"),
            (("add", "bad/name", "--role", "admin"), "a-long-password\n", "user name 'bad/name'"),
            (("disable", "ghost"), "", "no user 'ghost'")):
        r = _cli("user", *args, "--db", db, *(("--password-stdin",) if stdin else ()), stdin=stdin)
        assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert _cli("user", "disable", "nurse", "--db", db).returncode == 0
    assert "nurse\tclinic\tC1,C2\tdisabled" in _cli("user", "list", "--db", db).stdout


def test_the_demo_database_shows_clinics_alerts_drift_and_a_pregnancys_visits(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "demo.sqlite"))
    stored = seed_demo(engine, datetime.now(timezone.utc), DEMO_USERS)
    name, _, _, password = DEMO_USERS[0]
    c = log_in(make_client(engine, accept_patient_ref=True), name, password)
    o = c.get("/api/v1/overview").json()                       # the last 8 weeks
    assert o["exams"] > 500 and stored >= o["exams"] and len(o["clinics"]["items"]) == 8 and o["open_alerts"] > 0
    devices = c.get("/api/v1/devices?per_page=500").json()["items"]
    assert any(w["warning"] for d in devices for w in d["drift"])
    with sessions(engine)() as db:
        ref, rid = db.execute(select(Result.patient_ref, func.max(Result.result_id)).where(Result.is_latest)
                              .group_by(Result.patient_ref).having(func.count() >= 3)).first()
    page = c.get(f"/exams/{rid}").text
    hc_chart = page[page.index("<figcaption>Head circumference"):page.index("<figcaption>Abdominal")]
    assert hc_chart.count('<circle class="pt') >= 3 and ref in page          # the visits of one pregnancy
    midwife = next(u for u in DEMO_USERS if u[1] == "clinic")
    m = log_in(make_client(engine), midwife[0], midwife[3])
    assert {e["clinic_id"] for e in m.get("/api/v1/exams?per_page=500").json()["items"]} == set(midwife[2])
    engine.dispose()
