"""End to end in a real browser: exams saved on two devices (edge.store.ResultStore) are synced by the sync
worker through a real mosquitto to the receiver; a clinic user logs in in Chromium, sees their clinic's exams
on the overview (and not the other clinic's), opens the exam with an alert and acknowledges it."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser.driver import LAPTOP, TABLET, chrome, full_page_screenshot
from browser.pages import AlertsPage, ExamPage, LoginPage, OverviewPage
from mqtt_broker import Broker, RunningReceiver, broker, make_exam, sync_settings  # noqa: F401
from sqlalchemy import select

from edge.store import ResultStore
from edge.sync.worker import SyncWorker
from receiver import users
from receiver.api import ApiServer
from receiver.database import open_engine, sessions
from receiver.models import Alert
from receiver.web.app import create_app
from receiver.web.settings import WebSettings

NOTE = "Called her back: rescan booked for Monday"


def _sync(broker: Broker, tmp: Path, ident: str, exams: list) -> None:  # noqa: F811
    store = ResultStore(tmp / f"{ident.replace('/', '_')}.sqlite")
    store.save_many(exams)
    SyncWorker(store, sync_settings(broker, ident=ident)).run(once=True, timeout_s=30)
    assert store.outbox_len() == 0


def _implausible_exam():
    exam = make_exam("clinic-a", "dev-1")
    exam.plausibility = [{"check": "bpd_ofd_ratio", "value": 0.62, "range": [0.7, 0.86], "ok": False,
                          "source": "Hadlock et al. 1981, AJR 137:83-85"}]
    return exam


@pytest.mark.slow
def test_device_results_reach_the_dashboard_and_a_user_acknowledges_an_alert(broker: Broker,  # noqa: F811
                                                                              tmp_path: Path) -> None:
    db = str(tmp_path / "rx.sqlite")
    with RunningReceiver(broker, db) as rx:
        _sync(broker, tmp_path, "clinic-a/dev-1", [make_exam(), make_exam(), _implausible_exam()])
        _sync(broker, tmp_path, "clinic-b/dev-1", [make_exam("clinic-b", "dev-1")])
        assert rx.wait_for(4) == 4
    engine = open_engine(db)
    with sessions(engine)() as s:
        users.add_user(s, "nurse-a", "clinic-a-pass", "clinic", ["clinic-a"])
        s.commit()
    server = ApiServer(create_app(WebSettings(db_url=db), engine), port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    driver = chrome(tmp_path / "profile")
    try:
        driver.get(base + "/alerts")                                   # anonymous: sent to the login
        assert driver.current_url.startswith(base + "/login")
        LoginPage(driver, base).log_in("nurse-a", "clinic-a-pass")
        assert driver.current_url == base + "/alerts"                  # and back where they were going
        overview = OverviewPage(driver, base).open()
        assert overview.kpi("exams") == "3" and overview.kpi("open alerts") == "1"
        assert overview.clinic_totals() == {"clinic-a": 3}             # clinic-b's exam is not theirs
        for name, size in (("overview-laptop", LAPTOP), ("overview-tablet", TABLET)):
            full_page_screenshot(driver, tmp_path / f"{name}.png", size[0])
        alerts = AlertsPage(driver, base).open()
        assert len(alerts.rows()) == 1 and "bpd_ofd_ratio" in alerts.rows()[0]
        exam: ExamPage = alerts.open_first_exam()
        rows = exam.measurement_rows()
        assert "181.5 mm" in rows["Head circumference"] and "ellipse_fit" in rows["Head circumference"]
        assert "head-seg 1.0.0" in rows["Head circumference"] and exam.charts() == 4
        exam.acknowledge_first_alert(NOTE)
        exam.wait_for(".alert-item .acked")
        assert "nurse-a" in exam.acknowledged()[0] and NOTE in exam.acknowledged()[0]
        full_page_screenshot(driver, tmp_path / "exam-laptop.png", LAPTOP[0])
        assert AlertsPage(driver, base).open().rows() == []             # the queue is empty now
    finally:
        driver.quit()
        server.stop()
    with sessions(engine)() as s:
        alert = s.scalar(select(Alert))
        assert (alert.ack_by, alert.ack_note) == ("nurse-a", NOTE) and alert.ack_at is not None
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    engine.dispose()
