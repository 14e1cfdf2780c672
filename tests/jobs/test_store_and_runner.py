"""The job store (real SQLite file) and the runner (real pipeline, in-process models) without Ray.

Two runners on one store file stand for two ingress replicas; a runner that stops renewing its lease stands
for a replica that died.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from docgraph.samples import make_text_pdf
from pipeline import ConvertOptions, Limits, PdfPool
from pipeline.convert import convert_bytes
from pipeline.graph import DocumentGraph
from pipeline.progress import ConvertProgress
from pipeline.steps import Step
from serve.args import JobsConfig, SqliteStoreConfig
from serve.jobs.errors import QueueFullError
from serve.jobs.models import JobRecord, JobRequest, JobState, JobStatus, PageState, StepState
from serve.jobs.redis_store import RedisJobStore
from serve.jobs.runner import JobRunner
from serve.jobs.store import JobStore

pytestmark = pytest.mark.models


def config(tmp_path: Path, **kw: object) -> JobsConfig:
    return JobsConfig(store=SqliteStoreConfig(path=str(tmp_path / "jobs.sqlite3")), lease_s=1.0, heartbeat_s=0.2, **kw)


def with_store(test: Callable[[Path, JobStore], Awaitable[None]]) -> Callable[[Path, Callable[[], JobStore]], None]:
    """Run an async test on an event loop with a fresh store of each backend (no pytest-asyncio needed)."""

    def run(tmp_path: Path, make_store: Callable[[], JobStore]) -> None:
        async def main() -> None:
            store = make_store()
            try:
                await test(tmp_path, store)
            finally:
                await store.close()

        asyncio.run(main())

    run.__name__ = test.__name__
    return run


def record(job_id: str = "job-" + "x" * 20) -> JobRecord:
    now = time.time()
    status = JobStatus(id=job_id, state=JobState.QUEUED, created_at=now, updated_at=now)
    return JobRecord(status=status, request=JobRequest(options=ConvertOptions(password="secret")))


@functools.cache
def shared_pool() -> PdfPool:
    """One PyMuPDF worker for the module's runs (the pool serves any event loop)."""
    return PdfPool(workers=1)


class PipelineConvert:
    """The real pipeline with the in-process models (layout off: the text-layer path, no model load)."""

    def __init__(self, *, gate: asyncio.Event | None = None, fail: Exception | None = None) -> None:
        self.pool = shared_pool()
        self.gate = gate
        self.fail = fail
        self.calls = 0

    async def __call__(self, data: bytes, request: JobRequest, progress: ConvertProgress) -> DocumentGraph:
        from docgraph.local import LocalModels

        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        models = LocalModels(layout=None, ocr=None)
        options = request.options.model_copy(update={"layout": False})
        result = await convert_bytes(
            data, pool=self.pool, models=models, options=options, limits=Limits(), progress=progress
        )
        return result.graph


async def wait_final(store: JobStore, job_id: str, timeout_s: float = 30) -> JobRecord:
    deadline = time.monotonic() + timeout_s
    rec: JobRecord | None = None
    while time.monotonic() < deadline:
        rec = await store.get(job_id)
        assert rec is not None
        if rec.status.state.final:
            return rec
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {rec.status.state if rec else 'never read'}")


@with_store
async def test_claim_is_exclusive_and_a_lapsed_lease_is_claimable(tmp_path: Path, store: JobStore) -> None:
    rec = record()
    await store.create(rec, b"%PDF-1.7")
    now = time.time()
    assert await store.claimable(now, 10) == [rec.status.id]
    a = await store.claim(rec.status.id, "a", now + 60, now)
    assert a is not None and a.owner == "a"
    a.status.state = JobState.RUNNING
    assert (await store.save(a, owner="a")).owned
    assert await store.claim(rec.status.id, "b", now + 60, now) is None  # a holds the lease
    assert not (await store.save(a, owner="b")).owned  # b cannot write a's job
    later = now + 120  # a stopped renewing: the watchdog's view
    assert await store.claimable(later, 10) == [rec.status.id]
    b = await store.claim(rec.status.id, "b", later + 60, later)
    assert b is not None and b.owner == "b"
    assert not (await store.save(a, owner="a")).owned  # a, back from the dead, no longer owns it


