"""The embedded job store: SQLite, one WAL-mode file per application on the node, shared by every ingress
replica on the machine (the contract: serve/jobs/store.py). Compare-and-set steps are ``BEGIN IMMEDIATE``
transactions with conditional ``UPDATE``s: SQLite's file lock orders the replicas."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from serve.jobs.models import JobRecord, JobState
from serve.jobs.store import ACTIVE, Cancel, Saved, StoredRecord, load_record, request_cancel_on

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    cancel INTEGER NOT NULL DEFAULT 0,
    expires_at REAL,
    created_at REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS pages_id ON pages (id, seq);
"""


class SqliteJobStore:
    """The embedded default. One connection, used from one thread; SQLite's file locks order the replicas."""

    def __init__(self, path: Path, *, keep_uploads: bool = True) -> None:
        self.path = path
        self.keep_uploads = keep_uploads  # a finished job's PDF stays until the job expires (its page images)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobstore")
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(self._db()))

    async def create(self, record: JobRecord, upload: bytes, *, max_active: int | None = None) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            with db:
                db.execute("BEGIN IMMEDIATE")
                if max_active is not None:
                    active = db.execute("SELECT count(*) FROM jobs WHERE state IN (?, ?)", ACTIVE).fetchone()[0]
                    if active >= max_active:
                        db.execute("ROLLBACK")
                        return False
                db.execute(
                    "INSERT INTO jobs (id, created_at, state, owner, lease_until, expires_at, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (record.status.id, record.status.created_at, *StoredRecord.of(record).columns()),
                )
                db.execute("INSERT INTO uploads (id, data) VALUES (?, ?)", (record.status.id, upload))
                return True

        return await self._run(op)

    @staticmethod
    def _load(document: str, cancel: int) -> JobRecord:
        """A ``(record, cancel)`` row as a record."""
        return load_record(document, cancel=bool(cancel))

    async def get(self, job_id: str) -> JobRecord | None:
        row = await self._run(
            lambda db: db.execute("SELECT record, cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        return self._load(*row) if row else None

    def _update_if_owned(self, db: sqlite3.Connection, record: JobRecord, owner: str | None) -> bool:
        """Write the record if ``owner`` holds the job and it is not final (the compare-and-set of owners)."""
        cur = db.execute(
            "UPDATE jobs SET state = ?, owner = ?, lease_until = ?, expires_at = ?, record = ? "
            "WHERE id = ? AND owner IS ? AND state IN (?, ?)",
            (*StoredRecord.of(record).columns(), record.status.id, owner, *ACTIVE),
        )
        return cur.rowcount == 1

    async def save(self, record: JobRecord, *, owner: str | None) -> Saved:
        def op(db: sqlite3.Connection) -> Saved:
            with db:
                db.execute("BEGIN IMMEDIATE")
                owned = self._update_if_owned(db, record, owner)
                row = db.execute("SELECT cancel FROM jobs WHERE id = ?", (record.status.id,)).fetchone()
            return Saved(owned=owned, cancel_requested=bool(row and row[0]))

        return await self._run(op)

    async def claim(self, job_id: str, owner: str, lease_until: float, now: float) -> JobRecord | None:
        def op(db: sqlite3.Connection) -> JobRecord | None:
            with db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute(
                    "SELECT record, cancel FROM jobs WHERE id = ? AND (state = ? OR (state = ? AND lease_until < ?))",
                    (job_id, JobState.QUEUED.value, JobState.RUNNING.value, now),
                ).fetchone()
                if row is None:
                    return None
                record = self._load(*row)
                record.owner, record.lease_until = owner, lease_until
                db.execute(
                    "UPDATE jobs SET owner = ?, lease_until = ?, record = ? WHERE id = ?",
                    (owner, lease_until, record.model_dump_json(), job_id),
                )
                return record

        return await self._run(op)

    async def claimable(self, now: float, limit: int) -> list[str]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT id FROM jobs WHERE state = ? OR (state = ? AND lease_until < ?) ORDER BY created_at LIMIT ?",
                (JobState.QUEUED.value, JobState.RUNNING.value, now, limit),
            ).fetchall()
        )
        return [r[0] for r in rows]

    async def count_active(self) -> int:
        row = await self._run(
            lambda db: db.execute("SELECT count(*) FROM jobs WHERE state IN (?, ?)", ACTIVE).fetchone()
        )
        return int(row[0])

    async def upload(self, job_id: str) -> bytes | None:
        row = await self._run(lambda db: db.execute("SELECT data FROM uploads WHERE id = ?", (job_id,)).fetchone())
        return bytes(row[0]) if row else None

    async def finish(self, record: JobRecord, *, owner: str | None, result: bytes | None) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            with db:
                db.execute("BEGIN IMMEDIATE")
                if not self._update_if_owned(db, record, owner):
                    db.execute("ROLLBACK")
                    return False
                if result is not None:
                    db.execute("INSERT OR REPLACE INTO results (id, data) VALUES (?, ?)", (record.status.id, result))
                if not self.keep_uploads:
                    db.execute("DELETE FROM uploads WHERE id = ?", (record.status.id,))  # nothing left to run
                return True

        return await self._run(op)

    async def result(self, job_id: str) -> bytes | None:
        row = await self._run(lambda db: db.execute("SELECT data FROM results WHERE id = ?", (job_id,)).fetchone())
        return bytes(row[0]) if row else None

    async def add_page(self, job_id: str, body: bytes) -> None:
        await self._run(lambda db: db.execute("INSERT INTO pages (id, body) VALUES (?, ?)", (job_id, body)))

    async def pages_after(self, job_id: str, seq: int) -> list[tuple[int, bytes]]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT seq, body FROM pages WHERE id = ? AND seq > ? ORDER BY seq", (job_id, seq)
            ).fetchall()
        )
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def clear_pages(self, job_id: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM pages WHERE id = ?", (job_id,)))

    async def request_cancel(self, job_id: str, now: float, ttl_s: float) -> JobRecord | None:
        def op(db: sqlite3.Connection) -> JobRecord | None:
            with db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT record, cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    return None
                record = self._load(*row)
                outcome = request_cancel_on(record, now, ttl_s)
                if outcome is Cancel.FINAL:
                    return record
                if outcome is Cancel.ENDED and not self.keep_uploads:
                    db.execute("DELETE FROM uploads WHERE id = ?", (job_id,))
                db.execute(
                    "UPDATE jobs SET state = ?, owner = ?, lease_until = ?, expires_at = ?, record = ?, cancel = 1 "
                    "WHERE id = ?",
                    (*StoredRecord.of(record).columns(), job_id),
                )
                return record

        return await self._run(op)

    async def delete_expired(self, now: float) -> int:
        def op(db: sqlite3.Connection) -> int:
            with db:
                db.execute("BEGIN IMMEDIATE")
                ids = [r[0] for r in db.execute("SELECT id FROM jobs WHERE expires_at < ?", (now,)).fetchall()]
                for table in ("jobs", "uploads", "results", "pages"):
                    db.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])  # noqa: S608 - constants
                return len(ids)

        return await self._run(op)

    async def close(self) -> None:
        def op() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, op)
        self._pool.shutdown(wait=False)
