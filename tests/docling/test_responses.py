"""A graph in docling-serve's response models: the document's status, one errors[] entry per failed page, the
formats asked for (written by docling-core), chunks. Real conversions in-process; a page made to fail by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from docling.datamodel.service.responses import ConvertDocumentResponse
from docling_core.types.doc.common.constants import CURRENT_VERSION
from docling_core.types.doc.document import DoclingDocument

from docgraph.samples import make_sample_pdf
from pipeline.graph import DocumentGraph, DocumentStatus, ErrorInfo, PageStatus
from pipeline.options import ConvertOptions
from pipeline.steps import Step
from serve.doclingapi.docversion import LOWEST, WRITTEN, accepted_version
from serve.doclingapi.errors import DoclingHttpError
from serve.doclingapi.models import DoclingTask, ExportFormat, TaskKind
from serve.doclingapi.responses import chunk_response, convert_response, response_body

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def graph(local_converter: Any) -> DocumentGraph:
    result: DocumentGraph = local_converter.convert_sync(make_sample_pdf(), ConvertOptions(), filename="s.pdf")
    return result


def _with_failed_page(graph: DocumentGraph, page_no: int) -> DocumentGraph:
    error = ErrorInfo(code="step_timeout", message="layout ran past its deadline", step=Step.LAYOUT)
    pages = [
        p.model_copy(update={"status": PageStatus.FAILED, "error": error}) if p.page_no == page_no else p
        for p in graph.pages
    ]
    return graph.model_copy(update={"pages": pages, "status": DocumentStatus.PARTIAL})


def test_formats_asked_for_and_a_complete_document(graph: DocumentGraph) -> None:
    task = DoclingTask(to_formats=[ExportFormat.MARKDOWN, ExportFormat.TEXT], md_page_break_placeholder="<!-- pb -->")
    body = ConvertDocumentResponse.model_validate_json(convert_response(graph, task, 1.5).model_dump_json())
    assert body.status.value == "success" and body.errors == []
    assert body.document.md_content and body.document.md_content.count("<!-- pb -->") == 2  # 3 pages
    assert body.document.text_content and body.document.json_content is None and body.document.html_content is None
    assert body.processing_time == 1.5 and body.timings["pipeline_total"].times == [1.5]


def test_each_failed_page_is_an_error_and_abort_on_error_fails_the_document(graph: DocumentGraph) -> None:
    broken = _with_failed_page(graph, 2)
    notes = DoclingTask(notes=["option 'x' is unknown to docgraph; ignored"])
    body = convert_response(broken, notes, 1.0)
    assert body.status.value == "partial_success"
    pages = [e for e in body.errors if e.page_no is not None]
    assert len(pages) == 1 and pages[0].page_no == 2 and pages[0].component_type.value == "model"
    assert pages[0].module_name == "docgraph.layout" and pages[0].category.value == "timeout"
    assert "step_timeout" in pages[0].error_message
    assert [e.component_type.value for e in body.errors if e.page_no is None] == ["user_input"]
    aborted = convert_response(broken, DoclingTask(abort_on_error=True), 1.0)
    assert aborted.status.value == "failure"
    every_page = graph
    for n in (1, 2, 3):
        every_page = _with_failed_page(every_page, n)
    assert convert_response(every_page, DoclingTask(), 1.0).status.value == "failure"


def test_chunk_response_with_and_without_the_document(graph: DocumentGraph) -> None:
    bare = chunk_response(graph, DoclingTask(kind=TaskKind.CHUNK), 1.0)
    assert bare.chunks and bare.documents[0].document.md_content is None
    full = chunk_response(graph, DoclingTask(kind=TaskKind.CHUNK, include_converted_doc=True), 1.0)
    assert full.documents[0].document.md_content and [c.text for c in full.chunks] == [c.text for c in bare.chunks]


# --- Accept-Docling-Document-Version (serve/doclingapi/docversion.py) ----------------------------------------

KEYS_SINCE = {"fillable": 7, "meta": 8, "comments": 9, "field_regions": 10, "field_items": 10}  # schema minors


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.parametrize(
    ("header", "written"),
    [
        (None, None),
        ("", None),
        (CURRENT_VERSION, CURRENT_VERSION),  # what docling-client sends
        ("1.7.3", "1.7.0"),
        (" 1.8 ", "1.8.0"),
        ("1.5.0", "1.5.0"),
        ("2.0.0", CURRENT_VERSION),  # a newer client reads the current schema
    ],
)
def test_the_schema_written_for_a_header(header: str | None, written: str | None) -> None:
    version = accepted_version(header)
    assert (None if version is None else str(version)) == written


@pytest.mark.parametrize("header", ["1.4.9", "1.0.0", "0.9", "latest", "1.x"])
def test_headers_docgraph_cannot_answer_are_a_422(header: str) -> None:
    with pytest.raises(DoclingHttpError) as refused:
        accepted_version(header)
    assert refused.value.status_code == 422 and refused.value.code == "unsupported_document_version"
    assert header in str(refused.value.detail)


def test_the_document_carries_only_its_schemas_keys(graph: DocumentGraph) -> None:
    task = DoclingTask(to_formats=[ExportFormat.JSON])
    response = convert_response(graph, task, 1.0)
    native = response.document.json_content
    assert native is not None
    for version in [None, *WRITTEN]:
        doc = json.loads(response_body(response, version))["document"]["json_content"]
        schema = version or LOWEST
        assert doc["version"] == str(schema)
        newer = {key for key, minor in KEYS_SINCE.items() if minor > schema.minor}
        assert not newer & _keys(doc), (schema, newer & _keys(doc))
        read = DoclingDocument.model_validate(doc)  # the locked docling-core reads every one of them
        assert read.export_to_markdown() == native.export_to_markdown() and len(read.tables) == len(native.tables)
    ours, theirs = json.loads(response_body(response, None)), json.loads(response.model_dump_json())
    ours["document"].pop("json_content"), theirs["document"].pop("json_content")
    assert ours == theirs  # all but the document as the model writes it


def test_a_chunk_responses_document_too(graph: DocumentGraph) -> None:
    task = DoclingTask(kind=TaskKind.CHUNK, include_converted_doc=True, to_formats=[ExportFormat.JSON])
    body = json.loads(response_body(chunk_response(graph, task, 1.0), accepted_version("1.6.0")))
    assert body["chunks"] and body["documents"][0]["content"]["json_content"]["version"] == "1.6.0"
    bare = json.loads(response_body(chunk_response(graph, DoclingTask(kind=TaskKind.CHUNK), 1.0), None))
    assert bare["documents"][0]["content"]["json_content"] is None
