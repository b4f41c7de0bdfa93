"""Hostile text reaches the receiver: very long names, SQL, HTML and script in the fields people type or
devices send. It is stored as text (bounded where it is a name), never executed, never a 500, and what may
not be stored is refused with a message naming the rule."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from mqtt_broker import REPO, make_exam, receiver_db  # noqa: F401
from sqlalchemy.orm import Session

from edge.results import utc_now
from edge.sync.payload import build_payload, encode
from receiver.api import ApiServer, make_app
from receiver.db import Database
from receiver.models import NAME_MAX, Alert, Clinic
from receiver.service import Receiver, ReceiverSettings

EVIL = "<script>alert('x')</script><img src=x onerror=alert(1)>'; DROP TABLE results; --"
LONG_ID = "C" * 64


def test_sql_and_html_in_payload_text_are_stored_as_text(receiver_db: Database, tmp_path: Path) -> None:  # noqa: F811
    db = receiver_db
    db.register_device(LONG_ID, "dev-1", clinic_name=EVIL + "é" * 1000, district=EVIL)
    p = build_payload(make_exam(LONG_ID, "dev-1"), utc_now())
    p["measurements"]["hc"]["value"], p["measurements"]["hc"]["flag"] = 520.0, "implausible"
    p["measurements"]["hc"]["reason"] = EVIL
    p["exam_flags"] = [EVIL]
    rx = Receiver(db, ReceiverSettings(tls=False))
    rx.process([(f"fetal-edge/v1/{LONG_ID}/dev-1/results".encode(), encode(p)),
                (f"fetal-edge/v1/{LONG_ID}x/dev-1/results".encode(), encode(p))])   # a 65-character id
    assert rx.stats.stored == 1 and rx.stats.rejected == 1
    with Session(db.engine) as s:
        clinic = s.get(Clinic, LONG_ID)
        alert = s.query(Alert).one()
    assert clinic.name.startswith(EVIL) and len(clinic.name) == NAME_MAX and clinic.district == EVIL
    assert EVIL in alert.message and alert.rule == "hc_implausible"           # stored verbatim, as text
    assert db.query("SELECT COUNT(*) FROM results")[0][0] == 1                 # and nothing was executed
    if db.engine.dialect.name == "sqlite":
        server = ApiServer(make_app(db.engine), "127.0.0.1", 0).start()
        try:
            answer = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/results?clinic={LONG_ID}")
        finally:
            server.stop()
        assert json.loads(answer.read())[0]["exam_flags"] == [EVIL]          # data in JSON, never a page
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_names_that_cannot_be_ids_or_are_too_long_are_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "rx.sqlite")

    def add(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "receiver.cli", "add-device", *args, "--db", db], cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    for args, words in ((("clinic/../x", "dev-1"), "clinic 'clinic/../x'"), (("c1", "d" * 65), "use 1-64"),
                        (("c1", "dev-1", "--clinic-name", "N" * 201), "--clinic-name: 1 to 200 characters"),
                        (("c1", "dev-1", "--district", ""), "--district: 1 to 200")):
        out = add(*args)
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr, out.stderr
    ok = add("c1", "dev-1", "--clinic-name", EVIL)
    assert ok.returncode == 0, ok.stderr
    assert Database(db).query("SELECT name FROM clinics")[0][0] == EVIL
