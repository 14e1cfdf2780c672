"""What the HTTP endpoints take in: the conversion options, the upload, the client's file name.

Shared by ``/v1/convert`` and ``/v1/jobs``; kept out of serve/ingress.py (whose class Serve ships by value) so
that it is imported, not copied, into the replica.
"""

# No `from __future__ import annotations`: FastAPI reads `convert_options`' signature at run time.

import inspect
from typing import Annotated, Any

from fastapi import Form, Query, UploadFile
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from pipeline import ConvertOptions
from pipeline.errors import DocumentTooLargeError
from pipeline.export import ExportOptions
from pipeline.options import InvalidOptionsError, Limits

MULTIPART_OVERHEAD = 64 * 1024  # room for the form's framing above limits.max_bytes (serve/bodylimit.py)
FORM_FIELDS = frozenset({"password"})  # in the form beside the file, never in the URL (URLs end up in logs)
FURNITURE_HELP = str(ExportOptions.model_fields["furniture"].description)  # /v1/convert's and a job result's query


def _http_parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    """A ``ConvertOptions`` field as an HTTP parameter of the same name, type, default, constraints and text."""
    source = Form if name in FORM_FIELDS else Query
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=field.default,
        annotation=Annotated[(field.annotation, *field.metadata, source(description=field.description))],
    )


def convert_options(**values: Any) -> ConvertOptions:
    """The conversion options both /v1/convert and /v1/jobs take: one parameter per ``ConvertOptions`` field.

    FastAPI checks each parameter's type and constraints (400 ``invalid_request``); the model's own checks
    (the page range's syntax) answer 400 ``invalid_options``.
    """
    values["password"] = values["password"] or None  # an empty form field: no password
    try:
        return ConvertOptions(**values)
    except ValidationError as exc:
        raise InvalidOptionsError(f"invalid options: {exc.errors()[0]['msg']}") from exc


# FastAPI reads a dependency's parameters from its signature: these are ConvertOptions' fields, declared once.
convert_options.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # functions take __signature__
    [_http_parameter(name, field) for name, field in ConvertOptions.model_fields.items()],
    return_annotation=ConvertOptions,
)


async def read_upload(file: UploadFile, limits: Limits) -> bytes:
    """The file part's bytes, at most ``limits.max_bytes`` of them (the whole body is capped while it streams,
    by serve/bodylimit.py; this bounds the file part itself)."""
    data = await file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise DocumentTooLargeError(
            f"the upload is larger than the limit of {limits.max_bytes} bytes", limit=limits.max_bytes
        )
    return data


def safe_name(name: str | None) -> str | None:
    """The client's filename is only ever echoed back, never used as a path; keep it short and printable."""
    if not name:
        return None
    cleaned = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    return cleaned[:255] or None
