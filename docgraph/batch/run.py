"""``run_batch``: a whole ``docgraph batch`` run, from the inputs to the index, the outputs and the summary.

The driver (this process) starts or joins Ray, starts the progress board, builds the Ray Data pipeline
(``docgraph.batch.dataset``) and takes its rows as they come: each is appended to ``index.jsonl`` at once (the
graph and its exports were written by the worker before it sent the row), counted, and shown on the live line.
Resume: a rerun over the same DEST and options lets the workers skip every document whose row and outputs are there
(``OutputLayout.finished``); the driver appends a row again only when the index lacks it (a run stopped between
the two writes), so a document finished once has one row however often the run is resumed. A run interrupted
(Ctrl-C, a killed driver) loses at most the documents in flight: their files are never half-written (atomic
renames) and their rows were never appended.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docgraph.batch.index import (
    INDEX_JSONL,
    IndexRow,
    IndexWriter,
    RowStatus,
    final_keys,
    options_json,
    options_key,
    row_key,
    write_parquet,
)
from docgraph.batch.inputs import is_uri
from docgraph.batch.outputs import DEFAULT_FORMATS, check_formats
from docgraph.batch.progress import Monitor, Tally, start_board
from docgraph.batch.worker import WorkerSpec
from models.config import AnyOcrConfig, RapidOcrConfig, YoloLayoutConfig
from pipeline.graph import SCHEMA_VERSION
from pipeline.options import ConvertOptions, Limits, OcrMode
from pipeline.version import VERSION
from serve.names import LAYOUT_DEPLOYMENT, OCR_DEPLOYMENT

log = logging.getLogger("docgraph.batch")
MODES = ("actors", "serve")
CONTEXT = ("enable_progress_bars", "max_errored_blocks", "target_max_block_size")  # what a run sets, then restores


class BatchError(RuntimeError):
    """The run cannot start (no service to join, bad formats): said before any document is read."""


@dataclass
class BatchConfig:
    inputs: list[str]
    dest: Path
    options: ConvertOptions = field(default_factory=ConvertOptions)
    formats: list[str] = field(default_factory=lambda: list(DEFAULT_FORMATS))
    mode: str = "actors"
    concurrency: int = 2  # converting actors (Ray Data's actor pool size)
    documents_per_call: int = 4  # documents one actor converts at once (one map_batches call)
    num_cpus: float = 1.0  # per actor
    num_gpus: float = 0.0  # per actor (actors mode: the layout model's device comes from its config)
    address: str | None = None  # Ray to join; None: actors mode starts a local Ray, serve mode joins "auto"
    ray_num_cpus: int | None = None  # the local Ray's logical CPUs, when this run starts it
    app_name: str = "docgraph"  # serve mode: the application whose deployments the pages go to
    serve_pages_in_flight: int = 8  # serve mode: the batch's pages at the model replicas at once, all actors together
    layout: YoloLayoutConfig | None = field(default_factory=YoloLayoutConfig)  # actors mode's backends
    ocr: AnyOcrConfig | None = field(default_factory=RapidOcrConfig)
    limits: Limits = field(default_factory=Limits)
    resume: bool = True
    watchdog_s: float = 300.0
    furniture: bool = False
    progress_bars: bool = False  # Ray Data's own progress bars (on a terminal)


@dataclass
class BatchResult:
    run_id: str
    dest: Path
    tally: Tally
    index_jsonl: Path
    index_parquet: Path
    summary: dict[str, Any]
    interrupted: bool = False


def _connect(config: BatchConfig) -> bool:
    """Join or start Ray; True when this run started it (and so stops it)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if config.address is None and config.mode == "actors":
        ray.init(address="local", num_cpus=config.ray_num_cpus, include_dashboard=False, log_to_driver=False)
        return True
    ray.init(address=config.address or "auto", log_to_driver=False)
    return True


def check_resources(config: BatchConfig) -> None:
    """The actor pool must fit the cluster, or Ray Data waits for it forever."""
    import ray

    total = ray.cluster_resources()
    for name, per_actor in (("CPU", config.num_cpus), ("GPU", config.num_gpus)):
        if per_actor and config.concurrency * per_actor > total.get(name, 0):
            raise BatchError(
                f"{config.concurrency} actors x {per_actor:g} {name} is more than the cluster's "
                f"{total.get(name, 0):g}: lower --concurrency or --num-{name.lower()}s"
            )


