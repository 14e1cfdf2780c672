"""Document structure quality: docgraph (CPU default, over HTTP) vs pymupdf4llm (in-process), one run.

For each tool, on the same PDFs:
- table structure with ``../shared/tools/table_score.py`` (cells matched / max cells, tables read back from
  the Markdown) on the corpus documents with docling ground truth, and on the pages ``make_table_pdf`` makes
  (ruled, unruled, spanning, scanned, continued on a second page: their cells are known);
- text similarity to the ground truth Markdown (``tests/textsim.py``);
- olmOCR-bench unit tests that come with corpus pages (``*.gt.jsonl``): table relations, running headers and
  footers that must be absent, reading order, text that must be present (``math`` tests are not run: they
  need a LaTeX renderer);
- issue 25's real documents (``tests/realdocs``: tables on /Rotate 90 pages, printed sideways, under a two-level
  header; a three-column page's reading-order pairs), their truth read by hand from the pages;
- docgraph's table-extraction cost per page (ms, ``timings.tables_s``) next to the page's total.
    python bench/tables.py [--docling-tests DIR]

``--docling-tests`` adds docling's own test documents with table ground truth: DIR is ``tests/data/pdf`` of a
docling checkout (``sources/<name>.pdf``, ``groundtruth/<name>.json``); only those whose truth holds tables
are scored (they are not in ../shared, and not redistributed here).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pymupdf4llm
from common import CORPUS, ROOT, report
from rapidfuzz import fuzz

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_landscape_table_pdf, make_table_pdf, make_wide_table_pdf
from pipeline.export import MarkdownSerializer
from pipeline.graph import DocumentGraph
from tests.realdocs.truth import real_documents
from tests.textsim import normalise, similarity

SCORER = Path(ROOT.parent / "shared" / "tools" / "table_score.py")
GENERATED = ("ruled", "unruled", "spanning", "scanned", "two_pages")
# issue 25's kinds: landscape pages stored turned (/Rotate 90/270, and printed sideways without it), a 13-column
# table under a two-level header; the same kinds on real documents: tests/realdocs (truth.json, SOURCES.md)


def _issue25_cases() -> dict[str, tuple[bytes, list[list[str]]]]:
    cases = {
        f"landscape /Rotate {rotation} {'ruled' if ruled else 'unruled'}": make_landscape_table_pdf(
            ruled=ruled, rotation=rotation
        )
        for rotation in (90, 270)
        for ruled in (True, False)
    }
    cases |= {
        f"printed sideways ({r})": make_landscape_table_pdf(ruled=True, rotation=r, sideways=True) for r in (90, 270)
    }
    cases |= {
        f"13 columns, two-level header, {k}": make_wide_table_pdf(ruled=k == "ruled") for k in ("ruled", "unruled")
    }
    return cases


def _scorer() -> Any:
    spec = importlib.util.spec_from_file_location("table_score", SCORER)
    assert spec and spec.loader, f"no table scorer at {SCORER}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grid_score(scorer: Any, markdown: str, grid: list[list[str]]) -> float:
    truth = [[scorer._n(c) for c in row] for row in grid]
    return max((scorer.table_score(truth, p) for p in scorer.predicted_tables(markdown)), default=0.0)


def _unit_test(scorer: Any, markdown: str, test: dict[str, Any]) -> bool | None:
    """One olmOCR-bench test on a tool's Markdown; None for kinds not run here."""
    text = normalise(markdown)
    kind = test["type"]
    if kind == "table":
        return bool(scorer.relation_holds(markdown, test))
    if kind == "present":
        return fuzz.partial_ratio(normalise(test["text"]), text) >= 90
    if kind == "absent":
        want = normalise(test["text"])
        where = text[-test["last_n"] * 4 :] if "last_n" in test and len(want) <= 3 else text
        if len(want) <= 3:  # a page number: absent as a word of the page's end
            return want not in where.split()
        return fuzz.partial_ratio(want, where) < 90
    if kind == "order":
        a, b = text.find(normalise(test["before"])), text.find(normalise(test["after"]))
        return a >= 0 and b >= 0 and a < b
    return None


