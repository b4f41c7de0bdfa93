"""Who may see what: login, roles, clinic scoping by page, API, FHIR and guessed id; CSRF; sessions that end;
security headers. SQLite and PostgreSQL."""

from __future__ import annotations

import time

import itsdangerous.timed
import pytest
from web_fixtures import (PASSWORDS, csrf, engine, log_in, make_client, seed_two_clinics,  # noqa: F401
                          sqlite_engine)

from receiver import users
from receiver.database import sessions


@pytest.fixture
def world(engine):  # noqa: F811
    """Both databases: scoping is SQL."""
    return engine, seed_two_clinics(engine)


@pytest.fixture
def sqlite_world(sqlite_engine):  # noqa: F811
    """Login, CSRF, sessions and headers do not depend on the database: SQLite only."""
    return sqlite_engine, seed_two_clinics(sqlite_engine)


def test_anonymous_pages_go_to_the_login_and_the_api_answers_401(world) -> None:
    eng, ids = world
    c = make_client(eng)
    for path in ("/", "/alerts", "/exams", f"/exams/{ids['clinic-a'][0]}", "/devices", "/clinics", "/admin/users"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for path in ("/api/v1/exams", f"/api/v1/exams/{ids['clinic-a'][0]}", f"/fhir/Bundle/{ids['clinic-a'][0]}"):
        r = c.get(path)
        assert r.status_code == 401 and ids["clinic-a"][0] not in r.text and "clinic-a" not in r.text, path
    health = c.get("/health")                             # no login; no clinical data
    assert health.status_code == 503 and "no receiver" in " ".join(health.json()["problems"])
    assert "clinic-a" not in health.text


def test_a_clinic_user_sees_only_its_clinic_by_page_api_fhir_and_guessed_id(world) -> None:
    eng, ids = world
    c = log_in(make_client(eng), "nurse-a")
    for rid in ids["clinic-b"]:
        for path in (f"/exams/{rid}", f"/api/v1/exams/{rid}", f"/fhir/Bundle/{rid}", f"/fhir/Bundle/{rid}?download=1"):
            r = c.get(path)
            assert r.status_code == 404, path
            assert rid not in r.text and "clinic-b" not in r.text and "Clinic B" not in r.text, path
    for path in ("/", "/exams", "/exams?clinic=clinic-b", "/alerts?state=all", "/devices", "/clinics",
                 "/api/v1/overview", "/api/v1/exams?clinic=clinic-b", "/api/v1/alerts?state=all",
                 "/api/v1/devices", "/api/v1/clinics", "/devices/clinic-b/dev-1", "/api/v1/devices/clinic-b/dev-1"):
        r = c.get(path)
        assert r.status_code in (200, 403, 404), path
        assert "clinic-b" not in r.text and "Clinic B" not in r.text, path
        assert not any(rid in r.text for rid in ids["clinic-b"]), path
    mine = c.get("/api/v1/exams").json()["items"]
    assert sorted(e["result_id"] for e in mine) == sorted(ids["clinic-a"])
    assert c.get(f"/exams/{ids['clinic-a'][0]}").status_code == 200
    assert c.get("/admin/users").status_code == 403


def test_a_clinic_user_cannot_acknowledge_another_clinics_alert(world) -> None:
    eng, ids = world
    prog = log_in(make_client(eng), "prog")
    alerts = prog.get("/api/v1/alerts").json()["items"]
    assert sorted(a["clinic_id"] for a in alerts) == ["clinic-a", "clinic-b"]
    theirs = next(a for a in alerts if a["clinic_id"] == "clinic-b")
    nurse = log_in(make_client(eng), "nurse-a")
    token = csrf(nurse.get("/alerts").text)
    r = nurse.post(f"/alerts/{theirs['id']}/ack", data={"note": "seen", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 404 and "clinic-b" not in r.text
    assert next(a for a in prog.get("/api/v1/alerts?state=all").json()["items"] if a["id"] == theirs["id"])[
        "ack_at"] is None


def test_acknowledging_keeps_who_when_and_the_note(world) -> None:
    eng, ids = world
    c = log_in(make_client(eng), "nurse-a")
    alert = c.get("/api/v1/alerts").json()["items"][0]
    token = csrf(c.get("/alerts").text)
    assert c.post(f"/alerts/{alert['id']}/ack", data={"note": "  ", "csrf_token": token}).status_code == 400
    r = c.post(f"/alerts/{alert['id']}/ack", data={"note": "rescanned, BPD fine", "csrf_token": token},
               follow_redirects=False)
    assert r.status_code == 303
    done = c.get("/api/v1/alerts?state=acknowledged").json()["items"]
    assert [(a["id"], a["ack_by"], a["ack_note"]) for a in done] == [(alert["id"], "nurse-a", "rescanned, BPD fine")]
    assert done[0]["ack_at"] is not None and c.get("/api/v1/alerts").json()["items"] == []
    again = c.post(f"/alerts/{alert['id']}/ack", data={"note": "twice", "csrf_token": token})
    assert again.status_code == 409 and "already acknowledged by nurse-a" in again.text


def test_forms_without_their_csrf_token_are_refused(sqlite_world) -> None:
    eng, ids = sqlite_world
    c = make_client(eng)
    r = c.post("/login", data={"name": "prog", "password": PASSWORDS["prog"]}, follow_redirects=False)
    assert r.status_code == 403 and "fe_session" not in r.headers.get("set-cookie", "")
    log_in(c, "prog")
    alert = c.get("/api/v1/alerts").json()["items"][0]
    for data in ({"note": "x"}, {"note": "x", "csrf_token": "forged"}):
        assert c.post(f"/alerts/{alert['id']}/ack", data=data).status_code == 403
    assert c.post("/logout", data={}).status_code == 403
    assert c.get("/api/v1/alerts").json()["items"][0]["ack_at"] is None


def test_wrong_password_ten_times_slows_down_then_refuses_even_the_right_one(sqlite_world) -> None:
    eng, _ = sqlite_world
    c = make_client(eng)
    statuses = []
    for _ in range(10):
        token = csrf(c.get("/login").text)
        statuses.append(c.post("/login", data={"name": "prog", "password": "guess", "csrf_token": token}).status_code)
    assert statuses[:3] == [401, 401, 401] and 429 in statuses and set(statuses) <= {401, 429}
    token = csrf(c.get("/login").text)
    r = c.post("/login", data={"name": "prog", "password": PASSWORDS["prog"], "csrf_token": token},
               follow_redirects=False)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "Try again in" in r.text
    api = make_client(eng).get("/api/v1/exams", auth=("prog", PASSWORDS["prog"]))
    assert api.status_code == 429                        # the same count guards HTTP Basic


def test_sessions_expire_and_end_when_the_password_changes(sqlite_world, monkeypatch: pytest.MonkeyPatch) -> None:
    eng, _ = sqlite_world
    c = log_in(make_client(eng), "prog")
    assert c.get("/").status_code == 200
    with sessions(eng)() as db:
        users.set_password(db, "prog", "a-new-password")
        db.commit()
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    old = log_in(make_client(eng, session_idle_s=60), "prog", "a-new-password")
    real = time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 3600)   # an hour later
    r = old.get("/alerts", follow_redirects=False)
    assert r.status_code == 303 and "expired=1" in r.headers["location"]
    assert "Your session expired" in old.get(r.headers["location"]).text


def test_security_headers_and_no_open_redirect(sqlite_world) -> None:
    eng, _ = sqlite_world
    c = make_client(eng)
    r = c.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        token = csrf(c.get("/login").text)
        r = c.post("/login", data={"name": "prog", "password": PASSWORDS["prog"], "csrf_token": token,
                                   "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", target
        assert "httponly" in r.headers["set-cookie"].lower()


def test_roles_admin_manages_users(sqlite_world) -> None:
    eng, _ = sqlite_world
    c = log_in(make_client(eng), "boss")
    token = csrf(c.get("/admin/users").text)
    r = c.post("/admin/users", data={"name": "nurse-b", "password": "clinic-b-pass", "role": "clinic",
                                      "clinics": "clinic-b", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert c.post("/admin/users", data={"name": "x", "password": "short", "role": "clinic", "clinics": "clinic-b",
                                         "csrf_token": token}).status_code == 400
    nurse_b = log_in(make_client(eng), "nurse-b", "clinic-b-pass")
    assert {e["clinic_id"] for e in nurse_b.get("/api/v1/exams").json()["items"]} == {"clinic-b"}
    assert c.post("/admin/users/nurse-b/disable", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert nurse_b.get("/", follow_redirects=False).status_code == 303       # disabling ends the session
    assert c.post("/admin/users/boss/disable", data={"csrf_token": token}).status_code == 400


def test_admin_registers_a_device_and_its_held_results_are_stored(sqlite_world) -> None:
    from edge.sync.payload import encode
    from receiver.db import Database
    from receiver.service import Receiver, ReceiverSettings
    from web_fixtures import payload

    eng, _ = sqlite_world
    url = eng.url.database
    early = payload("clinic-c", "dev-9")
    db = Database(url)
    Receiver(db, ReceiverSettings(tls=False)).process([(b"fetal-edge/v1/clinic-c/dev-9/results", encode(early))])
    db.engine.dispose()
    nurse = log_in(make_client(eng), "nurse-a")
    token = csrf(nurse.get("/devices").text)
    assert nurse.post("/admin/devices", data={"clinic": "clinic-c", "device": "dev-9", "csrf_token": token}
                      ).status_code == 403
    c = log_in(make_client(eng), "boss")
    token = csrf(c.get("/devices").text)
    assert c.post("/admin/devices", data={"clinic": "bad/id", "device": "d", "csrf_token": token}).status_code == 400
    r = c.post("/admin/devices", data={"clinic": "clinic-c", "device": "dev-9", "clinic_name": "Clinic C",
                                       "district": "East", "csrf_token": token})
    assert r.status_code == 200 and "registered clinic-c/dev-9 (1 held stored)" in r.text
    assert [e["result_id"] for e in c.get("/api/v1/exams?clinic=clinic-c").json()["items"]] == [early["result_id"]]
    assert c.get("/api/v1/clinics?clinic=clinic-c").json()["items"][0]["district"] == "East"
