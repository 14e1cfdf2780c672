"""What ``docgraph loadtest`` reports: steady-state figures per step, goodput against latency limits, the knee
of a sweep, time to first page for jobs, queue wait vs service time from the service's stage metrics, and
the definitions and versions of all of these, written to ``report.json`` and ``report.png``."""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ROUTE_RANK = {"text_layer": 0, "layout": 1, "ocr": 2}
WARMUP_STEP = -1  # the step index of warm-up samples: sent, never counted
MIN_WINDOW_S = 0.5  # a steady-state window shorter than this says nothing about the level (a document or two)

DEFINITIONS = {
    "warm-up": "requests started during the first warmup_s at the first level: sent, answered, never counted",
    "steady-state window": "a step's time after its first settle_s; its throughput counts the documents that "
    "finished in it (whenever sent), its latencies and errors those that started in it; a step cut short (the "
    "run's request count or duration reached) less than min_window_s after its settle_s has none: steady false, "
    "its figures not used for the knee or the sweep",
    "pages_per_s": "pages of documents answered 200 that finished in the window, per second of the window",
    "goodput_pages_per_s": "the same, counting only documents within both latency limits (slo_document_s for "
    "the whole document, slo_page_s for its latency divided by its pages); without limits it equals pages_per_s",
    "latency_s": "from sending the request to the end of the response (jobs: to the 'done' event)",
    "time_to_first_page_s": "jobs only: from sending the upload to the first 'page' event of the job's stream",
    "knee": "the lowest level whose steady-state goodput is within knee_tolerance of the best level's",
    "sweep": "levels rise until goodput stops rising (two levels in a row without min_gain over the best so far), "
    "errors exceed max_error_share, or the run's bounds are reached",
    "stage ingress_s": "mean seconds a page spent in the stage as the ingress saw it (ray_docgraph_stage_seconds)",
    "stage model_s": "mean seconds of one model call for one page inside the model replica "
    "(ray_docgraph_model_seconds): the service time",
    "stage wait_s": "ingress_s - model_s: queueing, batching and transport between the ingress and the replica",
}


class Limits(BaseModel):
    """Latency limits for goodput, and the sweep's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slo_document_s: float | None = Field(default=None, gt=0, description="A good document is answered within.")
    slo_page_s: float | None = Field(default=None, gt=0, description="A good document's latency per page within.")
    min_gain: float = Field(default=0.05, ge=0, description="Sweep: a level must beat the best goodput by this.")
    knee_tolerance: float = Field(default=0.05, ge=0, description="Knee: within this share of the best goodput.")
    max_error_share: float = Field(default=0.05, ge=0, le=1, description="Sweep: stop above this error share.")


@dataclass(slots=True)
class Sample:
    start: float
    end: float
    status: int
    pages: int = 0
    route: str | None = None
    step: int = 0
    first_page: float | None = None  # jobs: when the first page event came

    def good(self, limits: Limits) -> bool:
        if self.status != 200:
            return False
        latency = self.end - self.start
        if limits.slo_document_s is not None and latency > limits.slo_document_s:
            return False
        return limits.slo_page_s is None or latency / max(self.pages, 1) <= limits.slo_page_s


@dataclass(slots=True)
class StepWindow:
    level: float
    start: float  # when the step began
    steady: float  # when its steady-state window began (start + settle)
    end: float = 0.0


@dataclass(slots=True)
class Run:
    samples: list[Sample] = field(default_factory=list)
    replicas: list[dict[str, Any]] = field(default_factory=list)  # {"t": s, "<deployment>": n, ...}
    steps: list[StepWindow] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    tokens: float | None = None
    stages_before: dict[str, dict[str, float]] = field(default_factory=dict)
    stages_after: dict[str, dict[str, float]] = field(default_factory=dict)
    stopped: str = ""
    service: dict[str, Any] = field(default_factory=dict)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    if len(values) == 1:
        return {"p50": round(values[0], 4), "p95": round(values[0], 4), "p99": round(values[0], 4)}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 4), "p95": round(q[94], 4), "p99": round(q[98], 4)}


def step_figures(run: Run, index: int, limits: Limits) -> dict[str, Any]:
    """One step's steady-state figures."""
    window = run.steps[index]
    end = window.end or run.ended or time.monotonic()  # a step still running (the live table): so far
    steady = end - window.steady >= MIN_WINDOW_S  # False: cut short in or just after its settle time (or settling)
    seconds = max(end - window.steady, 1e-9)
    finished = [s for s in run.samples if window.steady <= s.end <= end]  # whatever step sent them
    started = [s for s in run.samples if s.step == index and s.start >= window.steady]
    ok = [s for s in finished if s.status == 200]
    good = [s for s in ok if s.good(limits)]
    errors = [s for s in started if s.status not in (200, 503)]
    ttfp = [s.first_page - s.start for s in started if s.first_page is not None]
    return {
        "level": window.level,
        "steady": steady,
        "window_s": round(seconds, 2) if steady else 0.0,
        "documents": len(finished),
        "pages_per_s": round(sum(s.pages for s in ok) / seconds, 3),
        "documents_per_s": round(len(ok) / seconds, 3),
        "goodput_pages_per_s": round(sum(s.pages for s in good) / seconds, 3),
        "goodput_documents_per_s": round(len(good) / seconds, 3),
        "latency_s": percentiles([s.end - s.start for s in started if s.status == 200]),
        "time_to_first_page_s": percentiles(ttfp),
        "backpressure_503": sum(s.status == 503 for s in started),
        "errors": len(errors),
        "error_share": round(len(errors) / max(len(started), 1), 4),
    }


