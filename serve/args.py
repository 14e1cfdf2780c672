"""``AppArgs``: the typed ``args:`` of serve_config.yaml, given to ``serve.app:build_app``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.config import OcrConfig, RapidOcrConfig, YoloLayoutConfig
from pipeline.options import Limits


class BatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int = Field(default=8, gt=0, description="Pages one layout call may carry (@serve.batch).")
    batch_wait_timeout_s: float = Field(default=0.005, ge=0, description="How long a batch waits to fill.")


class SqliteStoreConfig(BaseModel):
    """The embedded job store: one SQLite file every ingress replica on the node opens (WAL mode)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["sqlite"] = "sqlite"
    path: str | None = Field(
        default=None, description="The database file; default: <tmp>/docgraph/<application>/jobs.sqlite3."
    )

    def resolved_path(self, app_name: str) -> Path:
        """One store per application: two docgraph applications on a node never run each other's jobs."""
        if self.path:
            return Path(self.path)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in app_name) or "default"
        return Path(tempfile.gettempdir()) / "docgraph" / safe / "jobs.sqlite3"


class RedisStoreConfig(BaseModel):
    """The production job store: every ingress replica on every node shares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["redis"] = "redis"
    url: str = Field(
        default="redis://127.0.0.1:6379/0", pattern=r"^rediss?://", description="Redis URL (without a password)."
    )
    url_env: str | None = Field(
        default=None, description="Environment variable holding the full URL (with password): wins over `url`."
    )
    prefix: str = Field(default="docgraph", pattern=r"^[\w.-]+$", description="Key prefix; the app name follows it.")


class JobsConfig(BaseModel):
    """Async jobs (``/v1/jobs``): where they live, how many run, how long results are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: SqliteStoreConfig | RedisStoreConfig = Field(
        default_factory=SqliteStoreConfig, discriminator="backend", description="sqlite (embedded) or redis."
    )
    sync_max_pages: int = Field(
        default=50, gt=0, description="/v1/convert takes up to this many pages; more answers 413 pointing to /v1/jobs."
    )
    max_running: int = Field(default=4, gt=0, description="Jobs one ingress replica runs at once; the rest queue.")
    max_active: int = Field(
        default=1000, gt=0, description="Queued + running jobs in the store; beyond it POST /v1/jobs answers 503."
    )
    result_ttl_s: float = Field(
        default=86400.0,
        gt=0,
        description="A finished job, its result and its PDF (for page images) are kept this long.",
    )
    keep_uploads: bool = Field(
        default=True,
        description="Keep a finished job's PDF as long as the job (result_ttl_s), for its page images "
        "(GET /v1/jobs/{id}/pages/{n}/image, the viewer); false: drop it when the job ends (the store then holds "
        "only results; that route answers 404).",
    )
    lease_s: float = Field(
        default=30.0, gt=0, description="A running job whose replica has not renewed it for this long is resumed."
    )
    heartbeat_s: float = Field(default=1.0, gt=0, description="How often a running job's progress is written.")
    max_attempts: int = Field(
        default=3, gt=0, description="Runs of one job (a replica died under it) before it fails as 'owner_died'."
    )
    document_timeout_s: float = Field(default=3600.0, gt=0, description="Deadline of one job's conversion.")


class DoclingApiConfig(BaseModel):
    """The docling-serve-compatible routes (``/v1/convert/file``, ``/v1/convert/source``, tasks, ``/process``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sync_wait_s: float = Field(
        default=600.0,
        gt=0,
        description="How long a synchronous docling call waits for its task; then 504 naming the task, which goes "
        "on (poll it: /v1/status/poll/<task_id>).",
    )
    max_poll_wait_s: float = Field(default=60.0, gt=0, description="Longest ?wait= a status poll may hold.")
    http_source_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (host or host:port, exact match) that `kind: http` sources may be fetched from; empty: "
        "every http source is refused. Nothing else is ever fetched, redirects are not followed.",
    )
    http_source_timeout_s: float = Field(default=30.0, gt=0, description="Deadline for fetching one http source.")


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layout: YoloLayoutConfig | None = Field(
        default_factory=YoloLayoutConfig, description="Layout backend; null = no layout deployment."
    )
    ocr: OcrConfig | None = Field(
        default_factory=RapidOcrConfig,
        description="OCR backend by its `backend:` key (rapidocr | deepseek-vllm | deepseek-remote); null = no OCR.",
    )
    layout_batch: BatchConfig = Field(default_factory=BatchConfig)
    limits: Limits = Field(default_factory=Limits)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    docling: DoclingApiConfig = Field(default_factory=DoclingApiConfig)
