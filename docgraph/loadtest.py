"""``docgraph loadtest``: drive a running docgraph service and report what it sustained.

Closed loop (``concurrency``: N clients, each sends the next document when the last one is answered) or open
loop (``rate``: documents per second arrive on schedule, whether or not earlier ones were answered), either
in steps (``steps``, each ``step_s`` long). Always bounded by a request count and a duration, and stops by
itself. Targets must be loopback addresses unless the caller allows others explicitly.

Reports pages/s, documents/s, latency p50/p95/p99 per route (the slowest route a document's pages took:
ocr > layout > text_layer), HTTP status counts (503 backpressure counted apart from errors), OCR tokens/s when
the server's metrics are given, and the replica count per deployment over time (``GET /v1/deployments``).
Writes ``report.json`` and ``report.png``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, ConfigDict, Field

ROUTE_RANK = {"text_layer": 0, "layout": 1, "ocr": 2}


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
    metrics_url: str | None = Field(default=None, description="Prometheus endpoint to read OCR tokens from.")
    allow_remote: bool = False

    def schedule(self) -> list[float]:
        """Load level per step (one step without ``steps``)."""
        if self.steps:
            return list(self.steps)
        return [float(self.rate if self.rate is not None else (self.concurrency or 1))]

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


@dataclass(slots=True)
class Sample:
    start: float
    end: float
    status: int
    pages: int = 0
    route: str | None = None
    step: int = 0


@dataclass(slots=True)
class Run:
    samples: list[Sample] = field(default_factory=list)
    replicas: list[dict[str, Any]] = field(default_factory=list)  # {"t": s, "<deployment>": n, ...}
    started: float = 0.0
    ended: float = 0.0
    tokens: float | None = None


def _route_of(body: dict[str, Any]) -> str:
    routes = [
        "ocr" if "ocr" in p["route"] else "layout" if "layout" in p["route"] else "text_layer" for p in body["pages"]
    ]
    return max(routes, key=ROUTE_RANK.__getitem__) if routes else "text_layer"


async def _ocr_tokens(client: httpx.AsyncClient, metrics_url: str | None) -> float | None:
    if not metrics_url:
        return None
    try:
        text = (await client.get(metrics_url, timeout=10)).text
    except httpx.HTTPError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("ray_docgraph_ocr_tokens_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


ProgressCallback = Callable[[Run, int, float, int], None]


async def run_load(  # noqa: PLR0912, PLR0915 - one closed/open-loop driver whose steps share its state
    config: LoadTestConfig, *, on_progress: ProgressCallback | None = None
) -> Run:
    """Send the load; ``on_progress(run, step, level, sent)`` (``step``: its index in the schedule, ``level``:
    its concurrency or rate, ``sent``: documents sent so far) is called about once a second while documents
    are being sent, and once more after the run (with the schedule's last step and level)."""
    check_target(config.url, allow_remote=config.allow_remote)
    docs = [(p.name, p.read_bytes()) for p in config.files]
    headers = {"X-API-Key": config.api_key} if config.api_key else {}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    run = Run()
    schedule = config.schedule()
    sent = 0
    params = {"format": "json", **config.params}
    async with httpx.AsyncClient(
        base_url=config.url, headers=headers, timeout=config.timeout_s, limits=limits
    ) as client:
        tokens_before = await _ocr_tokens(client, config.metrics_url)
        run.started = time.monotonic()
        deadline = run.started + config.max_duration_s

        async def one(step: int) -> None:
            name, data = random.choice(docs)  # noqa: S311 - picks a test document, nothing secret
            t0 = time.monotonic()
            try:
                r = await client.post("/v1/convert", params=params, files={"file": (name, data, "application/pdf")})
                sample = Sample(t0, time.monotonic(), r.status_code, step=step)
                if r.status_code == 200:
                    body = r.json()
                    sample.pages, sample.route = len(body["pages"]), _route_of(body)
            except httpx.HTTPError:
                sample = Sample(t0, time.monotonic(), 0, step=step)  # transport error / client timeout
            run.samples.append(sample)

        async def watch() -> None:
            while True:
                try:
                    body = (await client.get("/v1/deployments", timeout=10)).json()
                    point: dict[str, Any] = {"t": time.monotonic() - run.started}
                    point.update({d["name"]: d["replicas"] for d in body["deployments"]})
                    run.replicas.append(point)
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                await asyncio.sleep(1.0)

        watcher = asyncio.create_task(watch())
        in_flight: set[asyncio.Task[None]] = set()
        try:
            for step, level in enumerate(schedule):
                # one level runs until the run's deadline; several run step_s each
                step_end = deadline if len(schedule) == 1 else min(time.monotonic() + config.step_s, deadline)
                next_arrival = time.monotonic()
                last_progress = 0.0
                while time.monotonic() < step_end and sent < config.max_requests:
                    now = time.monotonic()
                    if config.open_loop:
                        if now >= next_arrival:
                            in_flight.add(asyncio.create_task(one(step)))
                            sent += 1
                            next_arrival += 1.0 / level
                    else:
                        while len(in_flight) < int(level) and sent < config.max_requests:
                            in_flight.add(asyncio.create_task(one(step)))
                            sent += 1
                    done = {t for t in in_flight if t.done()}
                    in_flight -= done
                    if on_progress and now - last_progress >= 1.0:
                        on_progress(run, step, level, sent)
                        last_progress = now
                    await asyncio.sleep(0.01)
                if sent >= config.max_requests or time.monotonic() >= deadline:
                    break
            if in_flight:
                await asyncio.wait(in_flight, timeout=max(1.0, deadline + config.timeout_s - time.monotonic()))
        finally:
            for task in in_flight:
                task.cancel()
            watcher.cancel()
            run.ended = time.monotonic()
        tokens_after = await _ocr_tokens(client, config.metrics_url)
        if tokens_before is not None and tokens_after is not None:
            run.tokens = tokens_after - tokens_before
        if on_progress:
            on_progress(run, len(schedule) - 1, schedule[-1], sent)
    return run


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0]}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 4), "p95": round(q[94], 4), "p99": round(q[98], 4)}


