"""docgraph batch's parts without Ray: the lazy listing, the index and its Parquet twin, atomic outputs and what a
rerun finds, the watchdog. Fast (no model, no Ray): in the fast tier."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from docgraph.batch.index import (
    INDEX_JSONL,
    IndexRow,
    IndexWriter,
    RowStatus,
    final_keys,
    options_json,
    options_key,
    read_rows,
    row_key,
    write_parquet,
)
from docgraph.batch.inputs import DOCUMENT_SUFFIXES, SourceRef, iter_sources, read_source
from docgraph.batch.outputs import OutputLayout, check_formats
from docgraph.batch.progress import Board, Monitor, Tally
from docgraph.cli import DOCUMENT_SUFFIXES as CLI_SUFFIXES
from docgraph.local import LocalConverter
from docgraph.samples import make_text_pdf
from pipeline.errors import DocumentTooLargeError
from pipeline.options import ConvertOptions, Limits, OcrMode

FAST = ConvertOptions(layout=False, ocr=OcrMode.NEVER)


def _tree(root: Path) -> list[Path]:
    files = [root / "a.pdf", root / "sub" / "b.PDF", root / "sub" / "deeper" / "c.png", root / "z.pdf"]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"%PDF-1.4 " + f.name.encode())
    (root / "notes.txt").write_text("not a document")
    return files


def test_the_suffixes_are_the_cli_s() -> None:
    assert DOCUMENT_SUFFIXES == CLI_SUFFIXES


def test_folders_globs_and_manifests_are_listed_lazily(tmp_path: Path) -> None:
    a, b, c, z = _tree(tmp_path / "in")
    listed = iter_sources([str(tmp_path / "in")])
    assert next(listed).uri == str(a)  # a generator: the first document before the rest is walked
    # a folder's documents, then its subfolders depth-first, each sorted; the .txt left out
    assert [r.uri for r in listed] == [str(z), str(b), str(c)]
    assert {r.uri for r in iter_sources([str(tmp_path / "in" / "**" / "*.pdf")])} == {str(a), str(z)}
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps("in/a.pdf"), json.dumps({"uri": str(z), "password": "pw"}), "{not json", "", json.dumps({})]
    manifest.write_text("\n".join(lines) + "\n")
    refs = list(iter_sources([str(manifest)]))
    assert [r.uri for r in refs[:2]] == [str(a), str(z)] and refs[0].size == a.stat().st_size
    assert refs[1].password == "pw"
    assert refs[2].error and "line 3" in refs[2].error and refs[3].error and "line 5" in refs[3].error
    with pytest.raises(Exception, match="manifest line 3"):
        read_source(refs[2], 1000)


def test_uris_go_through_pyarrow_fs_or_fsspec(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    memory.pipe("/archive/x/one.pdf", b"%PDF-one")
    memory.pipe("/archive/two.pdf", b"%PDF-two")
    refs = list(iter_sources(["memory://archive"]))
    assert [r.uri for r in refs] == ["memory:///archive/two.pdf", "memory:///archive/x/one.pdf"]
    assert read_source(refs[0], 100) == b"%PDF-two"
    a = _tree(tmp_path)[0]
    (ref,) = iter_sources([f"file://{a}"])
    assert read_source(ref, 100) == a.read_bytes()
    with pytest.raises(DocumentTooLargeError):
        read_source(ref, 3)
    (missing,) = iter_sources([str(tmp_path / "gone.pdf")])
    with pytest.raises(Exception, match="cannot read"):
        read_source(missing, 100)


def _row(source: str, doc_id: str | None = "d" * 64, **kw: Any) -> IndexRow:
    base: dict[str, Any] = {
        "doc_id": doc_id, "source": source, "status": RowStatus.COMPLETE, "started_at": 1.0, "finished_at": 2.0,
        "docgraph_version": "0", "schema_version": "2.1.0", "options": options_json(FAST),
        "options_key": options_key(FAST), "formats": ["json"], "mode": "actors", "worker": "h:1", "run_id": "r",
    }  # fmt: skip
    return IndexRow(**{**base, **kw})


def test_the_index_survives_a_torn_line_and_has_a_parquet_twin(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    writer = IndexWriter(tmp_path)
    writer.append(_row("a.pdf", outputs={"json": "docs/x.json"}), now=time.time())
    writer.append(_row("b.pdf", status=RowStatus.FAILED, reason_code="pdf_workers_busy", retryable=True), now=0)
    writer.close()
    with (tmp_path / INDEX_JSONL).open("a") as f:
        f.write('{"doc_id": "torn')  # a run killed mid-write
    writer = IndexWriter(tmp_path)  # the next run starts on a line of its own
    writer.append(_row("c.pdf", page_errors=[]), now=0)
    writer.close()
    assert [r.source for r in read_rows(tmp_path / INDEX_JSONL)] == ["a.pdf", "b.pdf", "c.pdf"]
    # the retryable failure is not final: a rerun converts it again
    assert final_keys(tmp_path / INDEX_JSONL) == {row_key(s, "d" * 64, options_key(FAST)) for s in ("a.pdf", "c.pdf")}
    table = pq.read_table(write_parquet(tmp_path))
    assert table.num_rows == 3 and table.column_names == list(IndexRow.model_fields)
    assert table.column("outputs").to_pylist()[0] == [("json", "docs/x.json")]


def test_options_key_ignores_the_password_and_formats() -> None:
    assert options_key(FAST) == options_key(FAST.model_copy(update={"password": "secret"}))
    assert options_key(FAST) != options_key(ConvertOptions())
    assert "secret" not in options_json(FAST.model_copy(update={"password": "secret"}))
    assert check_formats(["markdown", "html", "markdown"]) == ["json", "markdown", "html"]
    with pytest.raises(ValueError, match="unknown format"):
        check_formats(["pdf"])


def test_outputs_are_atomic_and_a_rerun_exports_only_missing_formats(tmp_path: Path) -> None:
    converter = LocalConverter(layout=None, ocr=None, limits=Limits(pdf_workers=1))
    try:
        graph = converter.convert_sync(make_text_pdf(1, paragraphs=2), FAST)
    finally:
        converter.close()
    key = options_key(FAST)
    layout = OutputLayout(tmp_path, ["markdown"])
    outputs = layout.write_document(graph, key)
    assert set(outputs) == {"json", "markdown"} and not list(tmp_path.rglob("*.tmp"))
    assert outputs["json"].startswith(f"docs/{graph.document.id[:2]}/{graph.document.id}.{key}")
    assert layout.finished(graph.document.id, key) is None  # no row yet: the document is not finished
    layout.write_row(_row("s.pdf", graph.document.id, outputs=outputs, formats=["json", "markdown"]))
    assert layout.finished(graph.document.id, key) is not None
    wider = OutputLayout(tmp_path, ["markdown", "html"])  # a rerun asking for HTML too: written from the graph
    row = wider.finished(graph.document.id, key)
    assert row is not None and (tmp_path / row.outputs["html"]).read_text().startswith("<")
    (tmp_path / outputs["markdown"]).unlink()  # a file gone: converted again
    assert layout.finished(graph.document.id, key) is None


def test_the_watchdog_says_so_and_names_what_is_in_flight() -> None:
    board, alarms, lines = Board(), list[str](), list[str]()
    monitor = Monitor(board, Tally(), watchdog_s=5, show=lines.append, alarm=alarms.append)
    board.started("big.pdf", "host:42")
    board.opened("big.pdf", 500)
    board.page("big.pdf", failed=False)
    now = board.last_progress
    monitor.last_row_at = now
    monitor.tick(now + 1)
    assert not alarms and "1 pages" in lines[-1]
    monitor.tick(now + 6)
    assert len(alarms) == 1 and "no progress for 6 s" in alarms[0] and "big.pdf (1/500 pages" in alarms[0]
    assert "STALLED" in lines[-1] and monitor.stalled_sources == {"big.pdf"}
    monitor.tick(now + 8)  # one alarm per stall, its length kept up to date
    assert len(alarms) == 1 and monitor.tally.stalls[0]["idle_s"] == 8
    board.page("big.pdf", failed=False)
    monitor.tick(board.last_progress + 1)
    assert "progress again" in alarms[-1]


def test_a_source_ref_round_trips_through_arrow_nulls() -> None:
    ref = SourceRef.from_row({"uri": "x.pdf", "size": None, "mtime": float("nan"), "password": None, "error": None})
    assert ref == SourceRef("x.pdf")
