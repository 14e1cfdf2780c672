"""docgraph batch on the session's local Ray: the corpus (hostile files included) through both modes, a run
interrupted and resumed, a worker killed mid-run, HTTP served while a batch shares the deployments.

Pages go the text-layer route (``layout=false, ocr=never``) where what is tested is the run, not the models (every
corpus page in seconds), and through the layout replica in the Serve-mode test (first pages only)."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from docgraph.batch.index import INDEX_JSONL, IndexRow, RowStatus, read_rows
from docgraph.batch.inputs import DOCUMENT_SUFFIXES
from docgraph.batch.run import BatchConfig, BatchResult, run_batch
from docgraph.embedded import APP_NAME, EmbeddedService
from docgraph.samples import make_text_pdf
from pipeline.graph import DocumentGraph
from pipeline.options import ConvertOptions, OcrMode
from tests.conftest import TEST_LIMITS, corpus_manifest
from tests.corpus.test_corpus import expectation

pytestmark = [pytest.mark.serve, pytest.mark.corpus]

FAST = ConvertOptions(layout=False, ocr=OcrMode.NEVER)
LIMITS = TEST_LIMITS.model_copy(update={"pdf_workers": 1})  # one PyMuPDF process per actor: less to start
BIG = "GeoTopo-komprimiert.pdf"  # 117 pages: long enough to be killed in the middle of


def _run(
    inputs: list[Path], dest: Path, *, options: ConvertOptions = FAST, on_row: Any = None, **kw: Any
) -> BatchResult:
    """A run on the session's Ray (the service fixture started it), two actors of half a CPU."""
    config = BatchConfig(
        inputs=[str(p) for p in inputs], dest=dest, options=options, limits=LIMITS, num_cpus=0.5, watchdog_s=120,
        **{"concurrency": 2, **kw},
    )  # fmt: skip
    return run_batch(config, on_row=on_row)


def _rows(dest: Path) -> list[IndexRow]:
    return list(read_rows(dest / INDEX_JSONL))


def _documents(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.iterdir() if p.suffix.lower() in DOCUMENT_SUFFIXES)


def _check_against_manifest(corpus: Path, rows: list[IndexRow], dest: Path) -> int:
    """Every corpus document has one row; hostile ones fail with the manifest's status and a reason. Pages."""
    by_name = {Path(r.source).name: r for r in rows}
    assert len(by_name) == len(rows) == len(_documents(corpus)), Counter(Path(r.source).name for r in rows)
    pages = 0
    for entry in corpus_manifest():
        row, expect = by_name[entry["filename"]], expectation(entry, corpus / entry["filename"])
        converted = row.status in (RowStatus.COMPLETE, RowStatus.PARTIAL)
        if expect["outcome"] == "ok" or (expect["outcome"] == "ok-or-reject" and converted):
            assert converted, (entry["filename"], row.reason_code, row.reason)
            graph = DocumentGraph.model_validate_json((dest / row.outputs["json"]).read_bytes())
            assert graph.document.id == row.doc_id and len(graph.pages) == row.pages_converted
            assert (dest / row.outputs["markdown"]).is_file()
            pages += row.pages_converted
        else:
            assert row.status is RowStatus.FAILED and row.reason and row.reason_code, row
            assert row.http_status in expect["status"], (entry["filename"], row.http_status, row.reason)
    return pages


