"""Runs jobs on an ingress replica: claims them from the store, converts, records progress, finishes them.

Every replica runs a pump: it claims queued jobs while it has room (``max_running``) and, as the watchdog, jobs
whose owner stopped renewing its lease (the replica died): those run again from the stored upload, up to
``max_attempts`` runs, then fail as ``owner_died``. A job is marked ``running`` in the store before anything
about it can fail; every failure ends in a final state with its reason; a result is written together with its
final state, never before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from pipeline.build import build_graph
from pipeline.errors import DocgraphError
from pipeline.export import JsonSerializer
from pipeline.graph import DocumentGraph, DocumentStatus, ErrorInfo, PageStatus
from pipeline.outcome import PageOutcome
from pipeline.pdf import DocumentMeta
from pipeline.progress import ConvertProgress
from pipeline.steps import MODEL_STEPS, Step
from serve.args import JobsConfig
from serve.jobs.errors import QueueFullError
from serve.jobs.models import (
    JobRecord,
    JobRequest,
    JobState,
    JobStatus,
    PageProgress,
    PageResult,
    PageState,
    StepState,
)
from serve.jobs.store import JobStore, cancel_now, end

log = logging.getLogger("docgraph.jobs")
Convert = Callable[[bytes, JobRequest, ConvertProgress], Awaitable[DocumentGraph]]
PAGE_STATE = {PageStatus.OK: PageState.OK, PageStatus.PARTIAL: PageState.PARTIAL, PageStatus.FAILED: PageState.FAILED}


def new_job_id() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits: not guessable, not enumerable


class JobProgressRecorder:
    """``ConvertProgress`` into a job's status (in memory; the runner's heartbeat writes it to the store)."""

    def __init__(self, status: JobStatus, filename: str | None) -> None:
        self.status = status
        self._filename = filename
        self._meta: DocumentMeta | None = None
        self._index: dict[int, PageProgress] = {}
        self.finished_pages: list[bytes] = []  # page results not yet written to the store (for /events)

    def opened(self, meta: DocumentMeta, page_nos: list[int]) -> None:
        self._meta = meta
        self.status.pages = [PageProgress(page_no=n) for n in page_nos]
        self._index = {p.page_no: p for p in self.status.pages}
        self.status.pages_total = len(page_nos)

    def step(self, page_no: int, step: Step) -> None:
        page = self._index[page_no]
        for name, state in page.steps.items():  # the models run side by side: starting one does not end the other
            if state is StepState.RUNNING and not (name in MODEL_STEPS and step in MODEL_STEPS):
                page.steps[name] = StepState.DONE
        page.steps[step] = StepState.RUNNING
        page.state = PageState.RUNNING

    def page_done(self, outcome: PageOutcome) -> None:
        page = self._index.get(outcome.page_no)
        if page is None:
            return
        failed_step = outcome.error.step if outcome.error else None
        for name, state in page.steps.items():
            if state is StepState.RUNNING:
                page.steps[name] = StepState.DONE
        if failed_step in page.steps:  # the step that failed, even where the page went on past it (partial)
            page.steps[failed_step] = StepState.FAILED
        page.state, page.error, page.timings = PAGE_STATE[outcome.status], outcome.error, outcome.timings
        page.attempts = dict(outcome.attempts)
        self.status.pages_done += 1
        self.status.pages_failed += outcome.status is PageStatus.FAILED
        if self._meta is not None:
            graph = build_graph(self._meta, [outcome], filename=self._filename)
            self.finished_pages.append(PageResult(page=graph.pages[0], blocks=graph.blocks).model_dump_json().encode())


class JobRunner:
    def __init__(self, store: JobStore, config: JobsConfig, convert: Convert, *, owner: str | None = None) -> None:
        self.store = store
        self.config = config
        self._convert = convert
        self.owner = owner or f"ingress-{secrets.token_hex(6)}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelling: set[str] = set()
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._last_expiry = 0.0

    # --- the pump (claims queued jobs and, as the watchdog, jobs whose owner died) -------------------------
    def start(self) -> None:
        self._pump_task = asyncio.get_running_loop().create_task(self._pump_forever(), name="docgraph-jobs-pump")

    async def stop(self) -> None:
        tasks = [t for t in (self._pump_task, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump_forever(self) -> None:
        interval = min(1.0, self.config.lease_s / 4)
        while True:
            try:
                await self.pump()
            except Exception:
                log.exception("job pump failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()

    async def pump(self) -> None:
        now = time.time()
        if now - self._last_expiry > 60:
            self._last_expiry = now
            if deleted := await self.store.delete_expired(now):
                log.info("deleted %d expired jobs", deleted)
        room = self.config.max_running - len(self._tasks)
        if room <= 0:
            return
        for job_id in await self.store.claimable(now, room * 2):
            if len(self._tasks) >= self.config.max_running:
                break
            record = await self.store.claim(job_id, self.owner, time.time() + self.config.lease_s, time.time())
            if record is None:
                continue  # another replica took it
            if record.status.state is JobState.RUNNING:
                log.warning(
                    "job %s: its replica stopped renewing it; resuming (run %d)", job_id, record.status.attempts + 1
                )
            self._tasks[job_id] = asyncio.get_running_loop().create_task(self._run(record), name=f"job-{job_id[:8]}")

    # --- API-facing --------------------------------------------------------------------------------------------
    async def submit(self, data: bytes, request: JobRequest, *, pages_total: int | None) -> JobStatus:
        now = time.time()
        status = JobStatus(
            id=new_job_id(),
            state=JobState.QUEUED,
            created_at=now,
            updated_at=now,
            filename=request.filename,
            pages_total=pages_total,
        )
        record = JobRecord(status=status, request=request)
        if not await self.store.create(record, data, max_active=self.config.max_active):  # one transaction
            raise QueueFullError(
                f"{self.config.max_active} jobs are already queued or running; retry later",
                limit=self.config.max_active,
            )
        self._wake.set()
        return status

    async def cancel(self, job_id: str) -> JobRecord | None:
        record = await self.store.request_cancel(job_id, time.time(), self.config.result_ttl_s)
        task = self._tasks.get(job_id)
        if task is not None:  # ours: stop it now (its model calls are cancelled with it)
            self._cancelling.add(job_id)
            task.cancel()
        return record

    # --- one run -------------------------------------------------------------------------------------------
    async def _run(self, record: JobRecord) -> None:
        job_id, status = record.status.id, record.status
        try:
            if status.cancel_requested:
                await self._end(record, JobState.CANCELLED)
                return
            if status.attempts >= self.config.max_attempts:
                await self._end(
                    record,
                    JobState.FAILED,
                    error=ErrorInfo(
                        code="owner_died",
                        message=f"the replica running this job stopped {status.attempts} time(s); not retried again",
                    ),
                )
                return
            status.attempts += 1
            now = time.time()
            status.state, status.started_at, status.updated_at = JobState.RUNNING, now, now
            status.pages_done = status.pages_failed = 0
            status.pages, status.error = [], None
            record.lease_until = now + self.config.lease_s
            if not (await self.store.save(record, owner=self.owner)).owned:  # "running" is on record first
                return
            await self.store.clear_pages(job_id)  # a resumed run starts its page stream again
            await self._convert_and_finish(record)
        except asyncio.CancelledError:
            if job_id in self._cancelling:
                await asyncio.shield(self._end(record, JobState.CANCELLED))
            else:  # the replica is stopping: leave the job to the lease, another replica resumes it
                raise
        except Exception as exc:
            log.exception("job %s failed", job_id)
            code = exc.code if isinstance(exc, DocgraphError) else "internal_error"
            await self._end(record, JobState.FAILED, error=ErrorInfo(code=code, message=str(exc) or type(exc).__name__))
        finally:
            self._tasks.pop(job_id, None)
            self._cancelling.discard(job_id)
            self._wake.set()

    async def _convert_and_finish(self, record: JobRecord) -> None:
        data = await self.store.upload(record.status.id)
        if data is None:
            raise DocgraphError("the job's upload is no longer in the store", code="upload_missing")
        recorder = JobProgressRecorder(record.status, record.request.filename)
        work = asyncio.ensure_future(self._convert(data, record.request, recorder))
        heartbeat = asyncio.ensure_future(self._heartbeat(record, recorder))
        try:
            graph = await work  # cancelling this task cancels `work`, and with it every model call in flight
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await self._flush_pages(record, recorder)
        state = JobState.SUCCEEDED if graph.status is DocumentStatus.COMPLETE else JobState.PARTIALLY_SUCCEEDED
        await self._end(record, state, result=JsonSerializer().serialize(graph).encode())

    async def _heartbeat(self, record: JobRecord, recorder: JobProgressRecorder) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            record.lease_until = time.time() + self.config.lease_s
            record.status.updated_at = time.time()
            await self._flush_pages(record, recorder)
            saved = await self.store.save(record, owner=self.owner)
            if saved.cancel_requested or not saved.owned:
                log.info("job %s: cancelled (%s)", record.status.id, "requested" if saved.owned else "ownership lost")
                self._cancelling.add(record.status.id)
                self._tasks[record.status.id].cancel()
                return

    async def _flush_pages(self, record: JobRecord, recorder: JobProgressRecorder) -> None:
        while recorder.finished_pages:
            # shielded: the heartbeat that flushes is cancelled when the job ends, and a store call cancelled
            # before it ran (SQLite's queued executor job) would lose the page it had taken off the list
            await asyncio.shield(self.store.add_page(record.status.id, recorder.finished_pages.pop(0)))

    async def _end(
        self, record: JobRecord, state: JobState, *, error: ErrorInfo | None = None, result: bytes | None = None
    ) -> None:
        owner = record.owner
        if state is JobState.CANCELLED:
            cancel_now(record, time.time(), self.config.result_ttl_s)
        else:
            end(record, state, time.time(), self.config.result_ttl_s, error)
        if await self.store.finish(record, owner=owner, result=result):
            log.info(
                "job %s %s (%s pages done, %s failed)",
                record.status.id,
                state.value,
                record.status.pages_done,
                record.status.pages_failed,
            )
