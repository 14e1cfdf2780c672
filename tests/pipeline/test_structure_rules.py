"""pipeline/structure.py's rules on hand-built drafts and blocks (no PDF, no model): furniture, the title,
heading levels, list markers, captions and footnotes tied to what they describe, continued tables, the tree."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.geometry import BBox
from pipeline.graph import (
    Block,
    BlockType,
    EdgeKind,
    Figure,
    GroupKind,
    ListItem,
    SectionHeader,
    Source,
    Table,
    TextItem,
)
from pipeline.merge import DraftBlock
from pipeline.structure import decide, heading_level_from_numbering, link, split_marker

HEIGHT = 792.0


def draft(kind: BlockType, text: str, box: tuple[float, float, float, float], size: float = 10.0) -> DraftBlock:
    return DraftBlock(
        type=kind, bbox=BBox.of(box), text=text, source=Source.TEXT_LAYER, model=None, confidence=1.0, size=size
    )


@pytest.mark.parametrize(
    ("text", "level"),
    [("2 Methods", 1), ("2.1 Data", 2), ("2.1.3 Cleaning", 3), ("A.1 Proofs", 2), ("IV. Results", 1),
     ("1.2.3.4.5.6.7 Deep", 6), ("Methods", None), ("2024 was a year", None)],
)  # fmt: skip
def test_heading_level_from_numbering(text: str, level: int | None) -> None:
    assert heading_level_from_numbering(text) == level


@pytest.mark.parametrize(
    ("text", "split"),
    [("• apples", ("•", "apples", False)), ("3. mix well", ("3.", "mix well", True)),
     ("(iv) fourth", ("(iv)", "fourth", True)), ("a) first", ("a)", "first", True)),
     ("plain words", ("", "plain words", False)), ("–  dash item", ("–", "dash item", False))],
)  # fmt: skip
def test_split_marker(text: str, split: tuple[str, str, bool]) -> None:
    assert split_marker(text) == split


def test_decide_furniture_title_levels_markers_and_captions() -> None:
    page1 = [
        draft(BlockType.TEXT, "Journal of Tests, vol. 3", (72, 20, 300, 32)),  # top band: running head
        draft(BlockType.TEXT, "A Study of Rules", (72, 80, 540, 110), size=24),  # largest near the top: the title
        draft(BlockType.SECTION_HEADER, "1 Introduction", (72, 130, 300, 146), size=14),
        draft(BlockType.TEXT, "Body text " * 20, (72, 150, 540, 220)),
        draft(BlockType.SECTION_HEADER, "Background", (72, 230, 300, 244), size=12),  # no number: size rank
        draft(BlockType.LIST_ITEM, "• first point", (90, 250, 540, 262)),
        draft(BlockType.TEXT, "Table 1: Results by year", (72, 280, 400, 292)),  # above a table: caption
        draft(BlockType.TABLE, "a | b", (72, 296, 540, 400)),
        draft(BlockType.TEXT, "Table 2 is discussed below.", (72, 600, 540, 612)),  # no table near: text
        draft(BlockType.TEXT, "3", (300, 760, 310, 772)),  # bottom band: page number
    ]
    page2 = [
        draft(BlockType.PAGE_HEADER, "Journal of Tests", (72, 20, 300, 32)),  # labelled by the layout model
        draft(BlockType.SECTION_HEADER, "Conclusion", (72, 100, 300, 114), size=14),
        draft(BlockType.TEXT, "More body text " * 10, (72, 120, 540, 200)),
    ]
    out = decide([(1, HEIGHT, page1), (2, HEIGHT, page2)])
    assert out[(1, 0)].type is BlockType.PAGE_HEADER and out[(1, 9)].type is BlockType.PAGE_FOOTER
    assert out[(2, 0)].type is BlockType.PAGE_HEADER
    assert out[(1, 1)].type is BlockType.TITLE
    assert (out[(1, 2)].type, out[(1, 2)].level) == (BlockType.SECTION_HEADER, 1)
    assert out[(1, 4)].level == 2  # 12 pt: second of the document's heading sizes (14, 12)
    assert out[(2, 1)].level == 1  # 14 pt: the largest heading size
    assert (out[(1, 5)].marker, out[(1, 5)].text, out[(1, 5)].enumerated) == ("•", "first point", False)
    assert out[(1, 6)].type is BlockType.CAPTION and out[(1, 8)].type is BlockType.TEXT
    assert out[(1, 3)].type is BlockType.TEXT and out[(1, 7)].type is BlockType.TABLE


def test_no_title_when_nothing_stands_out_and_repeated_lines_are_furniture() -> None:
    pages = [
        (n, HEIGHT, [
            draft(BlockType.TEXT, f"Report page {n}", (72, 60, 300, 72)),  # repeated near the top, digits aside
            draft(BlockType.TEXT, "Body " * 40, (72, 100, 540, 300), size=11),
        ])
        for n in (1, 2, 3)
    ]  # fmt: skip
    out = decide(pages)
    assert all(out[(n, 0)].type is BlockType.PAGE_HEADER for n in (1, 2, 3))
    assert BlockType.TITLE not in {d.type for d in out.values()}  # no block is larger than the body text
    lone = decide([(1, HEIGHT, [draft(BlockType.TEXT, "Only words", (72, 20, 300, 32))])])
    assert lone[(1, 0)].type is BlockType.TEXT  # a page with nothing else: its one line is its body


H = BlockType.SECTION_HEADER


def _common(ref: str, page: int, box: tuple[float, float, float, float], text: str = "") -> dict[str, Any]:
    return {"id": ref, "page_no": page, "bbox": BBox.of(box), "text": text, "source": Source.TEXT_LAYER,
            "confidence": 1.0, "order": 0, "prov": []}  # fmt: skip


def test_link_captions_footnotes_continued_tables_and_the_tree() -> None:
    blocks: list[Block] = [
        SectionHeader(type=H, level=1, **_common("#/blocks/1.0", 1, (72, 60, 300, 74), "1 A")),
        Figure(type=BlockType.FIGURE, **_common("#/blocks/1.1", 1, (72, 80, 300, 200))),
        TextItem(type=BlockType.CAPTION, **_common("#/blocks/1.2", 1, (72, 204, 300, 216), "Figure 1: a plot")),
        SectionHeader(type=H, level=2, **_common("#/blocks/1.3", 1, (72, 230, 300, 244), "1.1 B")),
        ListItem(type=BlockType.LIST_ITEM, marker="•", **_common("#/blocks/1.4", 1, (90, 250, 300, 262), "x")),
        ListItem(type=BlockType.LIST_ITEM, marker="•", **_common("#/blocks/1.5", 1, (90, 264, 300, 276), "y")),
        TextItem(type=BlockType.CAPTION, **_common("#/blocks/1.6", 1, (72, 500, 400, 512), "Table 1: numbers")),
        Table(type=BlockType.TABLE, num_rows=2, num_cols=3, **_common("#/blocks/1.7", 1, (72, 516, 540, 700))),
        TextItem(type=BlockType.FOOTNOTE, **_common("#/blocks/1.8", 1, (72, 706, 400, 716), "* estimated")),
        Table(type=BlockType.TABLE, num_rows=4, num_cols=3, **_common("#/blocks/2.0", 2, (72, 60, 540, 300))),
        SectionHeader(type=H, level=1, **_common("#/blocks/2.1", 2, (72, 320, 300, 334), "2 C")),
    ]  # fmt: skip
    pages = [[b.id for b in blocks if b.page_no == n] for n in (1, 2)]
    edges, groups, body = link(blocks, pages)
    found = {(e.kind, e.source, e.target) for e in edges}
    assert (EdgeKind.CAPTION_OF, "#/blocks/1.2", "#/blocks/1.1") in found  # below its figure
    assert (EdgeKind.CAPTION_OF, "#/blocks/1.6", "#/blocks/1.7") in found  # above its table
    assert (EdgeKind.FOOTNOTE_OF, "#/blocks/1.8", "#/blocks/1.7") in found
    assert EdgeKind.CONTINUES not in {e.kind for e in edges}  # page 1 ends with the footnote, not the table
    by_id = {b.id: b for b in blocks}
    assert isinstance(t := by_id["#/blocks/1.7"], Table) and t.caption == "#/blocks/1.6" and t.footnotes
    sections = [g for g in groups if g.kind is GroupKind.SECTION]
    lists = [g for g in groups if g.kind is GroupKind.LIST]
    assert [g.heading for g in sections] == ["#/blocks/1.0", "#/blocks/1.3", "#/blocks/2.1"]
    assert lists and lists[0].children == ["#/blocks/1.4", "#/blocks/1.5"]
    assert sections[1].id in sections[0].children  # 1.1 inside 1
    assert body == [sections[0].id, sections[2].id]  # 2 closes 1 (same level)


def test_a_table_continues_on_the_next_page_only_with_the_same_columns() -> None:
    def table(ref: str, page: int, cols: int) -> Table:
        return Table(type=BlockType.TABLE, num_rows=2, num_cols=cols, **_common(ref, page, (72, 500, 540, 780)))

    same = [table("#/blocks/1.0", 1, 3), table("#/blocks/2.0", 2, 3)]
    edges, _, _ = link(list(same), [["#/blocks/1.0"], ["#/blocks/2.0"]])
    assert [(e.kind, e.source, e.target) for e in edges] == [(EdgeKind.CONTINUES, "#/blocks/1.0", "#/blocks/2.0")]
    other = [table("#/blocks/1.0", 1, 3), table("#/blocks/2.0", 2, 4)]
    assert link(list(other), [["#/blocks/1.0"], ["#/blocks/2.0"]])[0] == []