def test_the_corpus_through_actor_pools_interrupted_and_resumed(
    service: EmbeddedService, corpus: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    dest, taken = tmp_path / "out", []

    def stop_after_six(row: IndexRow) -> None:
        taken.append(row)
        if len(taken) == 6:
            raise KeyboardInterrupt  # as Ctrl-C in the driver

    first = _run([corpus], dest, on_row=stop_after_six)
    assert first.interrupted and first.summary["interrupted"]
    before = {r.source for r in _rows(dest)}
    assert len(before) == 6
    second = _run([corpus], dest)
    rows = _rows(dest)
    pages = _check_against_manifest(corpus, rows, dest)  # one row per document, hostile ones with their reason
    assert pages >= 200 and sum(r.status is RowStatus.FAILED for r in rows) >= 4
    converted_again = {r.source for r in rows if r.run_id == second.run_id}
    assert not converted_again & before and second.tally.documents == len(converted_again)
    # the six recorded are skipped; what was in flight when it stopped was finished by its worker (files + row file)
    # but not in the index: the rerun finds it done and only appends its row (skipped too, not converted again)
    assert second.tally.documents + second.tally.skipped == len(rows) and second.tally.skipped >= 6
    assert pq.read_table(second.index_parquet).num_rows == len(rows)
    assert {r.mode for r in rows} == {"actors"} and all(r.options_key == rows[0].options_key for r in rows)
    third = _run([corpus], dest, concurrency=1)  # everything is there: nothing converted, nothing appended
    assert third.tally.documents == 0 and third.tally.skipped == len(rows)
    assert [r.model_dump() for r in _rows(dest)] == [r.model_dump() for r in rows]


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    service: EmbeddedService, corpus: Path, tmp_path: Path
) -> None:
    import ray

    src = tmp_path / "in"
    src.mkdir()
    for name in (BIG, "multi_page.pdf", "normal_4pages.pdf", "vertical.pdf", "gen_zero_bytes.pdf", "evaljs.pdf"):
        shutil.copy(corpus / name, src / name)
    killed: list[int] = []

    def kill_the_big_one() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for name in ray.util.list_named_actors():
                if name.startswith("docgraph-batch-"):
                    board: Any = ray.get_actor(name)
                    snap: dict[str, Any] = ray.get(board.snapshot.remote())
                    big = snap["in_flight"].get(str(src / BIG))
                    if big and 2 <= big["done"] < 100:
                        pid = int(big["worker"].rsplit(":", 1)[1])
                        os.kill(pid, signal.SIGKILL)  # as the OOM killer would
                        killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_big_one)
    killer.start()
    result = _run([src], tmp_path / "out")
    killer.join()
    assert killed, "the big document finished before it could be killed"
    rows = _rows(tmp_path / "out")
    assert Counter(Path(r.source).name for r in rows) == Counter({p.name: 1 for p in src.iterdir()})
    big = next(r for r in rows if r.source.endswith(BIG))
    assert big.status is RowStatus.COMPLETE and big.pages_converted == 117
    assert not big.worker.endswith(f":{killed[0]}")  # converted again, in full, by the actor Ray started anew
    assert result.tally.documents == len(rows) and "worker_lost" not in result.tally.reasons


def test_serve_mode_shares_the_replicas_with_http(
    service: EmbeddedService, client: httpx.Client, corpus: Path, tmp_path: Path
) -> None:
    page = make_text_pdf(1, paragraphs=4)

    def http_latency() -> float:
        t0 = time.perf_counter()
        r = client.post("/v1/convert", params={"ocr": "never"}, files={"file": ("p.pdf", page, "application/pdf")})
        assert r.status_code == 200, r.text
        assert "layout" in r.json()["pages"][0]["route"]
        return time.perf_counter() - t0

    alone = [http_latency() for _ in range(3)]
    result: list[BatchResult] = []
    options = ConvertOptions(layout=True, ocr=OcrMode.NEVER, pages="1")  # first pages through the layout replica
    batch = threading.Thread(
        target=lambda: result.append(_run([corpus], tmp_path / "out", mode="serve", app_name=APP_NAME,
                                          options=options, serve_pages_in_flight=4))
    )  # fmt: skip
    batch.start()
    during: list[float] = []
    while batch.is_alive() and len(during) < 15:
        during.append(http_latency())
    batch.join()
    rows = _rows(tmp_path / "out")
    _check_against_manifest(corpus, rows, tmp_path / "out")
    converted = [r for r in rows if r.status is not RowStatus.FAILED]
    assert {r.mode for r in rows} == {"serve"} and all(r.layout_model and "yolo" in r.layout_model for r in converted)
    graph = DocumentGraph.model_validate_json((tmp_path / "out" / converted[0].outputs["json"]).read_bytes())
    assert "layout" in graph.pages[0].route  # the page went to the shared LayoutDeployment
    assert len(during) >= 3, "the batch ended before HTTP could be measured beside it"
    # HTTP kept its place: the batch holds at most 4 pages at the layout replica, so a request waits for those
    assert statistics.median(during) <= max(4 * statistics.median(alone), statistics.median(alone) + 3.0), (
        alone,
        during,
    )
