"""Where jobs live: a store every ingress replica shares and that outlives any one of them.

``JobStore`` is the contract; ``SqliteJobStore`` is the embedded default (one file on the node, WAL mode, safe
across processes: every ingress replica on the machine opens the same file). Ownership is a lease: the replica
running a job renews ``lease_until``; a job whose lease ran out has lost its owner and any replica may claim it
(``claim`` is a compare-and-set, so only one does).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from pipeline.graph import ErrorInfo
from serve.args import RedisStoreConfig, SqliteStoreConfig
from serve.jobs.models import JobRecord, JobState

T = TypeVar("T")
ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


@dataclass(frozen=True, slots=True)
class Saved:
    owned: bool  # False: the job is no longer this owner's (cancelled while its lease ran out, or claimed)
    cancel_requested: bool


class JobStore(Protocol):
    async def create(self, record: JobRecord, upload: bytes, *, max_active: int | None = None) -> bool:
        """Add a queued job; False (nothing written) when ``max_active`` jobs are already queued or running."""
        ...

    async def get(self, job_id: str) -> JobRecord | None: ...
    async def save(self, record: JobRecord, *, owner: str | None) -> Saved:
        """Write ``record`` if ``owner`` still owns it (None: only if nobody does); says whether a cancel came."""
        ...

    async def claim(self, job_id: str, owner: str, lease_until: float, now: float) -> JobRecord | None:
        """Take a queued job, or a running one whose lease ran out; None when another replica has it."""
        ...

    async def claimable(self, now: float, limit: int) -> list[str]: ...
    async def count_active(self) -> int: ...
    async def upload(self, job_id: str) -> bytes | None: ...
    async def finish(self, record: JobRecord, *, owner: str | None, result: bytes | None) -> bool:
        """Store the result and the final state in one step (a result is never visible before it is whole)."""
        ...

    async def result(self, job_id: str) -> bytes | None: ...
    async def add_page(self, job_id: str, body: bytes) -> None: ...
    async def pages_after(self, job_id: str, seq: int) -> list[tuple[int, bytes]]: ...
    async def clear_pages(self, job_id: str) -> None: ...
    async def request_cancel(self, job_id: str, now: float, ttl_s: float) -> JobRecord | None: ...
    async def delete_expired(self, now: float) -> int: ...
    async def close(self) -> None: ...


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

    def __init__(self, path: Path) -> None:
        self.path = path
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

    @staticmethod
    def _row(record: JobRecord) -> tuple[str, str | None, float, float | None, str]:
        s = record.status
        return s.state.value, record.owner, record.lease_until, s.expires_at, record.model_dump_json()

    async def create(self, record: JobRecord, upload: bytes, *, max_active: int | None = None) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            state, owner, lease, expires, body = self._row(record)
            with db:
                db.execute("BEGIN IMMEDIATE")
                if max_active is not None:
                    active = db.execute("SELECT count(*) FROM jobs WHERE state IN (?, ?)", ACTIVE).fetchone()[0]
                    if active >= max_active:
                        db.execute("ROLLBACK")
                        return False
                db.execute(
                    "INSERT INTO jobs (id, state, owner, lease_until, expires_at, created_at, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (record.status.id, state, owner, lease, expires, record.status.created_at, body),
                )
                db.execute("INSERT INTO uploads (id, data) VALUES (?, ?)", (record.status.id, upload))
                return True

        return await self._run(op)

    @staticmethod
    def _load(body: str, cancel: int) -> JobRecord:
        record = JobRecord.model_validate_json(body)
        record.status.cancel_requested = bool(cancel)  # its own column: an owner's save never clears it
        return record

    async def get(self, job_id: str) -> JobRecord | None:
        row = await self._run(
            lambda db: db.execute("SELECT record, cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        return self._load(*row) if row else None

    def _update_if_owned(self, db: sqlite3.Connection, record: JobRecord, owner: str | None) -> bool:
        """Write the record if ``owner`` holds the job and it is not final (the compare-and-set of owners)."""
        state, new_owner, lease, expires, body = self._row(record)
        cur = db.execute(
            "UPDATE jobs SET state = ?, owner = ?, lease_until = ?, expires_at = ?, record = ? "
            "WHERE id = ? AND owner IS ? AND state IN (?, ?)",
            (state, new_owner, lease, expires, body, record.status.id, owner, *ACTIVE),
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
        """Flag the job; a queued one (or one whose owner is gone) is cancelled here and now."""

        def op(db: sqlite3.Connection) -> JobRecord | None:
            with db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT record, cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    return None
                record = self._load(*row)
                if record.status.state.final:
                    return record
                record.status.cancel_requested = True
                record.status.updated_at = now
                if record.status.state is JobState.QUEUED or record.lease_until < now:
                    cancel_now(record, now, ttl_s)
                    db.execute("DELETE FROM uploads WHERE id = ?", (job_id,))
                state, owner, lease, expires, body = self._row(record)
                db.execute(
                    "UPDATE jobs SET state = ?, owner = ?, lease_until = ?, expires_at = ?, record = ?, cancel = 1 "
                    "WHERE id = ?",
                    (state, owner, lease, expires, body, job_id),
                )
                return record

        return await self._run(op)

    async def delete_expired(self, now: float) -> int:
        def op(db: sqlite3.Connection) -> int:
            with db:
                db.execute("BEGIN IMMEDIATE")
                ids = [r[0] for r in db.execute("SELECT id FROM jobs WHERE expires_at < ?", (now,)).fetchall()]
                for table in ("jobs", "uploads", "results", "pages"):
                    db.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])
                return len(ids)

        return await self._run(op)

    async def close(self) -> None:
        def op() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, op)
        self._pool.shutdown(wait=False)


def end(record: JobRecord, state: JobState, now: float, ttl_s: float, error: ErrorInfo | None = None) -> None:
    """Put a job in a final state: no owner, an expiry, and no password kept once nothing will open the PDF."""
    record.status.state = state
    record.status.finished_at = record.status.updated_at = now
    record.status.expires_at = now + ttl_s
    record.status.error = error or record.status.error
    record.owner, record.lease_until = None, 0.0
    if record.request.options.password:
        options = record.request.options.model_copy(update={"password": None})
        record.request = record.request.model_copy(update={"options": options})


def cancel_now(record: JobRecord, now: float, ttl_s: float) -> None:
    end(
        record, JobState.CANCELLED, now, ttl_s, ErrorInfo(code="cancelled", message="cancelled by DELETE /v1/jobs/{id}")
    )


def build_store(config: SqliteStoreConfig | RedisStoreConfig, app_name: str) -> JobStore:
    """The configured store for one application (its jobs never mix with another application's)."""
    if isinstance(config, RedisStoreConfig):
        from serve.jobs.redis_store import RedisJobStore

        url = os.environ.get(config.url_env, "") if config.url_env else ""
        return RedisJobStore(url or config.url, prefix=f"{config.prefix}:{app_name}")
    return SqliteJobStore(config.resolved_path(app_name))