@with_store
async def test_cancel_flag_survives_the_owners_saves(tmp_path: Path, store: JobStore) -> None:
    rec = record()
    await store.create(rec, b"%PDF-1.7")
    now = time.time()
    mine = await store.claim(rec.status.id, "a", now + 60, now)
    assert mine is not None
    mine.status.state = JobState.RUNNING
    await store.save(mine, owner="a")
    flagged = await store.request_cancel(rec.status.id, now, ttl_s=60)
    assert flagged is not None and flagged.status.state is JobState.RUNNING  # its owner is alive: it stops it
    saved = await store.save(mine, owner="a")  # the owner's next heartbeat, with its stale copy
    assert saved.owned and saved.cancel_requested
    fresh = await store.get(rec.status.id)
    assert fresh is not None and fresh.status.cancel_requested


@with_store
async def test_queued_job_is_cancelled_at_once_and_forgets_its_password(tmp_path: Path, store: JobStore) -> None:
    rec = record()
    await store.create(rec, b"%PDF-1.7")
    done = await store.request_cancel(rec.status.id, time.time(), ttl_s=60)
    assert done is not None and done.status.state is JobState.CANCELLED
    assert done.request.options.password is None
    assert await store.upload(rec.status.id) == b"%PDF-1.7"  # kept until the job expires (its page images)
    assert await store.claimable(time.time(), 10) == []


@with_store
async def test_result_and_final_state_land_together_and_expire(tmp_path: Path, store: JobStore) -> None:
    rec = record()
    await store.create(rec, b"%PDF-1.7")
    now = time.time()
    mine = await store.claim(rec.status.id, "a", now + 60, now)
    assert mine is not None
    assert await store.result(rec.status.id) is None
    mine.status.state, mine.owner = JobState.SUCCEEDED, None
    mine.status.finished_at, mine.status.expires_at = now, now + 1
    assert await store.finish(mine, owner="a", result=b"{}")
    assert await store.result(rec.status.id) == b"{}"
    assert await store.upload(rec.status.id) == b"%PDF-1.7"  # kept, for page images, until the job expires
    assert await store.count_active() == 0
    assert await store.get(rec.status.id) is not None
    if isinstance(store, RedisJobStore):
        await asyncio.sleep(1.2)  # Redis expires the keys itself
    else:
        assert await store.delete_expired(now + 0.5) == 0
        assert await store.delete_expired(now + 10) == 1
    assert await store.get(rec.status.id) is None and await store.result(rec.status.id) is None
    assert await store.upload(rec.status.id) is None


@with_store
async def test_with_keep_uploads_off_a_finished_jobs_pdf_is_dropped(tmp_path: Path, store: JobStore) -> None:
    store.keep_uploads = False  # type: ignore[attr-defined]  # both stores take it (jobs.keep_uploads)
    done, queued = record("job-" + "d" * 20), record("job-" + "q" * 20)
    for rec in (done, queued):
        await store.create(rec, b"%PDF-1.7")
    now = time.time()
    mine = await store.claim(done.status.id, "a", now + 60, now)
    assert mine is not None
    mine.status.state, mine.owner = JobState.SUCCEEDED, None
    mine.status.finished_at, mine.status.expires_at = now, now + 60
    assert await store.finish(mine, owner="a", result=b"{}")
    assert await store.upload(done.status.id) is None and await store.result(done.status.id) == b"{}"
    assert await store.request_cancel(queued.status.id, now, ttl_s=60) is not None
    assert await store.upload(queued.status.id) is None


@with_store
async def test_job_runs_with_per_page_steps_and_page_stream(tmp_path: Path, store: JobStore) -> None:
    runner = JobRunner(store, config(tmp_path), PipelineConvert(), owner="a")
    runner.start()
    try:
        status = await runner.submit(make_text_pdf(3), JobRequest(options=ConvertOptions()), pages_total=3)
        rec = await wait_final(store, status.id)
    finally:
        await runner.stop()
    s = rec.status
    assert s.state is JobState.SUCCEEDED and s.attempts == 1
    assert (s.pages_total, s.pages_done, s.pages_failed) == (3, 3, 0)
    for page in s.pages:
        assert page.state is PageState.OK and page.timings is not None
        assert list(page.steps) == [Step.TEXT, Step.MERGE] and set(page.steps.values()) == {StepState.DONE}
    graph = DocumentGraph.model_validate_json(await store.result(s.id) or b"")
    assert len(graph.pages) == 3
    assert len(await store.pages_after(s.id, 0)) == 3