def summarize(config: LoadTestConfig, run: Run) -> dict[str, Any]:
    elapsed = max(run.ended - run.started, 1e-9)
    ok = [s for s in run.samples if s.status == 200]
    statuses: dict[str, int] = {}
    for s in run.samples:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    by_route: dict[str, Any] = {}
    for route in sorted({s.route for s in ok if s.route}, key=ROUTE_RANK.__getitem__):
        latencies = [s.end - s.start for s in ok if s.route == route]
        by_route[route] = {"documents": len(latencies), **_percentiles(latencies)}
    pages = sum(s.pages for s in ok)
    return {
        "url": config.url,
        "mode": "open" if config.open_loop else "closed",
        "schedule": config.schedule(),
        "duration_s": round(elapsed, 2),
        "requests": len(run.samples),
        "succeeded": len(ok),
        "backpressure_503": statuses.get("503", 0),
        "errors": sum(n for code, n in statuses.items() if code not in ("200", "503")),
        "statuses": statuses,
        "documents_per_s": round(len(ok) / elapsed, 3),
        "pages_per_s": round(pages / elapsed, 3),
        "latency_s": {"all": _percentiles([s.end - s.start for s in ok]), **by_route},
        "ocr_tokens_per_s": None if run.tokens is None else round(run.tokens / elapsed, 2),
        "replicas": run.replicas,
        "timeline": [
            {
                "start": round(s.start - run.started, 3),
                "latency": round(s.end - s.start, 3),
                "status": s.status,
                "pages": s.pages,
                "route": s.route,
                "step": s.step,
            }
            for s in sorted(run.samples, key=lambda s: s.end)
        ],
    }


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``report.json`` and ``report.png`` (throughput, latency and replicas over time) in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / "report.json", out / "report.png"
    json_path.write_text(json.dumps(report, indent=2))
    timeline = report["timeline"]
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    if timeline:
        ends = [t["start"] + t["latency"] for t in timeline]
        horizon = int(max(ends)) + 1
        per_s = [0] * horizon
        for t, end in zip(timeline, ends, strict=True):
            if t["status"] == 200:
                per_s[int(end)] += t["pages"]
        axes[0].plot(range(horizon), per_s, drawstyle="steps-post", label="pages/s")
        for status, color in ((200, "tab:blue"), (503, "tab:orange")):
            points = [(e, t["latency"]) for t, e in zip(timeline, ends, strict=True) if t["status"] == status]
            if points:
                axes[1].scatter(*zip(*points, strict=True), s=8, color=color, label=f"HTTP {status}")
        other = [(e, t["latency"]) for t, e in zip(timeline, ends, strict=True) if t["status"] not in (200, 503)]
        if other:
            axes[1].scatter(*zip(*other, strict=True), s=8, color="tab:red", label="errors")
    for name in sorted({k for p in report["replicas"] for k in p if k != "t"}):
        axes[2].plot([p["t"] for p in report["replicas"]], [p.get(name, 0) for p in report["replicas"]],
                     drawstyle="steps-post", label=name)  # fmt: skip
    axes[0].set_ylabel("pages / s")
    axes[1].set_ylabel("latency (s)")
    axes[2].set_ylabel("replicas")
    axes[2].set_xlabel("seconds since start")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(
        f"docgraph load test: {report['pages_per_s']} pages/s, {report['documents_per_s']} docs/s, "
        f"p95 {report['latency_s']['all'].get('p95', '-')} s"
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path