def _docling_tests(folder: Path | None) -> list[tuple[str, Path, Path]]:
    """(name, pdf, truth) of docling's test documents whose ground truth holds tables."""
    if folder is None:
        return []
    out = []
    for truth in sorted((folder / "groundtruth").glob("*.json")):
        pdf = folder / "sources" / f"{truth.stem}.pdf"
        if ".pages.meta" in truth.name or not pdf.is_file() or pdf.stat().st_size < 1024 or not truth.stat().st_size:
            continue  # no source, or a Git LFS pointer
        if json.loads(truth.read_text()).get("tables"):
            out.append((truth.stem, pdf, truth))
    return out


def _score_docling_tests(
    scorer: Any,
    tools: dict[str, Any],
    extra: list[tuple[str, Path, Path]],
    rows: dict[str, object],
    totals: dict[str, dict[str, float]],
) -> None:
    for name, pdf, truth in extra:
        for tool, convert in tools.items():
            got, n, per = scorer.score_markdown(convert(pdf.read_bytes()), truth)
            totals[tool]["docling_tables"] = totals[tool].get("docling_tables", 0) + got
            totals[tool]["docling_tables_n"] = totals[tool].get("docling_tables_n", 0) + n
            rows[f"docling test {name}: {tool} tables"] = f"{got:.2f} of {n} {[round(x, 2) for x in per]}"


def _score_generated(
    scorer: Any, tools: dict[str, Any], rows: dict[str, object], totals: dict[str, dict[str, float]]
) -> None:
    generated = {kind: make_table_pdf(kind) for kind in GENERATED} | _issue25_cases()
    for kind, (data, grid) in generated.items():
        for tool, convert in tools.items():
            score = _grid_score(scorer, convert(data), grid)
            totals[tool]["generated"] = totals[tool].get("generated", 0) + score
            totals[tool]["generated_n"] = totals[tool].get("generated_n", 0) + 1
            rows[f"generated {kind}: {tool} table score"] = round(score, 2)


def _score_real_documents(
    scorer: Any, tools: dict[str, Any], rows: dict[str, object], totals: dict[str, dict[str, float]]
) -> None:
    """Issue 25's real documents (tests/realdocs: /Rotate 90 pages, tables printed sideways, a two-level header, a
    three-column page): each truth table scored against the best table of the tool's Markdown, and the reading-order
    pairs checked as olmOCR-bench's order tests."""
    for doc in real_documents():
        data = doc.data()
        for tool, convert in tools.items():
            md = convert(data)
            tot = totals[tool]
            if doc.tables:
                scores = [_grid_score(scorer, md, t.grid) for t in doc.tables]
                tot["real"] = tot.get("real", 0) + sum(scores)
                tot["real_n"] = tot.get("real_n", 0) + len(scores)
                rows[f"real {doc.kind} {doc.file}: {tool} tables"] = f"{sum(scores):.2f} of {len(scores)}"
            if doc.order:
                passed = [_unit_test(scorer, md, {"type": "order", "before": a, "after": b}) for a, b in doc.order]
                tot["real_order"] = tot.get("real_order", 0) + sum(bool(p) for p in passed)
                tot["real_order_n"] = tot.get("real_order_n", 0) + len(passed)
                rows[f"real {doc.kind} {doc.file}: {tool} order pairs"] = (
                    f"{sum(bool(p) for p in passed)}/{len(passed)}"
                )


def _total_rows(rows: dict[str, object], totals: dict[str, dict[str, float]], n_truth: int, n_extra: int) -> None:
    for tool, tot in totals.items():
        rows[f"TOTAL {tool}: corpus table score"] = f"{tot.get('tables', 0):.2f} / {tot.get('tables_n', 0):.0f}"
        rows[f"TOTAL {tool}: mean text similarity ({n_truth} docs)"] = round(tot.get("sim", 0) / max(1, n_truth), 3)
        if n_extra:
            rows[f"TOTAL {tool}: docling test documents' table score ({n_extra} docs)"] = (
                f"{tot.get('docling_tables', 0):.2f} / {tot.get('docling_tables_n', 0):.0f}"
            )
        generated = f"{tot.get('generated', 0):.2f} / {tot.get('generated_n', 0):.0f}"
        rows[f"TOTAL {tool}: generated tables score"] = generated
        rows[f"TOTAL {tool}: real documents' tables score (tests/realdocs)"] = (
            f"{tot.get('real', 0):.2f} / {tot.get('real_n', 0):.0f}"
        )
        rows[f"TOTAL {tool}: real documents' order pairs"] = (
            f"{tot.get('real_order', 0):.0f} / {tot.get('real_order_n', 0):.0f}"
        )
        rows[f"TOTAL {tool}: olmOCR-bench unit tests"] = f"{tot.get('unit', 0):.0f} / {tot.get('unit_n', 0):.0f}"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docling-tests", type=Path, help="tests/data/pdf of a docling checkout")
    return parser.parse_args()


