"""Where a document's outputs go under DEST, written atomically, and what a rerun finds there.

A document's files are named by what it is, not where it came from: ``DEST/docs/<id[:2]>/<id>.<key>.<ext>``, with
``id`` the sha256 of its bytes and ``key`` the options key, so the same bytes converted with
the same options land in the same place whatever their source, and a folder holds at most ~1/256 of the archive.
Formats are the export registry's (``pipeline/export/registry.py``): the graph (``json``, always written: a later
run re-exports other formats from it) and Markdown by default. Each file is written to a temporary name and
renamed into place; the row (``<id>.<key>.row.json``) is written last, so its presence means every file of that
document is complete: that is what a rerun skips on.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from docgraph.batch.index import IndexRow
from pipeline.export import EXPORTERS, ExportOptions
from pipeline.graph import DocumentGraph

DEFAULT_FORMATS = ("json", "markdown")
ROW_SUFFIX = "row.json"
MAX_ATTEMPTS = 3  # conversions of one document that may end with its worker dead before it is given up


def check_formats(formats: list[str]) -> list[str]:
    """The formats asked for, the graph first, each once; ``ValueError`` for one the registry does not write."""
    unknown = [f for f in formats if f not in EXPORTERS]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; the registry writes {sorted(EXPORTERS)}")
    return list(dict.fromkeys(["json", *formats]))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader (or a rerun) sees the whole file or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class OutputLayout:
    def __init__(self, dest: Path, formats: list[str], export: ExportOptions | None = None) -> None:
        self.dest = dest
        self.formats = check_formats(formats)
        self.export = export or ExportOptions()

    def stem(self, doc_id: str, key: str) -> Path:
        return self.dest / "docs" / doc_id[:2] / f"{doc_id}.{key}"

    def path(self, doc_id: str, key: str, fmt: str) -> Path:
        return self.stem(doc_id, key).with_name(f"{doc_id}.{key}.{EXPORTERS[fmt].extension}")

    def row_path(self, doc_id: str, key: str) -> Path:
        return self.stem(doc_id, key).with_name(f"{doc_id}.{key}.{ROW_SUFFIX}")

    def relative(self, path: Path) -> str:
        return path.relative_to(self.dest).as_posix()

    def write_document(self, graph: DocumentGraph, key: str) -> dict[str, str]:
        """Every asked-for format of the graph (the graph itself first); returns format → path under DEST."""
        doc_id = graph.document.id
        written: dict[str, str] = {}
        for fmt in self.formats:
            path = self.path(doc_id, key, fmt)
            write_atomic(path, EXPORTERS[fmt].export(graph, self.export))
            written[fmt] = self.relative(path)
        return written

    def write_row(self, row: IndexRow) -> None:
        assert row.doc_id is not None
        write_atomic(self.row_path(row.doc_id, row.options_key), row.model_dump_json().encode())

    def begin(self, doc_id: str, key: str) -> int:
        """Count one more conversion attempt of this document (on disk: it outlives a worker killed under it);
        returns how many began before this one. ``end`` removes the count once the row is written."""
        path = self.stem(doc_id, key).with_name(f"{doc_id}.{key}.attempts")
        try:
            before = int(path.read_text() or 0)
        except (OSError, ValueError):
            before = 0
        write_atomic(path, str(before + 1).encode())
        return before

    def end(self, doc_id: str, key: str) -> None:
        with contextlib.suppress(OSError):
            self.stem(doc_id, key).with_name(f"{doc_id}.{key}.attempts").unlink()

    def finished(self, doc_id: str, key: str) -> IndexRow | None:
        """The row of an earlier conversion of these bytes with these options, if it finished and its files are all
        there (a failed row counts when its failure is not transient), with the formats asked for now that it lacks
        exported from its stored graph; else None (convert it)."""
        path = self.row_path(doc_id, key)
        try:
            row = IndexRow.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not row.final or any(not (self.dest / rel).is_file() for rel in row.outputs.values()):
            return None
        missing = [f for f in self.formats if f not in row.outputs] if row.outputs else []
        if missing:
            try:
                graph = DocumentGraph.model_validate_json((self.dest / row.outputs["json"]).read_bytes())
            except (OSError, ValueError, KeyError):
                return None
            outputs = dict(row.outputs)
            for fmt in missing:
                target = self.path(doc_id, key, fmt)
                write_atomic(target, EXPORTERS[fmt].export(graph, self.export))
                outputs[fmt] = self.relative(target)
            row = row.model_copy(update={"outputs": outputs, "formats": sorted(set(row.formats) | set(missing))})
            self.write_row(row)
        return row
