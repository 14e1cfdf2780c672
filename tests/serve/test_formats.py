"""One source for the export formats: the registry (``pipeline.export.registry``). The HTTP parameter's documented
values, ``GET /v1/formats`` (the viewer's downloads) and the CLI's files all follow it."""

from __future__ import annotations

import httpx
import pytest

from pipeline.export.registry import EXPORTERS
from serve.api import OutputFormat


def test_the_format_parameter_is_the_registry_and_the_zip_bundle() -> None:
    assert {f.value for f in OutputFormat} == {*EXPORTERS, "zip"}


@pytest.mark.serve
def test_formats_are_listed_from_the_registry(client: httpx.Client) -> None:
    listed = client.get("/v1/formats").json()
    assert [(f["name"], f["label"], f["extension"]) for f in listed[:-1]] == [
        (e.name, e.label, e.extension) for e in EXPORTERS.values()
    ]
    assert listed[-1]["name"] == "zip" and listed[-1]["media_type"] == "application/zip"