@with_store
async def test_a_crash_in_the_conversion_is_a_visible_failure(tmp_path: Path, store: JobStore) -> None:
    runner = JobRunner(store, config(tmp_path), PipelineConvert(fail=ImportError("No module named 'openai'")))
    runner.start()
    try:
        status = await runner.submit(make_text_pdf(1), JobRequest(options=ConvertOptions()), pages_total=1)
        rec = await wait_final(store, status.id)
    finally:
        await runner.stop()
    assert rec.status.state is JobState.FAILED
    assert rec.status.error is not None and "openai" in rec.status.error.message
    assert rec.status.error.code == "internal_error"


def test_a_dead_owners_job_is_resumed_by_another_replica(tmp_path: Path, make_store: Callable[[], JobStore]) -> None:
    async def main() -> None:
        store, second_store = make_store(), make_store()  # two replicas' own connections to the same jobs
        try:
            await resume_after_death(tmp_path, store, second_store)
        finally:
            await store.close()
            await second_store.close()

    asyncio.run(main())


async def resume_after_death(tmp_path: Path, store: JobStore, second_store: JobStore) -> None:
    cfg = config(tmp_path)
    gate = asyncio.Event()  # never set: the first runner's conversion hangs, then the runner "dies"
    first = JobRunner(store, cfg, PipelineConvert(gate=gate), owner="first")
    first.start()
    status = await first.submit(make_text_pdf(2), JobRequest(options=ConvertOptions()), pages_total=2)
    for _ in range(100):
        rec = await store.get(status.id)
        if rec and rec.status.state is JobState.RUNNING:
            break
        await asyncio.sleep(0.05)
    await first.stop()  # like a killed replica: no final write, the lease just lapses
    rec = await store.get(status.id)
    assert rec is not None and rec.status.state is JobState.RUNNING and rec.status.attempts == 1
    second = JobRunner(second_store, cfg, PipelineConvert(), owner="second")
    second.start()
    try:
        rec = await wait_final(second_store, status.id)
    finally:
        await second.stop()
    assert rec.status.state is JobState.SUCCEEDED and rec.status.attempts == 2


@with_store
async def test_a_job_that_keeps_killing_its_replica_fails_as_owner_died(tmp_path: Path, store: JobStore) -> None:
    cfg = config(tmp_path, max_attempts=1)
    held = PipelineConvert(gate=asyncio.Event())
    first = JobRunner(store, cfg, held, owner="first")
    first.start()
    status = await first.submit(make_text_pdf(1), JobRequest(options=ConvertOptions()), pages_total=1)
    async with asyncio.timeout(30):
        while held.calls == 0:  # noqa: ASYNC110 - the first runner has claimed it (a fixed sleep raced a busy machine)
            await asyncio.sleep(0.05)
    await first.stop()
    second = JobRunner(store, cfg, PipelineConvert(), owner="second")
    second.start()
    try:
        rec = await wait_final(store, status.id)
    finally:
        await second.stop()
    assert rec.status.state is JobState.FAILED
    assert rec.status.error is not None and rec.status.error.code == "owner_died"


@with_store
async def test_cancel_stops_a_running_job(tmp_path: Path, store: JobStore) -> None:
    convert = PipelineConvert(gate=asyncio.Event())
    runner = JobRunner(store, config(tmp_path), convert)
    runner.start()
    try:
        status = await runner.submit(make_text_pdf(1), JobRequest(options=ConvertOptions()), pages_total=1)
        while convert.calls == 0:  # noqa: ASYNC110 - polls a counter the converter bumps; no event to wait on
            await asyncio.sleep(0.05)
        await runner.cancel(status.id)
        rec = await wait_final(store, status.id)
    finally:
        await runner.stop()
    assert rec.status.state is JobState.CANCELLED and await store.result(status.id) is None


@with_store
async def test_admission_is_bounded(tmp_path: Path, store: JobStore) -> None:
    runner = JobRunner(store, config(tmp_path, max_active=1), PipelineConvert(gate=asyncio.Event()))
    await runner.submit(make_text_pdf(1), JobRequest(options=ConvertOptions()), pages_total=1)
    with pytest.raises(QueueFullError):
        await runner.submit(make_text_pdf(1), JobRequest(options=ConvertOptions()), pages_total=1)
