"""What a docling task keeps beside its docgraph job: how its result is written back in docling's shape."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TaskKind(StrEnum):
    CONVERT = "convert"  # ConvertDocumentResponse
    CHUNK = "chunk"  # ChunkDocumentResponse (docling-core's HierarchicalChunker)


class ExportFormat(StrEnum):
    """The `to_formats` docgraph writes (docling's OutputFormat values)."""

    MARKDOWN = "md"
    JSON = "json"
    HTML = "html"
    TEXT = "text"


class DoclingTask(BaseModel):
    """Stored with the job (so a task answers the same after an ingress restart)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TaskKind = TaskKind.CONVERT
    to_formats: list[ExportFormat] = Field(default_factory=lambda: [ExportFormat.MARKDOWN])
    md_page_break_placeholder: str = Field(default="", max_length=1000)  # options.MAX_PLACEHOLDER
    abort_on_error: bool = False
    document_timeout_s: float | None = Field(default=None, gt=0, description="docling's document_timeout.")
    include_converted_doc: bool = Field(default=False, description="Chunk tasks: the document beside the chunks.")
    notes: list[str] = Field(
        default_factory=list, description="Options accepted but not supported: errors[] entries of type user_input."
    )


class DoclingErrorBody(BaseModel):
    """An error of the docling routes: docling-serve's ``detail`` (what its clients show) and docgraph's code."""

    detail: str | list[dict[str, Any]] = Field(description="What went wrong (validation errors: a list, as FastAPI).")
    code: str = Field(description="docgraph's stable error code (README, errors table).")
