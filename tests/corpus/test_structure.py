"""Document structure on the public corpus, against docling's own annotations and olmOCR-bench's unit tests:
headings and the section tree, captions tied to their figure/table, table structure and text similarity
(``../shared/tools/table_score.py``, the scorer the project is measured with), running headers and footers
absent from the Markdown. Thresholds are what this version measured (README, bench/tables.py), minus a margin.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz import fuzz

from pipeline.export import MarkdownSerializer
from pipeline.graph import BlockType, ContentLayer, DocumentGraph, EdgeKind, GroupKind
from pipeline.options import ConvertOptions
from tests.invariants import assert_graph_invariants
from tests.textsim import normalise, similarity

pytestmark = [pytest.mark.corpus, pytest.mark.models]


@pytest.fixture(scope="module")
def scorer(corpus: Path) -> Any:
    path = corpus.parent.parent / "tools" / "table_score.py"
    if not path.is_file():
        pytest.skip(f"table scorer not found at {path}")
    spec = importlib.util.spec_from_file_location("table_score", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CACHE: dict[str, DocumentGraph] = {}


def convert(local_converter: Any, corpus: Path, name: str) -> DocumentGraph:
    if name not in _CACHE:
        data = (corpus / f"{name}.pdf").read_bytes()
        _CACHE[name] = local_converter.convert_sync(data, ConvertOptions(), filename=f"{name}.pdf")
        assert_graph_invariants(_CACHE[name])
    return _CACHE[name]


def _same(a: str, b: str) -> bool:
    return fuzz.ratio(" ".join(a.lower().split()), " ".join(b.lower().split())) >= 85


# (document, headings found of the ground truth's at least, share of ours that are the truth's at least,
#  captions tied to the right kind, table score at least, text similarity at least); measured in comments
STRUCTURE = [
    ("multi_page", 1.0, 1.0, 0, 0.0, 0.97),  # measured 11/11, 11/11, -, -, 0.996
    (
        "normal_4pages",
        0.30,
        0.50,
        1,
        0.95,
        0.90,
    ),  # measured 6/19, 6/11 (Korean numbered headings typed text), 1/1, 1.00, 0.926
    ("amt_handbook_sample", 1.0, 1.0, 2, 0.0, 0.90),  # measured 3/3, 3/3, 2/2, -, 0.935
    ("picture_classification", 1.0, 1.0, 2, 0.0, 0.97),  # measured 1/1, 1/1, 2/2, -, 1.000
]


@pytest.mark.parametrize(("name", "recall", "precision", "captions", "tables", "text"), STRUCTURE)
def test_structure_matches_docling_ground_truth(
    local_converter: Any,
    corpus: Path,
    scorer: Any,
    name: str,
    recall: float,
    precision: float,
    captions: int,
    tables: float,
    text: float,
) -> None:
    truth = json.loads((corpus / f"{name}.gt.json").read_text())
    graph = convert(local_converter, corpus, name)
    # headings: the truth's section headers and title, found among ours (title or section_header)
    want = [t["text"] for t in truth["texts"] if t["label"] in ("section_header", "title")]
    ours = [b.text for b in graph.blocks if b.type in (BlockType.SECTION_HEADER, BlockType.TITLE)]
    found = sum(any(_same(w, o) for o in ours) for w in want)
    right = sum(any(_same(o, w) for w in want) for o in ours)
    assert found >= recall * len(want), (found, len(want), ours)
    assert right >= precision * len(ours), (right, len(ours), ours)
    # every heading opens a section of the tree
    sections = {g.heading for g in graph.groups if g.kind is GroupKind.SECTION}
    assert all(b.id in sections for b in graph.blocks if b.type is BlockType.SECTION_HEADER)
    # captions: the truth's picture/table captions are caption_of the same kind of node here
    texts = {t["self_ref"]: t["text"] for t in truth["texts"]}
    truth_captions = [
        (texts[ref["$ref"]], kind)
        for kind, key in ((BlockType.FIGURE, "pictures"), (BlockType.TABLE, "tables"))
        for item in truth.get(key, [])
        for ref in item.get("captions", [])
    ]
    blocks = {b.id: b for b in graph.blocks}
    tied = [(blocks[e.source].text, blocks[e.target].type) for e in graph.edges if e.kind is EdgeKind.CAPTION_OF]
    matched = sum(any(_same(c, t) and k is kt for t, kt in tied) for c, k in truth_captions)
    assert matched >= captions, (truth_captions, tied)
    markdown = MarkdownSerializer().serialize(graph)
    got, n, _ = scorer.score_markdown(markdown, corpus / f"{name}.gt.json")
    assert got >= tables * n, (got, n)
    assert similarity(markdown, (corpus / f"{name}.gt.md").read_text()) >= text


def _olmocr_tests(corpus: Path, name: str, kind: str) -> list[dict[str, Any]]:
    lines = (corpus / f"{name}.gt.jsonl").read_text().splitlines()
    return [t for t in (json.loads(line) for line in lines if line) if t["type"] == kind]


def test_olmocr_table_relations_hold(local_converter: Any, corpus: Path, scorer: Any) -> None:
    """olmo2-pg4: a cell's neighbours and its column/row headings, read back from the Markdown tables."""
    markdown = MarkdownSerializer().serialize(convert(local_converter, corpus, "olmo2-pg4"))
    tests = _olmocr_tests(corpus, "olmo2-pg4", "table")
    failed = [t for t in tests if not scorer.relation_holds(markdown, t)]
    assert len(tests) == 9 and not failed, failed  # measured 9/9 (before graph 2.0: 6/9)


@pytest.mark.parametrize(
    "name",
    [
        "headers_footers_ff0f0b22c55d8b90dd77d153f48e144fc9db_pg2",
        "headers_footers_ff1fc6a205ad039139ce566851b6b260c929_pg1",
    ],
)
def test_running_headers_and_page_numbers_are_furniture(local_converter: Any, corpus: Path, name: str) -> None:
    """The journal line, the issue line and the page number leave the Markdown body. Left out, as known
    misses: a logo's text ('AEROJET ROCKETDYNE', also in the body as an author's affiliation) and, on the
    third sample, an author e-mail footnote mid-page."""
    graph = convert(local_converter, corpus, name)
    markdown = normalise(MarkdownSerializer().serialize(graph))
    assert any(b.content_layer is ContentLayer.FURNITURE for b in graph.blocks)
    for test in _olmocr_tests(corpus, name, "absent"):
        if test["id"] == "ff1fc6a205ad039139ce566851b6b260c929_01b":
            continue  # the logo line
        text = normalise(test["text"])
        if len(text) <= 3:  # a page number: not among the Markdown's last words
            assert text not in markdown.split()[-test.get("last_n", 20) :], test
        else:
            assert fuzz.partial_ratio(text, markdown) < 90, test
