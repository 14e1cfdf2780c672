"""Where jobs live: a store every ingress replica shares and that outlives any one of them.

``JobStore`` is the contract. Its backends: ``SqliteJobStore`` (serve/jobs/sqlite_store.py), the embedded
default (one file on the node, WAL mode, safe across processes: every ingress replica on the machine opens the
same file), and ``RedisJobStore`` (serve/jobs/redis_store.py) for clusters; ``build_store``
(serve/jobs/backends.py) opens the configured one. Ownership is a lease: the replica running a job renews
``lease_until``; a job whose lease ran out has lost its owner and any replica may claim it (``claim`` is a
compare-and-set, so only one does).

This module also holds what every backend does the same way: how a record is stored (``StoredRecord``,
``load_record``) and the state transitions (``request_cancel_on``, ``end``, ``cancel_now``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from pipeline.graph import ErrorInfo
from serve.jobs.models import JobRecord, JobState

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
    async def request_cancel(self, job_id: str, now: float, ttl_s: float) -> JobRecord | None:
        """Flag the job; a queued one (or one whose owner is gone) is cancelled here and now."""
        ...

    async def delete_expired(self, now: float) -> int: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as a store writes it: the JSON document, and beside it the fields its queries and
    compare-and-sets read. The cancel flag is not among them: it has its own column/field, which only
    ``request_cancel`` sets, so an owner's stale save can never clear it."""

    state: str
    owner: str | None
    lease_until: float
    expires_at: float | None
    document: str

    @classmethod
    def of(cls, record: JobRecord) -> StoredRecord:
        s = record.status
        return cls(s.state.value, record.owner, record.lease_until, s.expires_at, record.model_dump_json())

    def columns(self) -> tuple[str, str | None, float, float | None, str]:
        """(state, owner, lease_until, expires_at, document): the order of the SQLite store's columns."""
        return self.state, self.owner, self.lease_until, self.expires_at, self.document


def load_record(document: str | bytes, *, cancel: bool) -> JobRecord:
    """A stored record, its ``cancel_requested`` taken from the cancel column/field."""
    record = JobRecord.model_validate_json(document)
    record.status.cancel_requested = cancel
    return record


class Cancel(Enum):
    """What ``request_cancel_on`` did to a record, i.e. what the store has to write."""

    FINAL = "final"  # already final: nothing to write
    ENDED = "ended"  # queued, or its owner's lease ran out: cancelled now (write it final)
    FLAGGED = "flagged"  # running under a live lease: flagged; its owner stops at its next save


def request_cancel_on(record: JobRecord, now: float, ttl_s: float) -> Cancel:
    """The cancel transition every store applies inside its compare-and-set (then sets the cancel flag)."""
    if record.status.state.final:
        return Cancel.FINAL
    record.status.cancel_requested = True
    record.status.updated_at = now
    if record.status.state is JobState.QUEUED or record.lease_until < now:
        cancel_now(record, now, ttl_s)
        return Cancel.ENDED
    return Cancel.FLAGGED


def end(record: JobRecord, state: JobState, now: float, ttl_s: float, error: ErrorInfo | None = None) -> None:
    """Put a job in a final state: no owner, an expiry, and no password kept once the job will not run again (its
    page images then open only an unencrypted PDF)."""
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
