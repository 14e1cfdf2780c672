"""HTTP schemas (inputs and outputs kept separate from the graph's own types)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from pipeline.protocols import ModelHealth


class OutputFormat(StrEnum):
    """The ``format`` parameter's values: the export registry's formats (``pipeline.export.registry``; a test keeps
    them equal) and the zip bundle."""

    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    DOCLING = "docling"  # a DoclingDocument (docling-core's JSON)
    CHUNKS = "chunks"  # RAG chunks: docling-core's HierarchicalChunker over that DoclingDocument
    ZIP = "zip"  # document.json + document.md + annotated page PNGs


ZIP_MEDIA_TYPE = "application/zip"


class FormatInfo(BaseModel):
    name: str = Field(description="The value of the ``format`` parameter.")
    label: str = Field(description="What a person is shown.")
    media_type: str
    extension: str = Field(description="The file extension a download of it takes.")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="What went wrong, for a person.")
    details: dict[str, object] = Field(default_factory=dict)


# OpenAPI's error responses of the /v1 routes that take a PDF (/v1/convert, /v1/jobs, /v1/render)
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (400, 401, 413, 415, 422, 500, 503, 504)
}
PNG: dict[int | str, dict[str, object]] = {200: {"content": {"image/png": {}}, "description": "The page, PNG."}}


class Readiness(BaseModel):
    ready: bool
    components: list[ModelHealth]


class ModelInfo(BaseModel):
    role: str = Field(description="layout or ocr")
    name: str
    ready: bool
    licence: str | None = Field(default=None, description="The weights' licence, as their metadata gives it.")


class DeploymentInfo(BaseModel):
    name: str
    status: str = Field(description="Serve's status of the deployment (HEALTHY, UPSCALING, ...).")
    replicas: int = Field(description="Replicas running now.")


class AppStatus(BaseModel):
    app: str
    deployments: list[DeploymentInfo]
