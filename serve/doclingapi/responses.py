"""docgraph's results in docling-serve's response models (docling's own classes, from docling-slim)."""

from __future__ import annotations

import json

from docling.datamodel.base_models import ConversionStatus, DoclingComponentType, ErrorItem, FailureCategory
from docling.datamodel.service.responses import (
    ChunkDocumentResponse,
    ChunkedDocumentResultItem,
    ConvertDocumentResponse,
    ExportDocumentResponse,
    ExportResult,
    FailurePhase,
    PublicFailureInfo,
    TaskFailureResult,
    TaskStatusResponse,
)
from docling.datamodel.service.tasks import TaskProcessingMeta, TaskType
from docling.utils.profiling import ProfilingItem, ProfilingScope
from docling_core.types.doc.base import ImageRefMode
from docling_core.types.doc.document import DoclingDocument
from packaging.version import Version

from pipeline.export.chunks import ChunkSerializer
from pipeline.export.docling import DoclingSerializer
from pipeline.graph import DocumentGraph, DocumentStatus, ErrorInfo, PageStatus
from pipeline.steps import MODEL_STEPS, Step
from serve.doclingapi.docversion import document_json
from serve.doclingapi.models import DoclingTask, ExportFormat, TaskKind
from serve.jobs.models import JobState, JobStatus

COMPONENT = {
    Step.OPEN: DoclingComponentType.DOCUMENT_BACKEND,
    Step.TEXT: DoclingComponentType.DOCUMENT_BACKEND,
    Step.RENDER: DoclingComponentType.DOCUMENT_BACKEND,
    Step.LAYOUT: DoclingComponentType.MODEL,
    Step.OCR: DoclingComponentType.MODEL,
    Step.TABLES: DoclingComponentType.DOC_ASSEMBLER,
    Step.MERGE: DoclingComponentType.DOC_ASSEMBLER,
    Step.ANNOTATE: DoclingComponentType.DOC_ASSEMBLER,
}
TASK_STATUS = {
    JobState.QUEUED: ConversionStatus.PENDING,
    JobState.RUNNING: ConversionStatus.STARTED,
    # a task is done once its document is (docling-client waits for success|failure): the document's own status
    # (success | partial_success) is in the result
    JobState.SUCCEEDED: ConversionStatus.SUCCESS,
    JobState.PARTIALLY_SUCCEEDED: ConversionStatus.SUCCESS,
    JobState.FAILED: ConversionStatus.FAILURE,
    JobState.CANCELLED: ConversionStatus.FAILURE,
}
TIMED_STEPS = ("text", "render", "layout", "ocr", "tables", "merge")
TIMEOUT_CODES = frozenset({"document_timeout", "step_timeout"})  # pipeline/errors.py's deadline errors


def is_timeout(code: str) -> bool:
    return code in TIMEOUT_CODES


def error_item(page_no: int | None, error: ErrorInfo) -> ErrorItem:
    step = error.step or Step.DOCUMENT
    if is_timeout(error.code):
        category = FailureCategory.TIMEOUT
    elif step in MODEL_STEPS:
        category = FailureCategory.INFERENCE_FAILURE
    else:
        category = FailureCategory.BACKEND_FAILURE
    where = f"page {page_no}: " if page_no is not None else ""
    return ErrorItem(
        component_type=COMPONENT.get(step, DoclingComponentType.PIPELINE),
        module_name=f"docgraph.{step.value}",
        error_message=f"{where}{error.code}: {error.message}",
        category=category,
        page_no=page_no,
    )


def note_items(task: DoclingTask) -> list[ErrorItem]:
    return [
        ErrorItem(
            component_type=DoclingComponentType.USER_INPUT,
            module_name="docgraph.options",
            error_message=note,
            category=FailureCategory.POLICY,
        )
        for note in task.notes
    ]


def document_status(graph: DocumentGraph, task: DoclingTask) -> ConversionStatus:
    failed = sum(p.status is PageStatus.FAILED for p in graph.pages)
    if graph.pages and failed == len(graph.pages):
        return ConversionStatus.FAILURE
    if graph.status is DocumentStatus.COMPLETE:
        return ConversionStatus.SUCCESS
    return ConversionStatus.FAILURE if task.abort_on_error else ConversionStatus.PARTIAL_SUCCESS


def timings(graph: DocumentGraph, processing_time: float) -> dict[str, ProfilingItem]:
    out = {"pipeline_total": ProfilingItem(scope=ProfilingScope.DOCUMENT, count=1, times=[processing_time])}
    for step in TIMED_STEPS:
        times = [getattr(p.timings, f"{step}_s") for p in graph.pages]
        times = [t for t in times if t > 0]
        if times:
            out[f"docgraph_{step}"] = ProfilingItem(scope=ProfilingScope.PAGE, count=len(times), times=times)
    return out


