"""Merge: layout regions + text lines → typed blocks; nothing dropped; tables by rows; headers by font."""

from __future__ import annotations

from pipeline.geometry import BBox
from pipeline.graph import BlockType, Source
from pipeline.merge import OcrRegion, Region, group_lines, merge_labelled_ocr, merge_page
from pipeline.page import TextBlock, TextLine


def B(l: float, t: float, r: float, b: float) -> BBox:
    return BBox(l=l, t=t, r=r, b=b)


def line(text: str, box: BBox, size: float = 10.0) -> TextLine:
    return TextLine(bbox=box, text=text, size=size)


def region(kind: BlockType, box: BBox, score: float = 0.9) -> Region:
    return Region(type=kind, label=kind.value, bbox=box, score=score, model="yolo-test")


def test_lines_go_to_the_region_covering_them_and_leftovers_are_kept() -> None:
    title = line("A Title", B(100, 50, 300, 70), size=20)
    body = [line("first line of text", B(72, 100, 500, 112)), line("second line", B(72, 114, 400, 126))]
    stray = line("stray footnote", B(72, 700, 200, 710), size=8)
    groups = [
        TextBlock(B(100, 50, 300, 70), (title,)),
        TextBlock(B(72, 100, 500, 126), tuple(body)),
        TextBlock(B(72, 700, 200, 710), (stray,)),
    ]
    regions = [
        region(BlockType.TITLE, B(95, 45, 305, 75)),
        region(BlockType.TEXT, B(70, 98, 505, 130)),
        region(BlockType.FIGURE, B(72, 300, 500, 600)),
    ]
    blocks = merge_page(groups, text_source=Source.TEXT_LAYER, text_model="pymupdf", regions=regions)
    assert [(b.type, b.text) for b in blocks] == [
        (BlockType.TITLE, "A Title"),
        (BlockType.TEXT, "first line of text second line"),
        (BlockType.FIGURE, ""),
        (BlockType.TEXT, "stray footnote"),  # no region covers it: kept with its text-layer source
    ]
    assert blocks[2].source is Source.LAYOUT and blocks[3].source is Source.TEXT_LAYER
    assert {p.source for p in blocks[1].prov} == {Source.LAYOUT, Source.TEXT_LAYER}


def test_duplicate_regions_merge_into_the_higher_score_with_both_as_provenance() -> None:
    text = line("Results", B(72, 100, 200, 114), size=14)
    regions = [
        region(BlockType.TEXT, B(70, 98, 202, 116), 0.4),
        region(BlockType.SECTION_HEADER, B(71, 99, 203, 116), 0.8),
    ]
    blocks = merge_page(
        [TextBlock(text.bbox, (text,))], text_source=Source.TEXT_LAYER, text_model="pymupdf", regions=regions
    )
    assert len(blocks) == 1 and blocks[0].type is BlockType.SECTION_HEADER
    assert [p.label for p in blocks[0].prov if p.source is Source.LAYOUT] == ["section_header", "text"]


def test_table_text_reads_row_by_row() -> None:
    cells = [
        line(t, B(x, y, x + 50, y + 10))
        for y, row in ((100, ("a", "b")), (120, ("c", "d")))
        for x, t in zip((80, 200), row, strict=True)
    ]
    blocks = merge_page(
        [TextBlock(B(80, 100, 250, 130), tuple(cells))],
        text_source=Source.TEXT_LAYER,
        text_model="pymupdf",
        regions=[region(BlockType.TABLE, B(75, 95, 260, 135))],
    )
    assert blocks[0].text == "a | b\nc | d"


def test_without_layout_large_fonts_become_headers_and_images_figures() -> None:
    groups = [
        TextBlock(B(72, 50, 400, 70), (line("Big heading", B(72, 50, 400, 70), size=18),)),
        TextBlock(
            B(72, 80, 500, 200), tuple(line(f"body {i}", B(72, 80 + 12 * i, 500, 90 + 12 * i)) for i in range(9))
        ),
        TextBlock(B(100, 300, 400, 500), (), is_image=True),
    ]
    blocks = merge_page(groups, text_source=Source.TEXT_LAYER, text_model="pymupdf", regions=None)
    assert [b.type for b in blocks] == [BlockType.SECTION_HEADER, BlockType.TEXT, BlockType.FIGURE]