def knee(steps: list[dict[str, Any]], limits: Limits) -> dict[str, Any] | None:
    """The lowest level within ``knee_tolerance`` of the best steady-state goodput."""
    steps = [s for s in steps if s["steady"]]
    if not steps:
        return None
    best = max(s["goodput_pages_per_s"] for s in steps)
    if best <= 0:
        return None
    for figures in sorted(steps, key=lambda s: s["level"]):
        if figures["goodput_pages_per_s"] >= best * (1 - limits.knee_tolerance):
            return {k: figures[k] for k in ("level", "goodput_pages_per_s", "pages_per_s", "latency_s")}
    return None


def keep_sweeping(steps: list[dict[str, Any]], limits: Limits) -> str:
    """Why a sweep stops after these steps ('' to go on). Only steps with a steady-state window count: a step cut
    short says nothing about its level."""
    steps = [s for s in steps if s["steady"]]
    if not steps:
        return ""
    last = steps[-1]
    if last["error_share"] > limits.max_error_share:
        return f"errors: {last['error_share']:.0%} of the requests at level {last['level']:g}"
    if len(steps) >= 3:
        best_before = max(s["goodput_pages_per_s"] for s in steps[:-2])
        if all(s["goodput_pages_per_s"] < best_before * (1 + limits.min_gain) for s in steps[-2:]):
            return f"goodput stopped rising (two levels without +{limits.min_gain:.0%} over {best_before:g} pages/s)"
    return ""


