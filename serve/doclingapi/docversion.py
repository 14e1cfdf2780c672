"""``Accept-Docling-Document-Version``: the newest DoclingDocument schema a client reads (docling-client sends its
docling-core's ``CURRENT_VERSION`` on every request). docgraph answers the newest schema it writes that is not newer.

The DoclingDocument is built with the locked docling-core, so its fields are those of its ``CURRENT_VERSION``;
docgraph labels it 1.5.0 (pipeline/export/docling.py: it uses nothing newer), but a 1.5-era docling-core (2.39)
refuses the keys later schemas added (``meta``, ``comments``, ``fillable``, ...) even empty. So the document is
written at a schema by docling-core's own down-projection (``docling_core.compat.project_to``), keeping only the
keys that schema has: at the asked version's schema (1.7.3 → 1.7.0; newer than the locked docling-core's → its
own), and at 1.5.0 without the header. Below 1.5.0 (docling-core 1.x) or not a version: 422, as docling-serve.
"""

from __future__ import annotations

from typing import Any

from docling_core.compat import project_to
from docling_core.types.doc.common.constants import CURRENT_VERSION, FIRST_SUPPORTED_MINOR
from docling_core.types.doc.document import DoclingDocument
from packaging.version import InvalidVersion, Version

from pipeline.export.docling import SCHEMA_VERSION
from serve.doclingapi.errors import DoclingHttpError

HEADER = "Accept-Docling-Document-Version"
CURRENT = Version(CURRENT_VERSION)
LOWEST = max(Version(SCHEMA_VERSION), Version(f"{CURRENT.major}.{FIRST_SUPPORTED_MINOR}.0"))
WRITTEN = tuple(Version(f"{CURRENT.major}.{minor}.0") for minor in range(LOWEST.minor, CURRENT.minor + 1))


def unsupported(message: str) -> DoclingHttpError:
    return DoclingHttpError(422, message, "unsupported_document_version")


def accepted_version(value: str | None) -> Version | None:
    """The schema to write for a request's header (None: no header); 422 when docgraph cannot write one."""
    if value is None or not value.strip():
        return None
    shown = value.strip()[:40]
    try:
        asked = Version(value.strip())
    except InvalidVersion:
        raise unsupported(f"{HEADER} {shown!r} is not a version (docling-client sends e.g. {CURRENT})") from None
    fitting = [v for v in WRITTEN if v <= asked]
    if not fitting:
        raise unsupported(
            f"{HEADER} {shown!r}: docgraph writes DoclingDocument schema {LOWEST} to {CURRENT}, "
            f"nothing older (a docling-core 2.x release reads {LOWEST} or newer)"
        )
    return max(fitting)


def document_json(doc: DoclingDocument, version: Version | None) -> dict[str, Any]:
    """The document as JSON at ``version`` (``LOWEST`` when None): only the keys of that schema, labelled so."""
    target = version or LOWEST
    current = doc.model_copy(update={"version": CURRENT_VERSION})  # what its fields are
    if target == CURRENT:
        return current.model_dump(mode="json", by_alias=True, exclude_none=True)
    projected = project_to(current, str(target))
    # the projection drops the newer keys, which validation gave back as defaults: unset, so left out here; the
    # root groups' empty `meta` it leaves are None
    return projected.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
