"""docling-serve's request options (docling's own ``ConvertDocumentsOptions``), read the way its clients send them,
and mapped onto docgraph's ``ConvertOptions``.

Clients send lists as repeated form fields or as one JSON-array string, bools as ``"true"``/``"false"``, nested
options JSON-encoded, and keys docgraph does not support: every form is accepted. A supported key with a bad value
is a 422 (as docling-serve answers); an unknown or unsupported one becomes a note (an ``errors[]`` entry of type
``user_input``), never a failure.
"""

from __future__ import annotations

import json
import types
import typing
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from docling.datamodel.service.options import ConvertDocumentsOptions
from docling_core.types.doc.base import ImageRefMode
from fastapi import HTTPException
from pydantic import ValidationError

from pipeline.options import ConvertOptions, InvalidOptionsError, OcrMode
from serve.doclingapi.models import DoclingTask, ExportFormat, TaskKind

FIELDS = ConvertDocumentsOptions.model_fields
# Options docgraph acts on (the rest are accepted and noted when they differ from docling's default).
HONOURED = frozenset(
    {
        "to_formats",
        "from_formats",  # docgraph reads PDFs; anything else is refused as not a PDF
        "page_range",
        "do_ocr",
        "force_ocr",
        "image_export_mode",
        "table_mode",  # both modes: PyMuPDF's find_tables / clustering / DeepSeek's HTML (README)
        "document_timeout",
        "abort_on_error",
        "md_page_break_placeholder",
    }
)
NOT_OPTIONS = frozenset({"files", "target_type", "callbacks"})  # form fields beside the options
MAX_PLACEHOLDER = 1000
MAX_NOTES, MAX_NOTE_CHARS = 32, 300  # what a client's keys can make the service store and echo


@dataclass
class ParsedOptions:
    options: ConvertDocumentsOptions
    notes: list[str] = field(default_factory=list)

    def task(self, kind: TaskKind = TaskKind.CONVERT, *, include_converted_doc: bool = False) -> DoclingTask:
        opts, notes = self.options, list(self.notes)
        formats: list[ExportFormat] = []
        for fmt in opts.to_formats:
            try:
                formats.append(ExportFormat(fmt.value))
            except ValueError:
                notes.append(f"to_formats {fmt.value!r} is not written by docgraph (it writes md, json, html, text)")
        if opts.image_export_mode is not ImageRefMode.PLACEHOLDER:
            notes.append(
                f"image_export_mode {opts.image_export_mode.value!r} is not supported: pictures are placeholders "
                "(their crops are in docgraph's zip bundle: POST /v1/convert?format=zip)"
            )
        if len(opts.md_page_break_placeholder) > MAX_PLACEHOLDER:
            raise HTTPException(
                status_code=422, detail=f"md_page_break_placeholder is longer than {MAX_PLACEHOLDER} characters"
            )
        return DoclingTask(
            kind=kind,
            to_formats=formats,
            md_page_break_placeholder=opts.md_page_break_placeholder,
            abort_on_error=opts.abort_on_error,
            include_converted_doc=include_converted_doc,
            notes=_capped(notes),
        )

    def convert_options(self, page_count: int) -> ConvertOptions:
        """docgraph's options for a document of ``page_count`` pages."""
        opts = self.options
        ocr = OcrMode.NEVER if not opts.do_ocr else OcrMode.ALWAYS if opts.force_ocr else OcrMode.AUTO
        lo, hi = opts.page_range
        if lo < 1 or hi < lo:
            raise InvalidOptionsError(f"page_range {lo}-{hi} is not a range of pages", parameter="page_range")
        if lo > page_count:
            raise InvalidOptionsError(
                f"page_range starts at page {lo}; the document has {page_count}", parameter="page_range"
            )
        pages = None if lo == 1 and hi >= page_count else f"{lo}-{min(hi, page_count)}"
        return ConvertOptions(ocr=ocr, pages=pages)

    @property
    def document_timeout_s(self) -> float | None:
        timeout = self.options.document_timeout
        return timeout if timeout is not None and timeout > 0 else None


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation))
    return False


def _form_value(name: str, values: list[str]) -> Any:
    if len(values) == 1 and values[0].lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(values[0])
        except (ValueError, RecursionError):
            pass  # pydantic says what is wrong with it
    if _is_sequence(FIELDS[name].annotation):
        return values
    if values[-1] == "" and not FIELDS[name].is_required() and FIELDS[name].default is None:
        return None  # an empty optional field
    return values[-1]


def _validate(values: Mapping[str, Any], notes: list[str]) -> ParsedOptions:
    # docling deprecates some keys (ocr_engine → ocr_preset, ...) that its clients still send: its warnings are
    # about docling's own API, not this service's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            options = ConvertDocumentsOptions.model_validate(dict(values))
        except ValidationError as exc:
            errors = [{"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
            raise HTTPException(status_code=422, detail=errors) from exc
        for name in sorted(options.model_fields_set - HONOURED):
            value = getattr(options, name)
            if value != FIELDS[name].get_default(call_default_factory=True):
                shown = value.value if hasattr(value, "value") else value
                notes.append(f"option {name}={shown!r} is not supported by docgraph; ignored")
    return ParsedOptions(options, _capped(notes))


def _capped(notes: list[str]) -> list[str]:
    kept = [n if len(n) <= MAX_NOTE_CHARS else n[: MAX_NOTE_CHARS - 1] + "…" for n in notes[:MAX_NOTES]]
    if len(notes) > MAX_NOTES:
        kept.append(f"... and {len(notes) - MAX_NOTES} more options ignored")
    return kept


def parse_form_options(items: Mapping[str, list[str]]) -> ParsedOptions:
    """The options of a multipart request: ``items`` maps each form field (not the files) to its values."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name, raw in items.items():
        if name in NOT_OPTIONS:
            continue
        if name not in FIELDS:
            notes.append(f"option {name!r} is unknown to docgraph; ignored")
            continue
        values[name] = _form_value(name, raw)
    return _validate(values, notes)


def parse_json_options(raw: object) -> ParsedOptions:
    """The ``options`` object of a JSON request (``/v1/convert/source``, ``/v1/chunk/.../source``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise HTTPException(status_code=422, detail="options must be an object")
    notes = [f"option {name!r} is unknown to docgraph; ignored" for name in raw if name not in FIELDS]
    return _validate({k: v for k, v in raw.items() if k in FIELDS}, notes)
