"""``docgraph loadtest``: drive a running docgraph service and report what it sustained.

Closed loop (``concurrency``: N clients, each sends the next document when the last one is answered) or open
loop (``rate``: documents per second arrive on schedule, whether or not earlier ones were answered), either
in steps (``steps``, each ``step_s`` long) or as a sweep (``sweep``: levels double until goodput stops
rising; the knee is reported). A warm-up (``warmup_s``) runs first and is never counted; each step's first
``settle_s`` is left out of its steady-state figures. Documents go through ``POST /v1/convert``, or with
``jobs`` through ``POST /v1/jobs`` and the job's event stream (time to first page). Always bounded by a request
count and a duration, and stops by itself. Targets must be loopback addresses unless the caller allows others.

``docgraph.loadreport`` turns the run into the report (per route and per step: pages/s, goodput against the
latency limits, latency percentiles, statuses; queue wait vs service time per stage from the service's
metrics; definitions and versions): ``report.json`` and ``report.png``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, ConfigDict, Field

from docgraph.loadreport import (
    ROUTE_RANK,
    WARMUP_STEP,
    Limits,
    Run,
    Sample,
    StepWindow,
    keep_sweeping,
    parse_stage_metrics,
    step_figures,
)


class LoadTestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    files: list[Path] = Field(min_length=1)
    concurrency: int | None = Field(default=None, gt=0, description="Closed loop: clients (steps override).")
    rate: float | None = Field(default=None, gt=0, description="Open loop: documents/s (steps override).")
    steps: list[float] = Field(default_factory=list, description="Concurrency or rate per step.")
    step_s: float = Field(default=30.0, gt=0)
    max_requests: int = Field(default=1000, gt=0)
    max_duration_s: float = Field(default=300.0, gt=0)
    timeout_s: float = Field(default=600.0, gt=0)
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters of /v1/convert.")
    api_key: str | None = None
    metrics_url: str | None = Field(
        default=None, description="Prometheus endpoint (Ray's metrics port): OCR tokens, stage wait vs service time."
    )
    metrics_flush_s: float = Field(default=12.0, ge=0, description="Wait for the metrics export before reading.")
    allow_remote: bool = False
    warmup_s: float = Field(default=5.0, ge=0, description="Load at the first level first, never counted.")
    settle_s: float | None = Field(default=None, ge=0, description="Left out of each step (default step_s / 4).")
    sweep: bool = Field(default=False, description="Double the level until goodput stops rising.")
    max_level: float = Field(default=64.0, gt=0, description="Sweep: the highest level tried.")
    jobs: bool = Field(default=False, description="Through /v1/jobs and its event stream (time to first page).")
    limits: Limits = Field(default_factory=Limits)

    def schedule(self) -> list[float]:
        """Load level per step: ``steps``; a sweep doubles from the first level up to ``max_level``."""
        first = float(self.rate if self.rate is not None else (self.concurrency or 1))
        if self.steps and not self.sweep:
            return list(self.steps)
        if not self.sweep:
            return [first]
        levels = list(self.steps) or [first]
        while levels[-1] * 2 <= self.max_level:
            levels.append(levels[-1] * 2)
        return levels

    @property
    def settle(self) -> float:
        return self.step_s / 4 if self.settle_s is None else self.settle_s

    @property
    def open_loop(self) -> bool:
        return self.rate is not None


class RemoteTargetError(ValueError):
    pass


def check_target(url: str, *, allow_remote: bool) -> None:
    """Loopback only, unless allowed: a load test must never hit a machine by accident."""
    host = urlparse(url).hostname
    if not host:
        raise RemoteTargetError(f"no host in {url!r}")
    if allow_remote:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise RemoteTargetError(f"cannot resolve {host!r}: {exc}") from exc
    remote = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if remote:
        raise RemoteTargetError(
            f"{host} resolves to non-loopback {sorted(remote)}: pass --allow-remote to load-test another machine"
        )


def _route_of(body: dict[str, Any]) -> str:
    routes = [
        "ocr" if "ocr" in p["route"] else "layout" if "layout" in p["route"] else "text_layer" for p in body["pages"]
    ]
    return max(routes, key=ROUTE_RANK.__getitem__) if routes else "text_layer"


def _job_route(status: dict[str, Any]) -> str:
    steps = {step for page in status.get("pages", []) for step in page.get("steps", {})}
    return "ocr" if "ocr" in steps else "layout" if "layout" in steps else "text_layer"


async def _scrape(client: httpx.AsyncClient, metrics_url: str | None) -> str | None:
    if not metrics_url:
        return None
    try:
        return (await client.get(metrics_url, timeout=10)).text
    except httpx.HTTPError:
        return None


def _ocr_tokens(text: str | None) -> float | None:
    if text is None:
        return None
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("ray_docgraph_ocr_tokens_total{")
    )


async def _service_versions(client: httpx.AsyncClient) -> dict[str, Any]:
    found: dict[str, Any] = {}
    try:
        found["version"] = (await client.get("/openapi.json", timeout=10)).json()["info"]["version"]
        models = await client.get("/v1/models", timeout=10)
        if models.status_code == 200:
            found["models"] = models.json()
    except (httpx.HTTPError, KeyError, ValueError):
        pass
    return found


ProgressCallback = Callable[[Run, int, float, int], None]


class _Driver:
    """Sends documents at a level until a time, keeping every answer as a ``Sample`` of ``run``."""

    def __init__(self, config: LoadTestConfig, client: httpx.AsyncClient, run: Run) -> None:
        self.config, self.client, self.run = config, client, run
        self.docs = [(p.name, p.read_bytes()) for p in config.files]
        self.params = {"format": "json", **config.params}
        self.in_flight: set[asyncio.Task[None]] = set()
        self.sent = 0

    async def one(self, step: int) -> None:
        name, data = random.choice(self.docs)  # noqa: S311 - picks a test document, nothing secret
        t0 = time.monotonic()
        try:
            send = self._job if self.config.jobs else self._convert
            sample = await send(step, name, data, t0)
        except httpx.HTTPError:
            sample = Sample(t0, time.monotonic(), 0, step=step)  # transport error / client timeout
        self.run.samples.append(sample)

    async def _convert(self, step: int, name: str, data: bytes, t0: float) -> Sample:
        files = {"file": (name, data, "application/pdf")}
        r = await self.client.post("/v1/convert", params=self.params, files=files)
        sample = Sample(t0, time.monotonic(), r.status_code, step=step)
        if r.status_code == 200:
            body = r.json()
            sample.pages, sample.route = len(body["pages"]), _route_of(body)
        return sample

    async def _job(self, step: int, name: str, data: bytes, t0: float) -> Sample:
        params = {k: v for k, v in self.params.items() if k != "format"}
        r = await self.client.post("/v1/jobs", params=params, files={"file": (name, data, "application/pdf")})
        if r.status_code != 202:
            return Sample(t0, time.monotonic(), r.status_code, step=step)
        first_page, event = None, ""
        async with self.client.stream("GET", r.json()["events_url"]) as events:
            async for line in events.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "page" and first_page is None:
                        first_page = time.monotonic()
                elif line.startswith("data: ") and event in ("done", "error"):
                    status = json.loads(line[6:]) if event == "done" else {}
                    ok = status.get("state") in ("succeeded", "partially_succeeded")
                    sample = Sample(t0, time.monotonic(), 200 if ok else 500, step=step, first_page=first_page)
                    if ok:
                        sample.pages, sample.route = int(status.get("pages_done", 0)), _job_route(status)
                    return sample
        return Sample(t0, time.monotonic(), 0, step=step, first_page=first_page)  # stream ended without 'done'

    async def watch(self) -> None:
        """Replicas per deployment, once a second (``GET /v1/deployments``)."""
        while True:
            try:
                body = (await self.client.get("/v1/deployments", timeout=10)).json()
                point: dict[str, Any] = {"t": time.monotonic() - self.run.started}
                point.update({d["name"]: d["replicas"] for d in body["deployments"]})
                self.run.replicas.append(point)
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            await asyncio.sleep(1.0)

    async def drive(self, step: int, level: float, until: float, on_progress: ProgressCallback | None) -> None:
        next_arrival, last_progress = time.monotonic(), 0.0
        while time.monotonic() < until and self.sent < self.config.max_requests:
            now = time.monotonic()
            if self.config.open_loop:
                if now >= next_arrival:
                    self.in_flight.add(asyncio.create_task(self.one(step)))
                    self.sent += 1
                    next_arrival += 1.0 / level
            else:
                while len(self.in_flight) < int(level) and self.sent < self.config.max_requests:
                    self.in_flight.add(asyncio.create_task(self.one(step)))
                    self.sent += 1
            self.in_flight -= {t for t in self.in_flight if t.done()}
            if on_progress and now - last_progress >= 1.0:
                on_progress(self.run, step, level, self.sent)
                last_progress = now
            await asyncio.sleep(0.01)


async def run_load(config: LoadTestConfig, *, on_progress: ProgressCallback | None = None) -> Run:
    """Send the load; ``on_progress(run, step, level, sent)`` (``step``: its index in the schedule, -1 in the
    warm-up; ``level``: its concurrency or rate; ``sent``: documents sent so far) is called about once a second
    while documents are being sent, and once more after the run."""
    check_target(config.url, allow_remote=config.allow_remote)
    headers = {"X-API-Key": config.api_key} if config.api_key else {}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    run = Run()
    schedule = config.schedule()
    async with httpx.AsyncClient(
        base_url=config.url, headers=headers, timeout=config.timeout_s, limits=limits
    ) as client:
        driver = _Driver(config, client, run)
        run.service = await _service_versions(client)
        run.started = time.monotonic()
        deadline = run.started + config.max_duration_s

        watcher = asyncio.create_task(driver.watch())
        before: str | None = None
        try:
            if config.warmup_s > 0:
                await driver.drive(WARMUP_STEP, schedule[0], min(run.started + config.warmup_s, deadline), on_progress)
            before = await _scrape(client, config.metrics_url)  # the warm-up's pages left out (as far as exported)
            for step, level in enumerate(schedule):
                now = time.monotonic()
                # one level without a sweep runs until the run's deadline; steps run step_s each
                single = len(schedule) == 1 and not config.sweep
                run.steps.append(StepWindow(level=level, start=now, steady=now + (0 if single else config.settle)))
                await driver.drive(step, level, deadline if single else min(now + config.step_s, deadline), on_progress)
                run.steps[-1].end = time.monotonic()
                if config.sweep and (reason := keep_sweeping(_figures(run, config), config.limits)):
                    run.stopped = reason
                    break
                if driver.sent >= config.max_requests or time.monotonic() >= deadline:
                    run.stopped = "request count reached" if driver.sent >= config.max_requests else "duration reached"
                    break
            else:
                run.stopped = "schedule done"
            if driver.in_flight:
                await asyncio.wait(driver.in_flight, timeout=max(1.0, deadline + config.timeout_s - time.monotonic()))
        finally:
            for task in driver.in_flight:
                task.cancel()
            watcher.cancel()
            run.ended = time.monotonic()
        await _read_metrics(client, config, run, before)
        if on_progress:
            on_progress(run, len(run.steps) - 1, run.steps[-1].level if run.steps else schedule[0], driver.sent)
    return run


async def _read_metrics(client: httpx.AsyncClient, config: LoadTestConfig, run: Run, before: str | None) -> None:
    """OCR tokens and the stage histograms over the run (from after the warm-up), once exported."""
    if not config.metrics_url:
        return
    await asyncio.sleep(config.metrics_flush_s)  # Ray exports custom metrics every few seconds
    after = await _scrape(client, config.metrics_url)
    tokens_before, tokens_after = _ocr_tokens(before), _ocr_tokens(after)
    if tokens_before is not None and tokens_after is not None:
        run.tokens = tokens_after - tokens_before
    if before is not None and after is not None:
        run.stages_before, run.stages_after = parse_stage_metrics(before), parse_stage_metrics(after)


def _figures(run: Run, config: LoadTestConfig) -> list[dict[str, Any]]:
    return [step_figures(run, i, config.limits) for i in range(len(run.steps))]