def test_dehyphenation_joins_words_broken_across_lines() -> None:
    lines = (line("docu-", B(72, 100, 300, 110)), line("ment graphs", B(72, 112, 300, 122)))
    blocks = merge_page(
        [TextBlock(B(72, 100, 300, 122), lines)], text_source=Source.OCR, text_model="ocr", regions=None
    )
    assert blocks[0].text == "document graphs"


def test_group_lines_builds_paragraphs_from_ocr_lines() -> None:
    lines = [
        line("p1 a", B(72, 100, 400, 110)),
        line("p1 b", B(72, 112, 380, 122)),
        line("p2 a", B(72, 160, 400, 170)),
        line("side", B(450, 100, 540, 110)),
    ]
    groups = group_lines(lines)
    assert sorted(g.text for g in groups) == ["p1 a\np1 b", "p2 a", "side"]


def ocr_block(index: int, kind: BlockType | None, box: BBox, text: str, conf: float = 0.8) -> OcrRegion:
    return OcrRegion(type=kind, label=kind.value if kind else None, bbox=box, text=text, confidence=conf, index=index)


def test_labelled_ocr_matches_layout_by_iou_and_keeps_both_sides_unmatched() -> None:
    # two columns; the OCR model read the right column first (its emission order is the reading order)
    ocr = [
        ocr_block(0, BlockType.SECTION_HEADER, B(320, 50, 560, 70), "Right heading"),
        ocr_block(1, BlockType.TEXT, B(320, 80, 560, 300), "right text"),
        ocr_block(2, BlockType.TEXT, B(50, 80, 290, 300), "left text"),
        ocr_block(3, BlockType.TEXT, B(50, 700, 290, 720), "only OCR saw this"),
    ]
    regions = [
        region(BlockType.TITLE, B(318, 48, 562, 72), score=0.95),  # disagrees, more confident: layout wins
        region(BlockType.TEXT, B(322, 82, 558, 298)),  # agrees
        region(BlockType.LIST_ITEM, B(52, 78, 288, 302), score=0.6),  # disagrees, less confident: OCR wins
        region(BlockType.FIGURE, B(50, 400, 560, 650)),  # only layout saw this
    ]
    blocks = merge_labelled_ocr(ocr, regions, model="deepseek-ocr@test")
    assert [(b.type, b.text) for b in blocks] == [
        (BlockType.TITLE, "Right heading"),
        (BlockType.TEXT, "right text"),
        (BlockType.TEXT, "left text"),
        (BlockType.FIGURE, ""),  # layout-only: slotted in by XY-cut (below both columns)
        (BlockType.TEXT, "only OCR saw this"),
    ]
    assert blocks[0].bbox == B(318, 48, 562, 72)  # matched: the detector's box
    assert blocks[0].model == "yolo-test" and blocks[2].model == "deepseek-ocr@test"
    assert blocks[1].confidence > 0.9  # agreement raises confidence
    assert blocks[3].source is Source.LAYOUT and blocks[4].source is Source.OCR
    assert {p.source for p in blocks[1].prov} == {Source.OCR, Source.LAYOUT}
    assert blocks[4].bbox == B(50, 700, 290, 720)


def test_labelled_ocr_without_layout_keeps_emission_order() -> None:
    ocr = [
        ocr_block(0, BlockType.TEXT, B(50, 500, 500, 520), "second on the page"),
        ocr_block(1, BlockType.FIGURE, B(50, 100, 500, 400), ""),
    ]
    blocks = merge_labelled_ocr(ocr, None, model="m")
    assert [b.text for b in blocks] == ["second on the page", ""]
    assert blocks[1].type is BlockType.FIGURE and blocks[1].source is Source.LAYOUT