def export_document(graph: DocumentGraph, task: DoclingTask, doc: DoclingDocument) -> ExportDocumentResponse:
    """The formats asked for, each written by docling-core from the DoclingDocument docgraph built."""
    formats = set(task.to_formats)
    placeholder = task.md_page_break_placeholder or None
    return ExportDocumentResponse(
        filename=graph.document.filename or "document.pdf",
        md_content=doc.export_to_markdown(image_mode=ImageRefMode.PLACEHOLDER, page_break_placeholder=placeholder)
        if ExportFormat.MARKDOWN in formats
        else None,
        json_content=doc if ExportFormat.JSON in formats else None,
        html_content=doc.export_to_html(image_mode=ImageRefMode.PLACEHOLDER) if ExportFormat.HTML in formats else None,
        text_content=doc.export_to_text() if ExportFormat.TEXT in formats else None,
    )


def errors_of(graph: DocumentGraph, task: DoclingTask) -> list[ErrorItem]:
    pages = [error_item(p.page_no, p.error) for p in graph.pages if p.error is not None]
    return [*pages, *note_items(task)]


def convert_response(graph: DocumentGraph, task: DoclingTask, processing_time: float) -> ConvertDocumentResponse:
    doc = DoclingSerializer().document(graph)
    return ConvertDocumentResponse(
        document=export_document(graph, task, doc),
        status=document_status(graph, task),
        errors=errors_of(graph, task),
        processing_time=processing_time,
        timings=timings(graph, processing_time),
    )


def chunk_response(graph: DocumentGraph, task: DoclingTask, processing_time: float) -> ChunkDocumentResponse:
    doc = DoclingSerializer().document(graph)
    filename = graph.document.filename or "document.pdf"
    chunks = [
        ChunkedDocumentResultItem(
            filename=filename,
            chunk_index=c.index,
            text=c.text,
            raw_text=c.raw_text,
            headings=c.headings or None,
            captions=c.captions or None,
            doc_items=[i.ref for i in c.items],
            page_numbers=c.page_numbers or None,
            metadata={"items": [i.model_dump(mode="json") for i in c.items]},
        )
        for c in ChunkSerializer().chunks(graph, doc)
    ]
    exported = (
        export_document(graph, task, doc) if task.include_converted_doc else ExportDocumentResponse(filename=filename)
    )
    document = ExportResult(
        document=exported,
        status=document_status(graph, task),
        errors=errors_of(graph, task),
        timings=timings(graph, processing_time),
    )
    return ChunkDocumentResponse(chunks=chunks, documents=[document], processing_time=processing_time)


def response_body(response: ConvertDocumentResponse | ChunkDocumentResponse, version: Version | None) -> bytes:
    """The response's JSON, its DoclingDocument (``json_content``) written at ``version``'s schema (docversion.py):
    the model's own dump would give back every key of the locked docling-core's schema."""
    if isinstance(response, ConvertDocumentResponse):
        data = response.model_dump(mode="json", exclude={"document": {"json_content"}})
        written = [(response.document, data["document"])]
    else:
        data = response.model_dump(mode="json", exclude={"documents": {"__all__": {"document": {"json_content"}}}})
        # ExportResult writes its `document` as `content`
        written = [
            (r.document, d.get("content", d.get("document")))
            for r, d in zip(response.documents, data["documents"], strict=True)
        ]
    for export, out in written:
        out["json_content"] = None if export.json_content is None else document_json(export.json_content, version)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def failure_info(status: JobStatus) -> PublicFailureInfo:
    error = status.error
    code = error.code if error else "failed"
    message = f"{code}: {error.message}" if error else f"the task ended {status.state.value}"
    if status.state is JobState.CANCELLED:
        category, retryable = FailureCategory.POLICY, False
    elif is_timeout(code):
        category, retryable = FailureCategory.TIMEOUT, True
    elif code in ("owner_died", "internal_error", "upload_missing"):
        category, retryable = FailureCategory.INTERNAL, True
    else:
        category, retryable = FailureCategory.BACKEND_FAILURE, False
    return PublicFailureInfo(
        category=category, message=message, retryable=retryable, phase=FailurePhase.EXECUTION, details={"code": code}
    )


def task_status(status: JobStatus, task: DoclingTask | None, *, position: int | None = None) -> TaskStatusResponse:
    kind = task.kind if task is not None else TaskKind.CONVERT
    state = status.state
    failed = state in (JobState.FAILED, JobState.CANCELLED)
    meta = TaskProcessingMeta(
        num_docs=1,
        num_processed=int(state.final),
        num_succeeded=int(state is JobState.SUCCEEDED),
        num_partially_succeeded=int(state is JobState.PARTIALLY_SUCCEEDED),
        num_failed=int(failed),
    )
    failure = failure_info(status) if failed else None
    return TaskStatusResponse(
        task_id=status.id,
        task_type=TaskType.CHUNK if kind is TaskKind.CHUNK else TaskType.CONVERT,
        task_status=TASK_STATUS[state],
        task_position=position if state is JobState.QUEUED else None,
        task_meta=meta,
        error_message=failure.message if failure else None,
        failure=failure,
    )


def failure_result(status: JobStatus) -> TaskFailureResult:
    return TaskFailureResult(failure=failure_info(status))
