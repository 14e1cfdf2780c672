"""Text inside pictures on digital pages: picture regions without text-layer text are OCRed as regions (crops of
the page image), within a per-page bound; what is read joins the figure (source ocr, with its lines), in reading
order. ocr=never reads none of them."""

from __future__ import annotations

from typing import Any

import pytest

from docgraph.samples import BANNER_HEADLINE, make_banner_pdf, make_many_pictures_pdf
from pipeline.export import ExportOptions, exporter
from pipeline.geometry import BBox
from pipeline.graph import BlockType, DocumentGraph, Source
from pipeline.merge import DraftBlock
from pipeline.options import ConvertOptions, Detail, OcrMode, PictureLimits
from pipeline.page import TextLine
from pipeline.pictures import apply_picture_text, picture_regions
from pipeline.steps import Step
from tests.invariants import assert_graph_invariants
from tests.textsim import similarity

MIN_SIMILARITY = 0.9  # measured 1.00 on the banner's headline (2026-12-01); the text layer alone: no headline at all


def draft(kind: BlockType, box: tuple[float, float, float, float], text: str = "") -> DraftBlock:
    return DraftBlock(kind, BBox.of(box), text, Source.LAYOUT, "yolo", 0.9)


def test_the_regions_read_are_bounded_per_page() -> None:
    limits = PictureLimits(max_regions=4)
    tiles = [
        draft(BlockType.FIGURE, (10 + 60 * (i % 9), 10 + 60 * (i // 9), 60 + 60 * (i % 9), 60 + 60 * (i // 9)))
        for i in range(30)
    ]
    big = draft(BlockType.FIGURE, (0, 300, 500, 500))
    icons = [draft(BlockType.FIGURE, (10 * i, 700, 10 * i + 8, 708)) for i in range(40)]  # 8x8 pt: never read
    selection = picture_regions([*tiles, big, *icons], [], limits)
    assert len(selection.regions) == 4 and selection.skipped == 27  # 30 tiles + the big one, 4 read
    assert selection.regions[0] is big  # the largest first
    assert picture_regions([*tiles, big], [], PictureLimits(max_regions=0)).regions == []


def test_only_pictures_without_text_layer_text_are_read() -> None:
    limits = PictureLimits()
    chart = draft(BlockType.FIGURE, (0, 0, 300, 200))  # a vector chart: its labels are in the text layer
    label = TextLine(bbox=BBox.of((100, 90, 160, 102)), text="Revenue")
    photo = draft(BlockType.FIGURE, (0, 300, 300, 500))
    heading = draft(BlockType.SECTION_HEADER, (20, 320, 280, 350))  # typed by layout, inside the photo
    banner_title = draft(BlockType.TITLE, (0, 600, 400, 650))  # text in an image, no figure around it
    read = draft(BlockType.FIGURE, (320, 0, 600, 200), "already has text")
    selection = picture_regions([chart, photo, heading, banner_title, read], [label], limits)
    assert selection.regions == [photo, banner_title]

    blocks = [photo, heading]
    lines = [
        TextLine(bbox=BBox.of((150, 322, 280, 348)), text="WORLD", confidence=0.9),
        TextLine(bbox=BBox.of((20, 321, 140, 349)), text="HELLO", confidence=0.8),
    ]
    assert apply_picture_text(blocks, photo, lines, "rapidocr")
    assert blocks == [photo]  # the empty heading inside the photo: its words are the photo's now
    assert photo.text == "HELLO WORLD" and photo.source is Source.OCR and photo.model == "rapidocr"
    assert [ln.text for ln in photo.lines] == ["HELLO", "WORLD"] and photo.prov[-1].source is Source.OCR
    assert not apply_picture_text(blocks, banner_title, [], "rapidocr") and banner_title.text == ""


@pytest.mark.models
def test_a_banner_headline_is_read_into_its_figure_before_the_body(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_banner_pdf(), ConvertOptions(detail=Detail.LINES))
    assert_graph_invariants(graph)
    page = graph.pages[0]
    assert page.kind is not None and page.kind.value == "digital" and "ocr" in page.route and page.timings.ocr_s > 0
    body = graph.page_blocks(1)
    figure = body[0]
    assert figure.type is BlockType.FIGURE and figure.source is Source.OCR, [(b.type, b.text[:20]) for b in body]
    assert similarity(figure.text, BANNER_HEADLINE) >= MIN_SIMILARITY, figure.text
    assert figure.lines and all(
        figure.bbox.l - 3 <= ln.bbox.l and ln.bbox.r <= figure.bbox.r + 3 for ln in figure.lines
    )
    assert any(p.source is Source.OCR for p in figure.prov)
    assert body[1].text.startswith("Paragraph 1.") and body[1].source is Source.TEXT_LAYER
    assert not [b for b in body if not b.text]  # no empty heading left where the banner's words are
    markdown = exporter("markdown").export(graph, ExportOptions()).decode()
    assert markdown.index("QUARTERLY") < markdown.index("Paragraph 1.")


@pytest.mark.models
def test_ocr_never_reads_no_picture(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_banner_pdf(), ConvertOptions(ocr=OcrMode.NEVER))
    assert "ocr" not in graph.pages[0].route and graph.pages[0].timings.ocr_s == 0
    assert "QUARTERLY" not in "\n".join(b.text for b in graph.blocks)


@pytest.mark.models
def test_the_fast_path_reads_a_large_picture_and_renders_no_other_page(local_converter: Any) -> None:
    """layout=false: no layout model, so the drawn images are the candidates, and only one over a large share of
    the page (``fast_path_min_share``) gets the page rendered and read; twelve small tiles do not."""
    options = ConvertOptions(layout=False)
    graph: DocumentGraph = local_converter.convert_sync(make_banner_pdf(), options)
    assert_graph_invariants(graph)
    page = graph.pages[0]
    assert page.route == [Step.TEXT, Step.RENDER, Step.MERGE, Step.OCR], page.route
    (figure,) = [b for b in graph.blocks if b.type is BlockType.FIGURE]
    assert figure.source is Source.OCR and similarity(figure.text, BANNER_HEADLINE) >= MIN_SIMILARITY
    assert graph.page_blocks(1)[0] is figure  # read before the paragraphs below it
    tiles = local_converter.convert_sync(make_many_pictures_pdf(12), options)
    assert Step.RENDER not in tiles.pages[0].route and not [b for b in tiles.blocks if b.source is Source.OCR]
    never = local_converter.convert_sync(make_banner_pdf(), ConvertOptions(layout=False, ocr=OcrMode.NEVER))
    assert never.pages[0].route == [Step.TEXT, Step.MERGE]


@pytest.mark.models
def test_a_page_of_many_pictures_reads_at_most_the_bound(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_many_pictures_pdf(12))
    read = [b for b in graph.blocks if b.source is Source.OCR]
    assert 1 <= len(read) <= PictureLimits().max_regions, [(b.type, b.bbox) for b in graph.blocks]
    assert "LABEL" in read[0].text
