"""The jobs API's types: what a job is, what it says about each page, and what the store keeps."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from pipeline.graph import Block, ErrorInfo, Page, StepTimings
from pipeline.options import ConvertOptions
from pipeline.steps import Step
from serve.doclingapi.models import DoclingTask

JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"  # what new_job_id makes; checked before any store lookup


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"  # some pages failed or are partial; each says why
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in (JobState.QUEUED, JobState.RUNNING)

    @property
    def has_result(self) -> bool:
        """A job in this state has a graph (its failed pages, if any, say why)."""
        return self in (JobState.SUCCEEDED, JobState.PARTIALLY_SUCCEEDED)


class StepState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PageState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageProgress(_Model):
    page_no: int
    state: PageState = PageState.PENDING
    steps: dict[Step, StepState] = Field(
        default_factory=dict, description="Steps in the order they started: text, render, layout, ocr, merge."
    )
    error: ErrorInfo | None = None
    timings: StepTimings | None = Field(default=None, description="Seconds per step, once the page is done.")
    attempts: dict[Step, int] = Field(
        default_factory=dict, description="Model calls per step where a retry was needed (a replica died)."
    )


class JobStatus(_Model):
    id: str
    state: JobState
    created_at: float = Field(description="Unix time.")
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    expires_at: float | None = Field(default=None, description="When a finished job and its result are deleted.")
    attempts: int = Field(default=0, description="Runs started (more than 1: its replica died and it was resumed).")
    filename: str | None = None
    pages_total: int | None = Field(default=None, description="Known once the document opened.")
    pages_done: int = 0
    pages_failed: int = 0
    pages: list[PageProgress] = Field(default_factory=list)
    error: ErrorInfo | None = Field(default=None, description="Why the job failed (failed / cancelled).")
    cancel_requested: bool = False


class JobAccepted(_Model):
    id: str
    state: JobState
    status_url: str
    result_url: str
    events_url: str


class JobRequest(_Model):
    """What a job runs: the options and the client's (sanitised) file name; the upload is stored beside it."""

    options: ConvertOptions
    filename: str | None = None
    docling: DoclingTask | None = Field(
        default=None, description="Set for docling-serve tasks: how the result is answered (serve/doclingapi)."
    )


class JobRecord(_Model):
    """A job as the store keeps it: the public status plus who runs it and until when."""

    status: JobStatus
    request: JobRequest
    owner: str | None = None
    lease_until: float = 0.0


class PageResult(_Model):
    """One finished page as /events streams it: the page and its blocks, with the ids, boxes, text, cells and
    provenance the final graph gives them. What needs the whole document is only in the final graph: the
    title, heading levels ranked by font size, running heads found by repetition, captions tied across
    blocks, groups and the section tree."""

    page: Page
    blocks: list[Block]
