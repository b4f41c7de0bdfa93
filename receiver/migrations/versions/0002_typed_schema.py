"""Typed schema on SQLAlchemy: clinics, devices, results with typed columns, alerts, telemetry (+ history),
held, rejected, receivers (heartbeats). A legacy database (revision 0001, made by the hand-written receiver) is converted in place:
every result, device, rejection, held payload and telemetry row is kept; typed columns are filled from the
stored payloads; timestamps become real timestamps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import sqlalchemy as sa
from alembic import op

from receiver.extract import alert_rows, digest, result_columns, telemetry_columns, utc, with_alerts
from receiver.models import UTCDateTime as UTC

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LEGACY = ("devices", "results", "rejected", "telemetry")
CHUNK = 2000


def create_tables() -> dict[str, sa.Table]:
    t: dict[str, sa.Table] = {}
    t['clinics'] = op.create_table('clinics',
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('district', sa.String(length=200), nullable=True),
    sa.Column('created_at', UTC(), nullable=False),
    sa.PrimaryKeyConstraint('clinic_id', name=op.f('pk_clinics'))
    )
    op.create_index(op.f('ix_clinics_district'), 'clinics', ['district'], unique=False)
    t['held'] = op.create_table('held',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('received_at', UTC(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('schema_version', sa.String(length=16), nullable=True),
    sa.Column('result_id', sa.String(length=36), nullable=True),
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held'))
    )
    op.create_index('held_by_kind', 'held', ['kind', 'clinic_id', 'device_id'], unique=False)
    op.create_index(op.f('ix_held_result_id'), 'held', ['result_id'], unique=False)
    t['rejected'] = op.create_table('rejected',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('received_at', UTC(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected'))
    )
    op.create_index('rejected_by_time', 'rejected', ['received_at'], unique=False)
    t['telemetry'] = op.create_table('telemetry',
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', UTC(), nullable=False),
    sa.Column('at', UTC(), nullable=False),
    sa.Column('free_disk_mb', sa.Float(), nullable=True),
    sa.Column('outbox_len', sa.Integer(), nullable=True),
    sa.Column('last_exam_fps', sa.Float(), nullable=True),
    sa.Column('last_sync_at', UTC(), nullable=True),
    sa.Column('store_warning', sa.Text(), nullable=True),
    sa.Column('models', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('clinic_id', 'device_id', name=op.f('pk_telemetry'))
    )
    t['telemetry_history'] = op.create_table('telemetry_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', UTC(), nullable=False),
    sa.Column('at', UTC(), nullable=False),
    sa.Column('free_disk_mb', sa.Float(), nullable=True),
    sa.Column('outbox_len', sa.Integer(), nullable=True),
    sa.Column('last_exam_fps', sa.Float(), nullable=True),
    sa.Column('last_sync_at', UTC(), nullable=True),
    sa.Column('store_warning', sa.Text(), nullable=True),
    sa.Column('models', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telemetry_history'))
    )
    op.create_index('telemetry_history_by_device', 'telemetry_history', ['clinic_id', 'device_id', 'at'], unique=False)
    t['devices'] = op.create_table('devices',
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('registered_at', UTC(), nullable=False),
    sa.Column('last_seen_at', UTC(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.clinic_id'], name=op.f('fk_devices_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('clinic_id', 'device_id', name=op.f('pk_devices'))
    )
    op.create_index('devices_by_last_seen', 'devices', ['last_seen_at'], unique=False)
    t['results'] = op.create_table('results',
    sa.Column('result_id', sa.String(length=36), nullable=False),
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('schema_version', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', UTC(), nullable=False),
    sa.Column('saved_at', UTC(), nullable=False),
    sa.Column('received_at', UTC(), nullable=False),
    sa.Column('lag_s', sa.Float(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('hc_value', sa.Float(), nullable=True),
    sa.Column('hc_flag', sa.String(length=32), nullable=True),
    sa.Column('hc_centile', sa.Float(), nullable=True),
    sa.Column('bpd_value', sa.Float(), nullable=True),
    sa.Column('bpd_flag', sa.String(length=32), nullable=True),
    sa.Column('bpd_centile', sa.Float(), nullable=True),
    sa.Column('ofd_value', sa.Float(), nullable=True),
    sa.Column('ofd_flag', sa.String(length=32), nullable=True),
    sa.Column('ofd_centile', sa.Float(), nullable=True),
    sa.Column('ac_value', sa.Float(), nullable=True),
    sa.Column('ac_flag', sa.String(length=32), nullable=True),
    sa.Column('ac_centile', sa.Float(), nullable=True),
    sa.Column('fl_value', sa.Float(), nullable=True),
    sa.Column('fl_flag', sa.String(length=32), nullable=True),
    sa.Column('fl_centile', sa.Float(), nullable=True),
    sa.Column('ga_value', sa.Float(), nullable=True),
    sa.Column('ga_flag', sa.String(length=32), nullable=True),
    sa.Column('ga_centile', sa.Float(), nullable=True),
    sa.Column('efw_value', sa.Float(), nullable=True),
    sa.Column('efw_flag', sa.String(length=32), nullable=True),
    sa.Column('efw_centile', sa.Float(), nullable=True),
    sa.Column('ga_days', sa.Float(), nullable=True),
    sa.Column('ga_source', sa.String(length=16), nullable=True),
    sa.Column('edd', sa.Date(), nullable=True),
    sa.Column('has_measurement', sa.Boolean(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('alert_count', sa.Integer(), nullable=False),
    sa.Column('alert_severity', sa.String(length=16), nullable=True),
    sa.Column('review_state', sa.String(length=16), nullable=True),
    sa.Column('review_by', sa.String(length=200), nullable=True),
    sa.Column('review_at', UTC(), nullable=True),
    sa.Column('supersedes', sa.String(length=36), nullable=True),
    sa.Column('is_latest', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('plane_frames', sa.Integer(), nullable=True),
    sa.Column('plane_unknown_frames', sa.Integer(), nullable=True),
    sa.Column('plane_mean_confidence', sa.Float(), nullable=True),
    sa.Column('patient_ref', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id', 'device_id'], ['devices.clinic_id', 'devices.device_id'], name=op.f('fk_results_clinic_id_devices')),
    sa.PrimaryKeyConstraint('result_id', name=op.f('pk_results'))
    )
    op.create_index(op.f('ix_results_supersedes'), 'results', ['supersedes'], unique=False)
    op.create_index('results_by_clinic_week', 'results', ['clinic_id', 'week'], unique=False)
    op.create_index('results_by_device', 'results', ['clinic_id', 'device_id', 'started_at'], unique=False)
    op.create_index('results_by_started', 'results', ['started_at'], unique=False)
    op.create_index('results_by_week', 'results', ['week'], unique=False)
    op.create_index('results_flagged', 'results', ['flagged', 'started_at'], unique=False)
    t['alerts'] = op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('result_id', sa.String(length=36), nullable=False),
    sa.Column('clinic_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', UTC(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('measurement', sa.String(length=16), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=16), nullable=True),
    sa.Column('threshold', sa.String(length=100), nullable=True),
    sa.Column('standard', sa.String(length=200), nullable=True),
    sa.Column('centile', sa.Float(), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    sa.Column('ack_by', sa.String(length=200), nullable=True),
    sa.Column('ack_at', UTC(), nullable=True),
    sa.Column('ack_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['result_id'], ['results.result_id'], name=op.f('fk_alerts_result_id_results')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index('alerts_by_clinic', 'alerts', ['clinic_id', 'ack_at', 'started_at'], unique=False)
    op.create_index('alerts_open_newest', 'alerts', ['ack_at', 'started_at'], unique=False)
    op.create_index(op.f('ix_alerts_result_id'), 'alerts', ['result_id'], unique=False)
    t['receivers'] = op.create_table('receivers',
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('broker', sa.String(length=200), nullable=False),
    sa.Column('started_at', UTC(), nullable=False),
    sa.Column('updated_at', UTC(), nullable=False),
    sa.Column('broker_connected', sa.Boolean(), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('last_message_at', UTC(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_receivers'))
    )
    return t


def _stream(sql: str) -> Iterator[list[Any]]:
    result = op.get_bind().execute(sa.text(sql).execution_options(stream_results=True, yield_per=CHUNK))
    yield from result.partitions(CHUNK)


def _insert(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        cols = set(table.c.keys())   # later revisions may extract more: keep what this revision's tables have
        op.get_bind().execute(table.insert(), [{k: v for k, v in r.items() if k in cols} for r in rows])


def _copy_results(t: dict[str, sa.Table]) -> None:
    for chunk in _stream("SELECT result_id, received_at, lag_s, content_sha256, payload FROM legacy_results"):
        rows, alerts = [], []
        for rid, received, lag_s, sha, text in chunk:
            received_at = utc(received)
            p = json.loads(text)
            found = alert_rows(p, received_at)
            row = with_alerts(result_columns(p, received_at), found)
            row.update(payload=text, content_sha256=sha, lag_s=lag_s)    # exactly as stored
            rows.append(row)
            alerts += found
        _insert(t["results"], rows)
        _insert(t["alerts"], alerts)


def _copy_devices(t: dict[str, sa.Table]) -> None:
    bind = op.get_bind()
    first: dict[tuple[str, str], str] = {}
    for clinic, device, at in bind.execute(sa.text(
            "SELECT clinic_id, device_id, registered_at FROM legacy_devices UNION ALL "
            "SELECT clinic_id, device_id, MIN(received_at) FROM legacy_results GROUP BY clinic_id, device_id")):
        first[(clinic, device)] = min(at, first.get((clinic, device), at), key=utc)
    seen: dict[tuple[str, str], str] = {}
    for clinic, device, at in bind.execute(sa.text(
            "SELECT clinic_id, device_id, MAX(received_at) FROM legacy_results GROUP BY clinic_id, device_id "
            "UNION ALL SELECT clinic_id, device_id, received_at FROM legacy_telemetry")):
        seen[(clinic, device)] = max(at, seen.get((clinic, device), at), key=utc)
    clinics: dict[str, str] = {}
    for (clinic, _), at in first.items():
        clinics[clinic] = min(at, clinics.get(clinic, at), key=utc)
    _insert(t["clinics"], [{"clinic_id": c, "name": None, "district": None, "created_at": utc(at)}
                           for c, at in sorted(clinics.items())])
    _insert(t["devices"], [{"clinic_id": c, "device_id": d, "registered_at": utc(at),
                            "last_seen_at": utc(seen[(c, d)]) if (c, d) in seen else None}
                           for (c, d), at in sorted(first.items())])


def _copy_rejected(t: dict[str, sa.Table]) -> None:
    order = "rowid" if op.get_bind().dialect.name == "sqlite" else "received_at"
    for chunk in _stream(f"SELECT received_at, topic, reason, size, sha256, held_payload FROM legacy_rejected "
                         f"ORDER BY {order}"):
        _insert(t["rejected"], [{"received_at": utc(at), "topic": topic, "reason": reason, "size": size,
                                 "sha256": sha} for at, topic, reason, size, sha, _ in chunk])
        held = []
        for at, topic, _, _, _, text in chunk:
            if text is not None:
                p = json.loads(text)
                held.append({"received_at": utc(at), "topic": topic, "kind": "unknown_device",
                             "schema_version": p.get("schema_version"), "result_id": p.get("result_id"),
                             "clinic_id": p["clinic_id"], "device_id": p["device_id"], "sha256": digest(text),
                             "payload": text, "last_error": None})
        _insert(t["held"], held)


def _copy_telemetry(t: dict[str, sa.Table]) -> None:
    rows = [telemetry_columns(json.loads(text), utc(at)) | {"payload": text}
            for at, text in op.get_bind().execute(sa.text("SELECT received_at, payload FROM legacy_telemetry"))]
    _insert(t["telemetry"], rows)
    _insert(t["telemetry_history"], rows)


def upgrade() -> None:
    op.drop_index("results_by_device", table_name="results")
    for name in LEGACY:
        op.rename_table(name, f"legacy_{name}")
    t = create_tables()
    _copy_devices(t)
    _copy_results(t)
    _copy_rejected(t)
    _copy_telemetry(t)
    for name in LEGACY:
        op.drop_table(f"legacy_{name}")


def downgrade() -> None:
    raise NotImplementedError("0002 cannot be undone: restore the backup taken before upgrading")