def serve_deployments(app_name: str) -> tuple[str, ...]:
    """The model deployments of a running application; ``BatchError`` when it is not running."""
    from ray import serve

    status = serve.status().applications.get(app_name)
    if status is None or str(status.status.value) != "RUNNING":
        state = "not deployed" if status is None else str(status.status.value)
        raise BatchError(f"the Serve application {app_name!r} is {state}: start the service (docgraph serve) first")
    return tuple(name for name in status.deployments if name in (LAYOUT_DEPLOYMENT, OCR_DEPLOYMENT))


def worker_spec(config: BatchConfig, run_id: str, board: str) -> WorkerSpec:
    options, limits = config.options, config.limits
    if config.mode == "serve":
        # HTTP keeps priority at the shared replicas: the batch's model calls in flight are bounded, all actors
        # together, so most of each replica's max_ongoing_requests stays free for the service's requests (ADR 0011)
        return WorkerSpec(
            dest=config.dest, formats=config.formats, options=options, run_id=run_id, mode="serve", limits=limits,
            app_name=config.app_name, deployments=serve_deployments(config.app_name), board=board,
            furniture=config.furniture, resume=config.resume,
            model_calls=max(1, config.serve_pages_in_flight // max(1, config.concurrency)),
        )  # fmt: skip
    return WorkerSpec(
        dest=config.dest, formats=config.formats, options=options, run_id=run_id, mode="actors", limits=limits,
        layout=config.layout if options.layout else None,  # load only the backends the options call
        ocr=config.ocr if options.ocr is not OcrMode.NEVER else None, board=board, furniture=config.furniture,
        resume=config.resume,
    )  # fmt: skip


def run_batch(
    config: BatchConfig,
    *,
    show: Callable[[str], None] = lambda line: None,
    alarm: Callable[[str], None] | None = None,
    on_row: Callable[[IndexRow], None] | None = None,
) -> BatchResult:
    """Convert every document of ``config.inputs`` into ``config.dest``; returns the counts and the summary.

    ``show`` gets the live line once a second, ``alarm`` the watchdog's messages (default: the log at ERROR),
    ``on_row`` each row as it is appended (tests)."""
    if config.mode not in MODES:
        raise BatchError(f"mode must be one of {MODES}")
    try:
        config.formats = check_formats(config.formats)
    except ValueError as exc:
        raise BatchError(str(exc)) from exc
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    # the workers' working directory is not the driver's: every local path is made absolute here
    config.dest = dest = config.dest.resolve()
    config.inputs = [item if is_uri(item) else os.path.abspath(item) for item in config.inputs]
    dest.mkdir(parents=True, exist_ok=True)
    if (dest / INDEX_JSONL).is_file():
        write_parquet(dest)  # an interrupted run's twin catches up first
    started_ray = _connect(config)
    import ray

    try:
        check_resources(config)
    except BatchError:
        if started_ray:
            ray.shutdown()
        raise

    board_name = f"docgraph-batch-{run_id}"
    board = start_board(board_name)
    alarm = alarm or (lambda message: log.error("%s", message))
    driver = _Driver(config, run_id, Monitor(board, Tally(), watchdog_s=config.watchdog_s, show=show, alarm=alarm))
    try:
        driver.run(worker_spec(config, run_id, board_name), board, on_row)
    except KeyboardInterrupt:
        driver.interrupted = True
        alarm("interrupted: the documents in flight are not recorded; run the same command again to resume")
    finally:
        driver.close()
        parquet = write_parquet(dest)
        summary = _summary(config, run_id, driver.tally, driver.interrupted)
        (dest / "runs").mkdir(exist_ok=True)
        for path in (dest / "runs" / f"{run_id}.json", dest / "summary.json"):
            path.write_text(json.dumps(summary, indent=2) + "\n")
        try:
            ray.kill(board)
        except Exception:
            log.debug("board already gone", exc_info=True)
        if started_ray:
            ray.shutdown()
    return BatchResult(run_id, dest, driver.tally, dest / INDEX_JSONL, parquet, summary, driver.interrupted)


class _Driver:
    """Takes the pipeline's rows into the index, once each, and counts them."""

    def __init__(self, config: BatchConfig, run_id: str, monitor: Monitor) -> None:
        self.config = config
        self.run_id = run_id
        self.monitor = monitor
        self.tally = monitor.tally
        self.writer = IndexWriter(config.dest)
        self.done = final_keys(self.writer.path) if config.resume else set()  # 16 bytes per finished document
        self.seen: set[bytes] = set()  # row keys written by this run: a retried task never writes a second row
        self.sources: set[bytes] = set()  # sources that got a row in this run
        self.interrupted = False

    def run(self, spec: WorkerSpec, board: Any, on_row: Callable[[IndexRow], None] | None) -> None:
        from ray.data import DataContext

        from docgraph.batch.dataset import build_dataset

        config = self.config
        context = DataContext.get_current()
        saved = {name: getattr(context, name) for name in CONTEXT}
        context.enable_progress_bars = config.progress_bars
        context.max_errored_blocks = -1  # a document whose task failed every retry: reported below, not fatal
        # every reference and every row its own block: Ray Data would otherwise merge the listing's tiny blocks into
        # one (a single task converting every document) and hold rows back until a block fills (no live index)
        context.target_max_block_size = 1
        try:
            ds = build_dataset(
                config.inputs, spec, concurrency=config.concurrency, num_cpus=config.num_cpus,
                num_gpus=config.num_gpus, documents_per_call=config.documents_per_call,
            )  # fmt: skip
            self.monitor.start()
            for record in ds.iter_rows():
                self.take(IndexRow.model_validate_json(record["row"]), on_row)
            for source in sorted(_lost(board, self.sources)):
                self.take(_lost_row(config, source, self.run_id), on_row)
        finally:
            for name, value in saved.items():
                setattr(context, name, value)

    def take(self, row: IndexRow, on_row: Callable[[IndexRow], None] | None) -> None:
        now = time.time()
        tally = self.tally
        self.monitor.last_row_at = now
        key = row_key(row.source, row.doc_id, row.options_key)
        self.sources.add(row_key(row.source, None, ""))
        resumed = row.run_id != self.run_id  # the worker found this document finished by an earlier run
        if key in self.seen or (resumed and key in self.done):
            tally.skipped += resumed
            return
        self.seen.add(key)
        if resumed:
            tally.skipped += 1
        else:
            row.stalled = row.source in self.monitor.stalled_sources
            tally.count(row)
        self.writer.append(row, now=now)  # a resumed row is appended only when the index lacked it
        if on_row is not None:
            on_row(row)

    def close(self) -> None:
        self.monitor.stop()
        self.writer.close()


def _lost(board: Any, sources: set[bytes]) -> list[str]:
    """Documents the board saw start and never finish, that got no row: their worker died on every try."""
    import ray

    try:
        snap = ray.get(board.snapshot.remote(), timeout=30)
    except Exception:  # noqa: BLE001 - without the board, nothing more is known
        return []
    return [src for src in snap["in_flight"] if row_key(src, None, "") not in sources]


def _lost_row(config: BatchConfig, source: str, run_id: str) -> IndexRow:
    now = time.time()
    return IndexRow(
        doc_id=None, source=source, status=RowStatus.FAILED, reason_code="worker_lost",
        reason="the worker converting it died on each of its tries; not converted", http_status=500, retryable=True,
        started_at=now, finished_at=now, docgraph_version=VERSION, schema_version=SCHEMA_VERSION,
        options=options_json(config.options), options_key=options_key(config.options), formats=config.formats,
        mode=config.mode, worker="", run_id=run_id,
    )  # fmt: skip


def _summary(config: BatchConfig, run_id: str, tally: Tally, interrupted: bool) -> dict[str, Any]:
    elapsed = tally.elapsed()
    return {
        "run_id": run_id, "mode": config.mode, "dest": str(config.dest), "interrupted": interrupted,
        "elapsed_s": round(elapsed, 2), "documents": tally.documents, "complete": tally.complete,
        "partial": tally.partial, "failed": tally.failed, "skipped": tally.skipped, "pages": tally.pages,
        "pages_failed": tally.pages_failed, "pages_per_s": round(tally.pages / elapsed, 2) if elapsed > 0 else 0.0,
        "reasons": dict(sorted(tally.reasons.items(), key=lambda kv: -kv[1])), "stalls": tally.stalls,
        "options": json.loads(options_json(config.options)), "formats": config.formats,
        "concurrency": config.concurrency, "documents_per_call": config.documents_per_call,
        "docgraph_version": VERSION,
    }  # fmt: skip
