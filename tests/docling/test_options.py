"""docling-serve's options as its clients send them, read into docling's own ConvertDocumentsOptions and mapped
onto docgraph's ConvertOptions (no service needed)."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException

from pipeline.options import OcrMode
from serve.doclingapi.models import ExportFormat, TaskKind
from serve.doclingapi.options import parse_form_options, parse_json_options


def test_lists_repeated_or_as_one_json_array_and_bools_as_strings() -> None:
    repeated = parse_form_options({"to_formats": ["md", "json"], "do_ocr": ["false"], "abort_on_error": ["true"]})
    as_json = parse_form_options({"to_formats": ['["md", "json"]'], "do_ocr": ["False"], "abort_on_error": ["1"]})
    for parsed in (repeated, as_json):
        task = parsed.task()
        assert task.to_formats == [ExportFormat.MARKDOWN, ExportFormat.JSON]
        assert task.abort_on_error is True and task.notes == []
        assert parsed.convert_options(page_count=3).ocr is OcrMode.NEVER


def test_page_range_ocr_modes_timeout_and_placeholder() -> None:
    parsed = parse_form_options(
        {
            "page_range": ["2", "9"],
            "force_ocr": ["true"],
            "document_timeout": ["30"],
            "md_page_break_placeholder": ["<!-- pb -->"],
        }
    )
    options = parsed.convert_options(page_count=5)
    assert options.pages == "2-5" and options.ocr is OcrMode.ALWAYS
    assert parsed.document_timeout_s == 30.0
    assert parsed.task().md_page_break_placeholder == "<!-- pb -->"
    assert parse_form_options({"page_range": ["[1, 100]"]}).convert_options(page_count=4).pages is None  # all pages
    assert parse_form_options({}).convert_options(page_count=4).ocr is OcrMode.AUTO


def test_unknown_and_unsupported_options_become_notes_not_failures() -> None:
    params = {  # what an Open WebUI admin might put in DOCLING_PARAMS (dicts/lists JSON-encoded, bools as strings)
        "ocr_engine": "tesseract",
        "ocr_lang": json.dumps(["eng", "fra"]),
        "pdf_backend": "dlparse_v4",
        "table_mode": "accurate",
        "do_picture_description": "true",
        "picture_description_mode": "none",  # an older Open WebUI key docling no longer has
        "image_export_mode": "embedded",
        "to_formats": json.dumps(["md", "doctags"]),
    }
    parsed = parse_form_options({k: [v] for k, v in params.items()})
    notes = parsed.task().notes
    joined = "\n".join(notes)
    for key in ("ocr_engine", "ocr_lang", "pdf_backend", "do_picture_description", "picture_description_mode"):
        assert key in joined, (key, notes)
    assert "table_mode" not in joined  # honoured: docgraph's table structure serves both modes
    assert "doctags" in joined and "image_export_mode 'embedded'" in joined
    assert parsed.task().to_formats == [ExportFormat.MARKDOWN]
    # options left at docling's defaults are no news
    assert parse_form_options({"ocr_engine": ["auto"], "do_ocr": ["true"]}).task().notes == []


def test_a_supported_option_with_a_bad_value_is_a_422_in_docling_shape() -> None:
    with pytest.raises(HTTPException) as caught:
        parse_form_options({"to_formats": ["pdfx"]})
    assert caught.value.status_code == 422
    detail = caught.value.detail
    assert isinstance(detail, list) and detail[0]["loc"][:2] == ["body", "to_formats"]
    with pytest.raises(HTTPException):
        parse_json_options(["not", "an", "object"])


def test_json_options_of_a_source_request() -> None:
    parsed = parse_json_options({"to_formats": ["json", "text"], "do_ocr": False, "no_such_option": 1})
    task = parsed.task(TaskKind.CHUNK, include_converted_doc=True)
    assert task.kind is TaskKind.CHUNK and task.include_converted_doc
    assert task.to_formats == [ExportFormat.JSON, ExportFormat.TEXT]
    assert task.notes == ["option 'no_such_option' is unknown to docgraph; ignored"]
    assert parsed.convert_options(page_count=1).ocr is OcrMode.NEVER