def main() -> None:
    extra = _docling_tests(_args().docling_tests)
    scorer = _scorer()
    truth_docs = sorted(p.name.removesuffix(".gt.json") for p in CORPUS.glob("*.gt.json"))
    unit_docs = sorted(p.name.removesuffix(".gt.jsonl") for p in CORPUS.glob("*.gt.jsonl"))
    rows: dict[str, object] = {}
    totals: dict[str, dict[str, float]] = {"docgraph": {}, "pymupdf4llm": {}}
    table_costs: list[float] = []
    page_costs: list[float] = []
    with EmbeddedService() as svc, httpx.Client(base_url=svc.url, timeout=600) as client:

        def docgraph(data: bytes) -> str:
            r = client.post("/v1/convert", params={"format": "json"}, files={"file": ("d.pdf", data)})
            r.raise_for_status()
            graph = DocumentGraph.model_validate_json(r.content)
            for page in graph.pages:
                t = page.timings
                if t.tables_s:
                    table_costs.append(t.tables_s * 1000)
                    page_costs.append(
                        (t.text_s + t.render_s + max(t.layout_s, t.ocr_s) + t.merge_s + t.tables_s) * 1000
                    )
            return MarkdownSerializer().serialize(graph)

        def peer(data: bytes) -> str:
            return str(pymupdf4llm.to_markdown(pymupdf.open(stream=data, filetype="pdf")))

        tools = {"docgraph": docgraph, "pymupdf4llm": peer}
        docgraph(make_table_pdf("ruled")[0])  # warm
        for name in truth_docs:
            data = (CORPUS / f"{name}.pdf").read_bytes()
            gt_md = (CORPUS / f"{name}.gt.md").read_text()
            for tool, convert in tools.items():
                t0 = time.perf_counter()
                md = convert(data)
                seconds = time.perf_counter() - t0
                got, n, _ = scorer.score_markdown(md, CORPUS / f"{name}.gt.json")
                sim = similarity(md, gt_md)
                tot = totals[tool]
                tot["tables"] = tot.get("tables", 0) + got
                tot["tables_n"] = tot.get("tables_n", 0) + n
                tot["sim"] = tot.get("sim", 0) + sim
                rows[f"{name}: {tool} similarity / tables"] = f"{sim:.3f} / {got:.2f} of {n} ({seconds:.1f} s)"
        _score_docling_tests(scorer, tools, extra, rows, totals)
        _score_generated(scorer, tools, rows, totals)
        _score_real_documents(scorer, tools, rows, totals)
        for name in unit_docs:
            data = (CORPUS / f"{name}.pdf").read_bytes()
            tests = [json.loads(line) for line in (CORPUS / f"{name}.gt.jsonl").read_text().splitlines() if line]
            for tool, convert in tools.items():
                md = convert(data)
                results = [r for r in (_unit_test(scorer, md, t) for t in tests) if r is not None]
                totals[tool]["unit"] = totals[tool].get("unit", 0) + sum(results)
                totals[tool]["unit_n"] = totals[tool].get("unit_n", 0) + len(results)
                rows[f"{name}: {tool} unit tests passed"] = f"{sum(results)}/{len(results)}"
    _total_rows(rows, totals, len(truth_docs), len(extra))
    if table_costs:
        rows["docgraph table extraction per page with tables, median ms"] = round(statistics.median(table_costs), 1)
        rows["docgraph page total on those pages, median ms"] = round(statistics.median(page_costs), 1)
    report("tables", rows)


if __name__ == "__main__":
    main()
