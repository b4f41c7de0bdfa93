"""Store format 2: reviews supersede results (one each), best-frame images stay on the device and go with
their result; a format-1 store from before is migrated in place with every result kept."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from clinical_fixtures import exam_32_weeks

from edge.errors import InputError
from edge.settings.store import StoreSettings
from edge.store import STORE_VERSION, ResultStore

FORMAT_1 = """
CREATE TABLE results (result_id TEXT PRIMARY KEY, saved_at TEXT NOT NULL, exam TEXT NOT NULL,
                      patient_ref TEXT, synced_at TEXT);
CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, result_id TEXT NOT NULL UNIQUE
                     REFERENCES results(result_id));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
PRAGMA user_version = 1;
"""


def test_a_format_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    db, old = tmp_path / "dev.sqlite", exam_32_weeks().to_dict()
    conn = sqlite3.connect(db)
    conn.executescript(FORMAT_1)
    conn.execute("INSERT INTO results VALUES (?, '2026-12-12T09:06:00.000Z', ?, NULL, NULL)",
                 (old["result_id"], json.dumps(old, sort_keys=True)))
    conn.execute("INSERT INTO outbox (result_id) VALUES (?)", (old["result_id"],))
    conn.commit()
    conn.close()
    with ResultStore(db) as store:
        assert store.get(old["result_id"]) == old and store.outbox_len() == 1
        assert store.superseded_by(old["result_id"]) is None and store.image_for(old["result_id"]) is None
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION == 2


def test_one_review_per_result_and_images_are_pruned_with_their_result(tmp_path: Path) -> None:
    exam = exam_32_weeks()
    review = replace(exam, result_id="7" * 8 + "-0000-4000-8000-" + "0" * 12, supersedes=exam.result_id,
                     review={"state": "accepted", "by": None, "at": "2026-12-12T10:00:00.000Z", "note": None})
    rival = replace(review, result_id="8" * 8 + "-0000-4000-8000-" + "0" * 12)
    with ResultStore(tmp_path / "dev.sqlite", StoreSettings(keep_synced=0)) as store:
        store.save(exam, image_png=b"png-bytes")
        store.save(review)
        with pytest.raises(InputError, match=f"result {exam.result_id} was already reviewed: result "
                                             f"{review.result_id} supersedes it"):
            store.save(rival)
        assert store.count() == 2 and store.outbox_len() == 2
        assert store.image_for(review.result_id) == b"png-bytes"       # a review prints the exam's frame
        store.mark_sent([exam.result_id, review.result_id])           # keep_synced 0: both pruned once synced
        assert store.count() == 0
        assert store._read("SELECT COUNT(*) FROM images")[0][0] == 0