def parse_stage_metrics(text: str) -> dict[str, dict[str, float]]:
    """Sums and counts of the stage and model-call histograms in a Prometheus page, by stage / role."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("ray_docgraph_stage_seconds", "ray_docgraph_model_seconds"):
            continue
        kind = "ingress" if family.name == "ray_docgraph_stage_seconds" else "model"
        for sample in family.samples:
            name = sample.labels.get("stage") or sample.labels.get("role")
            if name is None or not sample.name.endswith(("_sum", "_count")):
                continue
            key = f"{kind}_{'sum' if sample.name.endswith('_sum') else 'count'}"
            out.setdefault(name, {})[key] = out.get(name, {}).get(key, 0.0) + sample.value
    return out


def stage_split(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per stage over the run: mean time at the ingress, in the model replica, and the difference (waiting)."""
    split: dict[str, Any] = {}
    for stage, now in after.items():
        then = before.get(stage, {})

        def mean(kind: str, now: dict[str, float] = now, then: dict[str, float] = then) -> float | None:
            count = now.get(f"{kind}_count", 0.0) - then.get(f"{kind}_count", 0.0)
            total = now.get(f"{kind}_sum", 0.0) - then.get(f"{kind}_sum", 0.0)
            return round(total / count, 4) if count > 0 else None

        ingress, model = mean("ingress"), mean("model")
        if ingress is None and model is None:
            continue
        wait = round(ingress - model, 4) if ingress is not None and model is not None else None
        split[stage] = {"ingress_s": ingress, "model_s": model, "wait_s": wait}
    return split


def summarize(config: Any, run: Run, limits: Limits) -> dict[str, Any]:
    """The report: the whole run (warm-up excluded), each step's steady state, the knee, the stage split."""
    counted = [s for s in run.samples if s.step != WARMUP_STEP]
    first = run.steps[0].start if run.steps else run.started
    elapsed = max(run.ended - first, 1e-9)
    ok = [s for s in counted if s.status == 200]
    statuses: dict[str, int] = {}
    for s in counted:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    by_route: dict[str, Any] = {}
    for route in sorted({s.route for s in ok if s.route}, key=ROUTE_RANK.__getitem__):
        by_route[route] = {"documents": sum(s.route == route for s in ok)}
        by_route[route] |= percentiles([s.end - s.start for s in ok if s.route == route])
    steps = [step_figures(run, i, limits) for i in range(len(run.steps))]
    return {
        "url": config.url,
        "mode": ("jobs " if config.jobs else "") + ("open" if config.open_loop else "closed"),
        "schedule": [w.level for w in run.steps],
        "stopped": run.stopped,
        "duration_s": round(elapsed, 2),
        "warmup": {"seconds": config.warmup_s, "requests": sum(s.step == WARMUP_STEP for s in run.samples)},
        "requests": len(counted),
        "succeeded": len(ok),
        "backpressure_503": statuses.get("503", 0),
        "errors": sum(n for code, n in statuses.items() if code not in ("200", "503")),
        "statuses": statuses,
        "documents_per_s": round(len(ok) / elapsed, 3),
        "pages_per_s": round(sum(s.pages for s in ok) / elapsed, 3),
        "goodput_pages_per_s": round(sum(s.pages for s in ok if s.good(limits)) / elapsed, 3),
        "limits": limits.model_dump(),
        "latency_s": {"all": percentiles([s.end - s.start for s in ok]), **by_route},
        "time_to_first_page_s": percentiles([s.first_page - s.start for s in ok if s.first_page is not None]),
        "steps": steps,
        "knee": knee(steps, limits),
        "stages": stage_split(run.stages_before, run.stages_after),
        "ocr_tokens_per_s": None if run.tokens is None else round(run.tokens / elapsed, 2),
        "replicas": run.replicas,
        "definitions": DEFINITIONS,
        "versions": {
            "docgraph (client)": version("docgraph"),
            "service": run.service,
            "python": platform.python_version(),
            "httpx": version("httpx"),
        },
        "timeline": _timeline(run),
    }


def _timeline(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "start": round(s.start - run.started, 3),
            "latency": round(s.end - s.start, 3),
            "status": s.status,
            "pages": s.pages,
            "route": s.route,
            "step": s.step,
        }
        for s in sorted(run.samples, key=lambda s: s.end)
    ]


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
    knee_level = report["knee"]["level"] if report.get("knee") else "-"
    fig.suptitle(
        f"docgraph load test: {report['pages_per_s']} pages/s, goodput {report['goodput_pages_per_s']}, "
        f"knee at {knee_level}, p95 {report['latency_s']['all'].get('p95', '-')} s"
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path
