"""The production job store: Redis, shared by every ingress replica on every node.

Same contract (``JobStore``, serve/jobs/store.py) as ``SqliteJobStore`` (serve/jobs/sqlite_store.py).
Compare-and-set steps (claim, save, finish, cancel) are optimistic transactions (WATCH the job's hash, check,
MULTI/EXEC, retry when another replica wrote first). Finished jobs expire through Redis's own key TTLs. Keys,
under ``<prefix>:<application>:``::

    job:<id>      hash: record (JSON), state, owner, lease_until, cancel
    upload:<id>   the PDF, until the job expires (page images), or until it is final (jobs.keep_uploads off)
    result:<id>   the graph (JSON), written in the same transaction as the final state
    pages:<id>    list of finished pages (for /events)
    active        sorted set of queued + running ids, by creation time
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError
from redis.typing import EncodableT

from serve.jobs.models import JobRecord, JobState
from serve.jobs.store import ACTIVE, Cancel, Saved, StoredRecord, load_record, request_cancel_on

T = TypeVar("T")
Hash = dict[bytes, bytes]


def _b(value: bytes | str) -> bytes:
    """redis-py types replies as ``bytes | str`` (it depends on ``decode_responses``); this client never decodes."""
    return value if isinstance(value, bytes) else value.encode()


def _hash(raw: Mapping[Any, Any]) -> Hash:
    return {_b(k): _b(v) for k, v in raw.items()}


class RedisJobStore:
    def __init__(self, url: str, *, prefix: str, keep_uploads: bool = True) -> None:
        self._redis: Redis = Redis.from_url(url)
        self.keep_uploads = keep_uploads  # a finished job's PDF stays until the job expires (its page images)
        self._p = prefix.rstrip(":") + ":"

    def _k(self, kind: str, job_id: str = "") -> str:
        return f"{self._p}{kind}:{job_id}" if job_id else f"{self._p}{kind}"

    @staticmethod
    def _fields(record: JobRecord) -> dict[EncodableT, EncodableT]:
        stored = StoredRecord.of(record)  # no expires_at field: the keys carry TTLs
        return {
            "record": stored.document,
            "state": stored.state,
            "owner": stored.owner or "",
            "lease_until": stored.lease_until,
        }

    @staticmethod
    def _load(h: Hash) -> JobRecord:
        """A job's hash as a record."""
        return load_record(h[b"record"], cancel=h.get(b"cancel") == b"1")

    async def _cas(self, job_id: str, step: Callable[[Hash, Pipeline], Awaitable[T]]) -> T:
        """Run ``step`` with the job's hash read under WATCH; it queues writes after ``pipe.multi()``."""
        key = self._k("job", job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    result = await step(_hash(await pipe.hgetall(key)), pipe)
                    if pipe.explicit_transaction:
                        await pipe.execute()
                    else:
                        await pipe.unwatch()
                    return result
                except WatchError:
                    continue

    async def create(self, record: JobRecord, upload: bytes, *, max_active: int | None = None) -> bool:
        job_id, active = record.status.id, self._k("active")
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(active)  # admission and insertion in one transaction
                    if max_active is not None and await pipe.zcard(active) >= max_active:
                        await pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.hset(self._k("job", job_id), mapping={**self._fields(record), "cancel": "0"})
                    pipe.set(self._k("upload", job_id), upload)
                    pipe.zadd(active, {job_id: record.status.created_at})
                    await pipe.execute()
                    return True
                except WatchError:
                    continue

    async def get(self, job_id: str) -> JobRecord | None:
        h = _hash(await self._redis.hgetall(self._k("job", job_id)))
        return self._load(h) if h else None

    async def save(self, record: JobRecord, *, owner: str | None) -> Saved:
        async def step(h: Hash, pipe: Pipeline) -> Saved:
            owned = bool(h) and h[b"owner"].decode() == (owner or "") and h[b"state"].decode() in ACTIVE
            if owned:
                pipe.multi()
                pipe.hset(self._k("job", record.status.id), mapping=self._fields(record))
            return Saved(owned=owned, cancel_requested=h.get(b"cancel") == b"1")

        return await self._cas(record.status.id, step)

    async def claim(self, job_id: str, owner: str, lease_until: float, now: float) -> JobRecord | None:
        async def step(h: Hash, pipe: Pipeline) -> JobRecord | None:
            if not h:
                return None
            state, lease = h[b"state"].decode(), float(h[b"lease_until"])
            if not (state == JobState.QUEUED.value or (state == JobState.RUNNING.value and lease < now)):
                return None
            record = self._load(h)
            record.owner, record.lease_until = owner, lease_until
            pipe.multi()
            pipe.hset(self._k("job", job_id), mapping=self._fields(record))
            return record

        return await self._cas(job_id, step)

    async def claimable(self, now: float, limit: int) -> list[str]:
        members: list[Any] = await self._redis.zrange(self._k("active"), 0, -1)  # without scores: bare members
        ids = [_b(i).decode() for i in members]
        out: list[str] = []
        for job_id in ids:
            state, lease = await self._redis.hmget(self._k("job", job_id), ["state", "lease_until"])
            if state is None:
                await self._redis.zrem(self._k("active"), job_id)  # expired under us
                continue
            if state == JobState.QUEUED.value.encode() or (
                state == JobState.RUNNING.value.encode() and float(lease or 0) < now
            ):
                out.append(job_id)
                if len(out) >= limit:
                    break
        return out

    async def count_active(self) -> int:
        return int(await self._redis.zcard(self._k("active")))

    async def upload(self, job_id: str) -> bytes | None:
        data = await self._redis.get(self._k("upload", job_id))
        return None if data is None else _b(data)

    async def finish(self, record: JobRecord, *, owner: str | None, result: bytes | None) -> bool:
        job_id = record.status.id
        ttl_ms = max(1, int(((record.status.expires_at or 0) - (record.status.finished_at or 0)) * 1000))

        async def step(h: Hash, pipe: Pipeline) -> bool:
            if not h or h[b"owner"].decode() != (owner or "") or h[b"state"].decode() not in ACTIVE:
                return False
            pipe.multi()
            self._finish(pipe, record, result, ttl_ms)
            return True

        return await self._cas(job_id, step)

    def _finish(self, pipe: Pipeline, record: JobRecord, result: bytes | None, ttl_ms: int) -> None:
        job_id = record.status.id
        pipe.hset(self._k("job", job_id), mapping=self._fields(record))
        if result is not None:
            pipe.set(self._k("result", job_id), result, px=ttl_ms)
        if self.keep_uploads:
            pipe.pexpire(self._k("upload", job_id), ttl_ms)  # kept as long as the job, for its page images
        else:
            pipe.delete(self._k("upload", job_id))
        pipe.zrem(self._k("active"), job_id)
        pipe.pexpire(self._k("job", job_id), ttl_ms)
        pipe.pexpire(self._k("pages", job_id), ttl_ms)

    async def result(self, job_id: str) -> bytes | None:
        data = await self._redis.get(self._k("result", job_id))
        return None if data is None else _b(data)

    async def add_page(self, job_id: str, body: bytes) -> None:
        await self._redis.rpush(self._k("pages", job_id), body)

    async def pages_after(self, job_id: str, seq: int) -> list[tuple[int, bytes]]:
        bodies = await self._redis.lrange(self._k("pages", job_id), seq, -1)
        return [(seq + n + 1, _b(body)) for n, body in enumerate(bodies)]

    async def clear_pages(self, job_id: str) -> None:
        await self._redis.delete(self._k("pages", job_id))

    async def request_cancel(self, job_id: str, now: float, ttl_s: float) -> JobRecord | None:
        async def step(h: Hash, pipe: Pipeline) -> JobRecord | None:
            if not h:
                return None
            record = self._load(h)
            outcome = request_cancel_on(record, now, ttl_s)
            if outcome is Cancel.FINAL:
                return record
            pipe.multi()
            if outcome is Cancel.ENDED:
                self._finish(pipe, record, None, int(ttl_s * 1000))
            else:
                pipe.hset(self._k("job", job_id), mapping=self._fields(record))
            pipe.hset(self._k("job", job_id), "cancel", "1")
            return record

        return await self._cas(job_id, step)

    async def delete_expired(self, now: float) -> int:  # `now` unused: the JobStore signature
        return 0  # finished jobs carry Redis TTLs: Redis deletes them itself

    async def close(self) -> None:
        await self._redis.aclose()
