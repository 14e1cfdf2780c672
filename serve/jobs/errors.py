"""Errors of the jobs API (mapped to HTTP in serve/errors.py with the rest)."""

from __future__ import annotations

from pipeline.errors import DocgraphError


class JobNotFoundError(DocgraphError):
    code = "job_not_found"


class JobNotFinishedError(DocgraphError):
    """The job has no result (yet, or ever: failed/cancelled); ``state`` says which."""

    code = "job_not_finished"


class QueueFullError(DocgraphError):
    code = "queue_full"
