"""The run's index: one typed row per document, as a JSONL file appended as documents finish and its Parquet twin.

``DEST/index.jsonl`` is the record: a row is appended (and flushed) when its document's outputs are written, so an
interrupted run keeps every finished document's row; a torn last line is skipped when read. ``DEST/index.parquet``
is rebuilt from it, streaming, at the start of a run (so an interrupted run's twin catches up) and at its end.
Across runs rows are only appended: a document retried after a transient failure has its newer row later in the
file; readers take the last row per (``source``, ``doc_id``, ``options_key``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.options import ConvertOptions

INDEX_JSONL = "index.jsonl"
INDEX_PARQUET = "index.parquet"
PARQUET_CHUNK_ROWS = 2048


class RowStatus(StrEnum):
    COMPLETE = "complete"  # every page converted
    PARTIAL = "partial"  # converted; some pages failed or lost a step (page_errors says which and why)
    FAILED = "failed"  # no graph: the reason says why (bad input, a limit, a timeout, an internal error)


class PageErrorRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_no: int
    status: str  # the page's status: partial or failed
    step: str | None
    code: str
    message: str


class IndexRow(BaseModel):
    """One document of one run: what it was, what became of it, how long it took, with which models and options."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str | None = Field(description="sha256 of the document's bytes; null when they could not be read.")
    source: str = Field(description="The input path or URI, as listed.")
    filename: str | None = None
    bytes: int | None = None
    status: RowStatus
    reason_code: str | None = Field(default=None, description="Why it failed, or the first page error of a partial.")
    reason: str | None = None
    http_status: int | None = Field(default=None, description="What the service answers for the same failure.")
    retryable: bool = Field(default=False, description="A transient failure (busy, timeout): a rerun tries again.")
    pages: int | None = Field(default=None, description="Pages in the document.")
    pages_converted: int = 0
    pages_ok: int = 0
    pages_partial: int = 0
    pages_failed: int = 0
    page_errors: list[PageErrorRow] = Field(default_factory=list)
    read_s: float = 0.0
    convert_s: float = 0.0
    write_s: float = 0.0
    total_s: float = 0.0
    started_at: float = Field(description="Unix time the worker took the document.")
    finished_at: float
    layout_model: str | None = None
    ocr_model: str | None = None
    orientation_model: str | None = None
    docgraph_version: str
    schema_version: str
    options: str = Field(description="The conversion options as JSON (the password left out).")
    options_key: str = Field(description="sha256 (16 hex) of the options: what resume compares with the doc_id.")
    formats: list[str]
    outputs: dict[str, str] = Field(default_factory=dict, description="format → path under DEST.")
    mode: str = Field(description="actors (Ray Data actor pool) or serve (the running deployments).")
    worker: str = Field(description="host:pid of the worker that converted it.")
    run_id: str
    stalled: bool = Field(default=False, description="In flight while the watchdog reported no progress.")

    @property
    def final(self) -> bool:
        """Done for resume: converted, or failed for a reason a rerun would meet again."""
        return self.doc_id is not None and (self.status is not RowStatus.FAILED or not self.retryable)


def options_json(options: ConvertOptions) -> str:
    return options.model_dump_json(exclude={"password"})


def options_key(options: ConvertOptions) -> str:
    """What makes two conversions of the same bytes the same graph (the password changes none of it; formats are
    exports of the graph: one asked for later is written from the stored graph, not converted again)."""
    canonical = json.dumps(json.loads(options_json(options)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def row_key(source: str, doc_id: str | None, key: str) -> bytes:
    """16 bytes per finished document: what a run keeps in memory to tell which rows the index already has."""
    return hashlib.blake2b(f"{source}\0{doc_id}\0{key}".encode(), digest_size=16).digest()


def read_rows(path: Path) -> Iterator[IndexRow]:
    """The rows of an index.jsonl, one line at a time; a torn or foreign line (an interrupted write) is skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                try:
                    yield IndexRow.model_validate_json(line)
                except ValidationError:
                    continue


def final_keys(path: Path) -> set[bytes]:
    """The keys of the rows already in the index that a rerun need not write again."""
    return {row_key(r.source, r.doc_id, r.options_key) for r in read_rows(path) if r.final}


class IndexWriter:
    """Appends rows to ``index.jsonl`` (flushed per row, fsynced at most once a second) from any thread."""

    def __init__(self, dest: Path) -> None:
        self.path = dest / INDEX_JSONL
        dest.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        torn = self.path.is_file() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        self._file = self.path.open("a", encoding="utf-8")
        if torn:  # an interrupted run's half line must not glue onto the next row
            self._file.write("\n")
        self._synced = 0.0
        self.appended = 0

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def append(self, row: IndexRow, *, now: float) -> None:
        line = row.model_dump_json() + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            if now - self._synced >= 1.0:
                os.fsync(self._file.fileno())
                self._synced = now
            self.appended += 1

    def close(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def parquet_schema() -> Any:
    import pyarrow as pa

    page_error = pa.struct(
        [("page_no", pa.int32()), ("status", pa.string()), ("step", pa.string()), ("code", pa.string()),
         ("message", pa.string())]
    )  # fmt: skip
    types: dict[str, Any] = {
        "doc_id": pa.string(), "source": pa.string(), "filename": pa.string(), "bytes": pa.int64(),
        "status": pa.string(), "reason_code": pa.string(), "reason": pa.string(), "http_status": pa.int32(),
        "retryable": pa.bool_(), "pages": pa.int32(), "pages_converted": pa.int32(), "pages_ok": pa.int32(),
        "pages_partial": pa.int32(), "pages_failed": pa.int32(), "page_errors": pa.list_(page_error),
        "read_s": pa.float64(), "convert_s": pa.float64(), "write_s": pa.float64(), "total_s": pa.float64(),
        "started_at": pa.float64(), "finished_at": pa.float64(), "layout_model": pa.string(),
        "ocr_model": pa.string(), "orientation_model": pa.string(), "docgraph_version": pa.string(),
        "schema_version": pa.string(), "options": pa.string(), "options_key": pa.string(),
        "formats": pa.list_(pa.string()), "outputs": pa.map_(pa.string(), pa.string()), "mode": pa.string(),
        "worker": pa.string(), "run_id": pa.string(), "stalled": pa.bool_(),
    }  # fmt: skip
    assert list(types) == list(IndexRow.model_fields), "index.parquet's schema must follow IndexRow"
    return pa.schema(list(types.items()))


def write_parquet(dest: Path) -> Path:
    """Rebuild ``index.parquet`` from ``index.jsonl`` (chunks of rows, atomically replaced); returns its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    target, tmp = dest / INDEX_PARQUET, dest / f".{INDEX_PARQUET}.tmp"
    with pq.ParquetWriter(tmp, schema) as writer:
        chunk: list[dict[str, Any]] = []
        for row in read_rows(dest / INDEX_JSONL):
            record = row.model_dump(mode="json")
            record["outputs"] = list(record["outputs"].items())
            chunk.append(record)
            if len(chunk) >= PARQUET_CHUNK_ROWS:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    os.replace(tmp, target)
    return target
