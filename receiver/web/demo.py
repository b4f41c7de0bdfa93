"""`seed_demo(engine, now, users)`: fills an empty database with the demo clinics, devices, exams and
telemetry (receiver.web.demo_data) through the receiver's ingest path, and adds the demo users."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy.engine import Engine

from receiver import users
from receiver.database import sessions
from receiver.ingest import Batch, settle_latest, write_batch
from receiver.models import Clinic, Device
from receiver.web.demo_data import CLINICS, demo_results, demo_telemetry


def seed_demo(engine: Engine, now: datetime, demo_users: Sequence[tuple[str, str, list[str], str]]) -> int:
    """Store the demo data; the number of exams stored."""
    results = list(demo_results(now))
    with sessions(engine)() as db:
        for clinic_id, name, district in CLINICS:
            db.add(Clinic(clinic_id=clinic_id, name=name, district=district, created_at=now))
            for device in ("dev-1", "dev-2"):
                db.add(Device(clinic_id=clinic_id, device_id=device, registered_at=now))
        db.flush()
        out = write_batch(db, Batch(results=results, telemetry=list(demo_telemetry(now))))
        db.commit()
        settle_latest(db, [p for p, _ in results])
        for name, role, clinics, password in demo_users:
            users.add_user(db, name, password, role, clinics)
        db.commit()
    return len(out.inserted)

