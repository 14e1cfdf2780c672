"""Real documents of issue 25's kinds (tables on /Rotate 90 pages, tables printed sideways, a two-level spanning
header, a three-column page) from public repositories, with the truth read by hand from the rendered pages
(``truth.json``; sources and licences in ``SOURCES.md``). Used by ``test_realdocs.py`` and ``bench/tables.py``."""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

HERE = Path(__file__).resolve().parent
PDFS = HERE / "pdfs"
TRUTH = HERE / "truth.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Kind(enum.StrEnum):
    ROTATED = "rotated"  # a landscape page stored turned: /Rotate 90 or 270
    SIDEWAYS = "sideways"  # a table whose text runs sideways on the page as shown, no /Rotate making it upright
    TWO_LEVEL_HEADER = "two-level-header"
    THREE_COLUMNS = "three-columns"


class Source(_Model):
    repo: str = Field(description="owner/name on GitHub")
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    path: str
    licence: str = Field(description="the repository's licence")
    origin: str | None = Field(default=None, description="where the repository got the file, if it says")
    derived: str | None = Field(default=None, description="what was done to the file, if anything")
    original_sha256: str | None = None
    content_licence: str | None = None


class TruthTable(_Model):
    page: int = Field(ge=1)
    grid: list[list[str]] = Field(description="rows x columns as shown, a spanning cell's text in every slot")
    spans: list[tuple[int, int, int, int]] = Field(
        default_factory=list, description="(row, col, row_span, col_span) of every cell spanning more than one slot"
    )


class RealDoc(_Model):
    file: str
    source: Source
    kind: Kind
    bytes_sha256: str
    shows: str
    tables: list[TruthTable] = Field(default_factory=list, description="every table of the document, in order")
    order: list[tuple[str, str]] = Field(
        default_factory=list, description="(before, after): text that reads before other text"
    )

    @property
    def path(self) -> Path:
        return PDFS / self.file

    def data(self) -> bytes:
        data = self.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == self.bytes_sha256, f"{self.file} differs from its source"
        return data


class Truth(_Model):
    documents: list[RealDoc]


@cache
def real_documents() -> tuple[RealDoc, ...]:
    return tuple(Truth.model_validate_json(TRUTH.read_text(encoding="utf-8")).documents)


def norm_cell(text: str) -> str:
    """A cell's text compared without its whitespace: where a line breaks inside a cell, and gaps MuPDF reads
    between a ligature and the next letter ("Defi cit"), are not what the cell says."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def norm_grid(grid: list[list[str]]) -> list[list[str]]:
    return [[norm_cell(c) for c in row] for row in grid]
