"""`seed_demo(engine, now, users)`: fills an empty database with generated schema-1.1 exams (receiver.seed:
pregnancies with several visits linked by a patient reference, centiles and alerts as a device computes them,
reviews that supersede, a drifting device, telemetry) and adds the demo users."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy.engine import Engine

from receiver import users
from receiver.database import sessions
from receiver.seed import seed_database

DEMO_EXAMS = 3000
DEMO_CLINICS = 8
DEMO_DEVICES = 24
DEMO_WEEKS = 16


def seed_demo(engine: Engine, now: datetime, demo_users: Sequence[tuple[str, str, list[str], str]]) -> int:
    """Store the demo data and users; the number of exams stored."""
    stored = seed_database(engine, DEMO_EXAMS, clinics=DEMO_CLINICS, devices=DEMO_DEVICES, weeks=DEMO_WEEKS,
                           patient_refs=True, now=now)
    with sessions(engine)() as db:
        for name, role, clinics, password in demo_users:
            users.add_user(db, name, password, role, clinics)
        db.commit()
    return stored
