"""Screenshots of every dashboard page on the demo database, at laptop (1366x768) and tablet (768x1024) width:

    python tests/browser/screenshots.py docs/screenshots

Seeds a fresh demo database (receiver.web.demo), serves the dashboard on a free port, logs in as the demo
programme user in headless Chromium and saves <page>-<laptop|tablet>.png (full page height)."""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser.driver import LAPTOP, TABLET, chrome, full_page_screenshot  # noqa: E402
from browser.pages import AlertsPage, ClinicsPage, DevicesPage, ExamsPage, LoginPage, OverviewPage  # noqa: E402

from receiver.api import ApiServer  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from receiver.database import open_engine, sessions  # noqa: E402
from receiver.models import Result  # noqa: E402
from receiver.web.app import create_app  # noqa: E402
from receiver.web.cli import DEMO_USERS  # noqa: E402
from receiver.web.demo import seed_demo  # noqa: E402
from receiver.web.settings import WebSettings  # noqa: E402


def _showcase_exam(engine) -> str:
    """An exam with an alert, a head measurement and at least three visits of its pregnancy."""
    with sessions(engine)() as db:
        visits = (select(Result.patient_ref).where(Result.is_latest).group_by(Result.patient_ref)
                  .having(func.count() >= 3))
        return db.scalar(select(Result.result_id).where(Result.patient_ref.in_(visits), Result.alert_count > 0,
                                                        Result.hc_value.is_not(None), Result.is_latest)
                         .order_by(Result.started_at.desc()).limit(1))


def main(out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="fetal-shots-"))
    engine = open_engine(str(work / "demo.sqlite"))
    seed_demo(engine, datetime.now(timezone.utc), DEMO_USERS)
    server = ApiServer(create_app(WebSettings(db_url=str(work / "demo.sqlite"), accept_patient_ref=True), engine), port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    driver = chrome(work / "profile")
    name, _, _, password = DEMO_USERS[0]
    try:
        LoginPage(driver, base).open()
        for label, size in (("laptop", LAPTOP), ("tablet", TABLET)):
            full_page_screenshot(driver, out / f"login-{label}.png", *size)
        LoginPage(driver, base).log_in(name, password)
        shots = [("overview", OverviewPage), ("alerts", AlertsPage), ("exams", ExamsPage), ("devices", DevicesPage),
                 ("clinics", ClinicsPage)]
        for page_name, page in shots:
            page(driver, base).open()
            for label, size in (("laptop", LAPTOP), ("tablet", TABLET)):
                full_page_screenshot(driver, out / f"{page_name}-{label}.png", *size)
        driver.get(f"{base}/exams/{_showcase_exam(engine)}")
        for label, size in (("laptop", LAPTOP), ("tablet", TABLET)):
            full_page_screenshot(driver, out / f"exam-{label}.png", *size)
        full_page_screenshot(driver, out / "exam-laptop-full.png", LAPTOP[0])
    finally:
        driver.quit()
        server.stop()
        engine.dispose()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
