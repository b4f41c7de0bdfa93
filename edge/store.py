"""The on-device results store and sync outbox: one SQLite file, WAL mode, synchronous=FULL.

`ResultStore(path).save(exam)` commits the exam and its outbox entry in one transaction before it returns,
so a result the user was told is saved survives `kill -9` and power loss. The sync worker reads `pending()`
and calls `mark_sent()` only after the broker acknowledged the message.

Storage policy (bounded, never silent):
- unsynced results are never deleted by the store; they leave the outbox only when acknowledged;
- synced results beyond `store.keep_synced` (oldest first) are pruned: the receiver holds them;
- free disk below `store.min_free_mb`, or more than `store.max_unsynced` unsynced results: every save
  logs a warning and returns it in `SaveReceipt.warnings` (telemetry and `fetal-edge status` show it);
- a full disk makes `save` raise SyncError: the caller is told the result was NOT saved;
- a length no fetus can have (edge.clinical.physical) is saved without its number (flag out_of_range, the
  reason names it) and the receipt warns: the same rule the payload schema applies, so sync never holds it;
- a review result `supersedes` an earlier one: at most one result may supersede a given result (a second
  review of the same result is refused inside the saving transaction, so a race cannot store two);
- the best frame of an exam (PNG, ellipse drawn) is kept in `images` for the printed report only: it is
  never synced, and it is pruned with its result;
- a corrupt database file is moved aside to `<path>.corrupt-<UTC time>` (kept for recovery, never
  overwritten), the error is logged naming both paths, and a fresh store is started (`store.quarantined`).
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from edge.clinical.physical import judge_exam_dict
from edge.errors import InputError, SyncError
from edge.results import ExamResult, utc_now
from edge.settings.store import StoreSettings

log = logging.getLogger(__name__)

STORE_VERSION = 2   # PRAGMA user_version; bump with a migration when the tables change (2: supersedes, images)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (result_id TEXT PRIMARY KEY, saved_at TEXT NOT NULL, exam TEXT NOT NULL,
                                    patient_ref TEXT, synced_at TEXT, supersedes TEXT);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, result_id TEXT NOT NULL UNIQUE
                                   REFERENCES results(result_id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
_SCHEMA_2 = """
CREATE UNIQUE INDEX IF NOT EXISTS results_supersedes ON results(supersedes) WHERE supersedes IS NOT NULL;
CREATE TABLE IF NOT EXISTS images (result_id TEXT PRIMARY KEY REFERENCES results(result_id), png BLOB NOT NULL);
"""


@dataclass(frozen=True)
class SaveReceipt:
    result_id: str
    saved_at: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    result_id: str
    saved_at: str
    exam: dict[str, Any]
    patient_ref: str | None


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return type(exc) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


class ResultStore:
    def __init__(self, path: str | Path, settings: StoreSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or StoreSettings(path=self.path)
        self.quarantined: Path | None = None
        self._lock = threading.RLock()   # one store may be shared by the runtime and sync threads
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise SyncError(f"results store {self.path} cannot be opened: {exc}") from None
            self.quarantined = self._quarantine(exc)
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > STORE_VERSION:
                raise SyncError(f"results store {self.path} has format {version}, newer than this fetal-edge "
                                f"understands ({STORE_VERSION}); upgrade fetal-edge (the file is left untouched)")
            conn.executescript(_SCHEMA)
            if version == 1:   # migration 1 -> 2: reviews supersede results
                conn.execute("ALTER TABLE results ADD COLUMN supersedes TEXT")
            conn.executescript(_SCHEMA_2)
            conn.execute(f"PRAGMA user_version = {STORE_VERSION}")
        except (sqlite3.DatabaseError, SyncError):
            conn.close()
            raise
        return conn

    def _quarantine(self, exc: Exception) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                src.rename(Path(str(aside) + suffix))
        log.error("results store %s is corrupt (%s); moved it aside to %s (kept for recovery) and started a "
                  "new empty store. Results only in the old file have NOT been synced.", self.path, exc, aside)
        return aside

    def _write(self, what: str, sql_fn: Any) -> Any:
        with self._lock:
            return self._write_locked(what, sql_fn)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _write_locked(self, what: str, sql_fn: Any) -> Any:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                out = sql_fn(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return out
        except sqlite3.OperationalError as exc:
            free = self.free_disk_mb()
            if "full" in str(exc).lower():
                raise SyncError(f"{what} NOT saved: the disk holding {self.path} is full ({free:.0f} MB free); "
                                f"free space (synced results can be pruned) and try again") from None
            raise SyncError(f"{what} NOT saved in {self.path}: {exc}") from None

    def save(self, exam: ExamResult | dict[str, Any], patient_ref: str | None = None,
             image_png: bytes | None = None) -> SaveReceipt:
        """Commit one exam, its outbox entry (and its best-frame image, device only); durable on return."""
        return self.save_many([exam], [patient_ref], [image_png])[0]

    def save_many(self, exams: list[ExamResult | dict[str, Any]], patient_refs: list[str | None] | None = None,
                  images: list[bytes | None] | None = None) -> list[SaveReceipt]:
        """Commit several exams in one transaction (all or none). Saving the same result again is a no-op;
        the same result_id with different content is refused, and so is a second result superseding the
        same result (InputError: review the newest one)."""
        refs = patient_refs or [None] * len(exams)
        pngs = images or [None] * len(exams)
        rows, refused = [], []
        for exam, ref in zip(exams, refs):
            # the physical plausibility rule the payload schema applies: the outbox never holds what sync refuses
            d, notes = judge_exam_dict(exam.to_dict() if isinstance(exam, ExamResult) else exam)
            refused += notes
            rows.append((d["result_id"], json.dumps(d, sort_keys=True, allow_nan=False), ref))
        now = utc_now()

        def tx(conn: sqlite3.Connection) -> list[str]:
            times = []
            for (rid, text, ref), png in zip(rows, pngs):
                row = conn.execute("SELECT exam, saved_at FROM results WHERE result_id = ?", (rid,)).fetchone()
                if row is not None:
                    if row[0] != text:
                        raise SyncError(f"result_id {rid} is already saved with different content; "
                                        f"a result id is never reused")
                    times.append(row[1])
                    continue
                old = json.loads(text).get("supersedes")
                later = old and conn.execute("SELECT result_id FROM results WHERE supersedes = ?", (old,)).fetchone()
                if later:
                    raise InputError(f"result {old} was already reviewed: result {later[0]} supersedes it; review "
                                     f"{later[0]} instead (nothing was stored)")
                conn.execute("INSERT INTO results (result_id, saved_at, exam, patient_ref, supersedes) "
                             "VALUES (?, ?, ?, ?, ?)", (rid, now, text, ref, old))
                conn.execute("INSERT INTO outbox (result_id) VALUES (?)", (rid,))
                if png is not None:
                    conn.execute("INSERT INTO images (result_id, png) VALUES (?, ?)", (rid, png))
                times.append(now)
            return times

        times = self._write(f"result {rows[0][0] if len(rows) == 1 else f'batch of {len(rows)}'}", tx)
        for note in refused:
            log.warning("length refused on saving: %s", note)
        warnings = [f"saved without an impossible length: {n}" for n in refused] + self.warnings()
        return [SaveReceipt(r[0], t, warnings) for r, t in zip(rows, times)]

    def warnings(self) -> list[str]:
        out = []
        free = self.free_disk_mb()
        if free < self.settings.min_free_mb:
            out.append(f"low disk: {free:.0f} MB free under {self.path.parent} (warning level "
                       f"{self.settings.min_free_mb:.0f} MB); unsynced results are kept, sync soon")
        n = self.outbox_len()
        if n > self.settings.max_unsynced:
            out.append(f"{n} unsynced results (warning level {self.settings.max_unsynced}); none are dropped")
        for w in out:
            log.warning(w)
        return out

    def pending(self, limit: int = 500, after_seq: int = 0) -> list[OutboxItem]:
        rows = self._read(
            "SELECT o.seq, r.result_id, r.saved_at, r.exam, r.patient_ref FROM outbox o JOIN results r "
            "ON r.result_id = o.result_id WHERE o.seq > ? ORDER BY o.seq LIMIT ?", (after_seq, limit))
        return [OutboxItem(s, rid, at, json.loads(exam), pref) for s, rid, at, exam, pref in rows]

    def mark_sent(self, result_ids: Iterable[str]) -> int:
        """The broker acknowledged these: leave the outbox, record the sync time, prune old synced ones."""
        ids, now = [(r,) for r in result_ids], utc_now()
        if not ids:
            return 0

        def tx(conn: sqlite3.Connection) -> int:
            n = conn.executemany("DELETE FROM outbox WHERE result_id = ?", ids).rowcount
            conn.executemany("UPDATE results SET synced_at = ? WHERE result_id = ? AND synced_at IS NULL",
                             [(now, r) for (r,) in ids])
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_sync', ?)", (now,))
            conn.execute("DELETE FROM results WHERE result_id IN (SELECT result_id FROM results WHERE synced_at "
                         "IS NOT NULL ORDER BY synced_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                         (self.settings.keep_synced,))
            conn.execute("DELETE FROM images WHERE result_id NOT IN (SELECT result_id FROM results)")
            return n

        return self._write("sync state", tx)

    def get(self, result_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT exam FROM results WHERE result_id = ?", (result_id,))
        return json.loads(rows[0][0]) if rows else None

    def superseded_by(self, result_id: str) -> str | None:
        """The result that supersedes `result_id` (a review of it), if any."""
        rows = self._read("SELECT result_id FROM results WHERE supersedes = ?", (result_id,))
        return rows[0][0] if rows else None

    def saved_info(self, result_id: str) -> tuple[str, str | None]:
        """(saved_at, patient_ref) of a stored result."""
        return self._read("SELECT saved_at, patient_ref FROM results WHERE result_id = ?", (result_id,))[0]

    def image_for(self, result_id: str) -> bytes | None:
        """The best-frame PNG of a result, or of the exam it (transitively) supersedes."""
        seen = set()
        while result_id and result_id not in seen:
            seen.add(result_id)
            rows = self._read("SELECT i.png, r.supersedes FROM results r LEFT JOIN images i ON i.result_id = "
                              "r.result_id WHERE r.result_id = ?", (result_id,))
            if not rows:
                return None
            if rows[0][0] is not None:
                return bytes(rows[0][0])
            result_id = rows[0][1]
        return None

    def last_exam(self) -> dict[str, Any] | None:
        rows = self._read("SELECT exam FROM results ORDER BY saved_at DESC, rowid DESC LIMIT 1")
        return json.loads(rows[0][0]) if rows else None

    def outbox_len(self) -> int:
        return self._read("SELECT COUNT(*) FROM outbox")[0][0]

    def count(self) -> int:
        return self._read("SELECT COUNT(*) FROM results")[0][0]

    def last_sync(self) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = 'last_sync'")
        return rows[0][0] if rows else None

    def free_disk_mb(self) -> float:
        return shutil.disk_usage(self.path.parent).free / 2**20

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
