"""Right-to-left and vertical text from the text layer (issue 15, fourth part): rows of Arabic put back in logical
order from where their glyphs are placed, fonts' presentation forms and visual-order ligatures repaired, vertical
columns joined and read from the right, text turned a quarter read line by line, and pages of a few words without
a picture taken for digital pages. The corpus files these came from: ``tests/corpus/test_reading.py``."""

from __future__ import annotations

import random
import sys
import unicodedata

import pymupdf
import pytest

from pipeline.geometry import BBox
from pipeline.graph import BlockType, PageKind, Source
from pipeline.merge import TEXT_LAYER_MODEL, DraftBlock, merge_page
from pipeline.page import TextBlock, TextLine
from pipeline.route import classify_page
from pipeline.rtl import RTL_RANGES, Glyph, has_rtl, logical_row, mostly_rtl, normalise_forms, placed
from pipeline.structure import decide
from pipeline.textlayer import extract_text_layer
from pipeline.vertical import columns, join_pieces, join_vertical_blocks
from tests.layers import text_layer


def glyphs_as_seen(visual: str, *, runs: list[int] | None = None, width: float = 5.0) -> list[Glyph]:
    """Glyphs placed left to right as ``visual`` shows them (one character a glyph), handed over shuffled: the
    order a PDF stores them in says nothing."""
    placed_glyphs = [Glyph(i * width, (i + 1) * width, c, runs[i] if runs else 0) for i, c in enumerate(visual)]
    random.Random(7).shuffle(placed_glyphs)
    return placed_glyphs


def test_an_arabic_row_reads_in_logical_order_with_its_comma_and_number() -> None:
    # "وعليه، فإن عام 2024" as a reader sees it, left to right: the words reversed, the number left to right
    visual = "4202"[::-1] + " ماع " + "نإف" + " ،" + "هيلعو"
    assert logical_row(glyphs_as_seen(visual), height=12.0) == "وعليه، فإن عام 2024"


def test_runs_of_one_row_are_joined_from_the_right_with_a_space_where_they_stand_apart() -> None:
    # MuPDF splits a row at a number: "( 2024" is a run of its own, left of the Arabic run
    arabic = [Glyph(100 + i * 5, 105 + i * 5, c, 1) for i, c in enumerate("(روطلا")]  # "الطور(" as seen
    number = [Glyph(70 + i * 5, 75 + i * 5, c, 2) for i, c in enumerate("2024")]
    assert logical_row(number + arabic, height=12.0) == "الطور( 2024"


def test_every_right_to_left_letter_lies_in_the_ranges_searched_first() -> None:
    """``has_rtl`` looks up a character's direction only where one regex finds it: a right-to-left letter outside
    those ranges would make a page's Arabic or Hebrew rows read in visual order."""
    right_to_left = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.bidirectional(chr(c)) in ("R", "AL")]
    assert len(right_to_left) > 1000
    assert [c for c in right_to_left if not RTL_RANGES.match(c)] == []
    assert has_rtl("abc \u200f") and has_rtl("x \u05d0") and not has_rtl("abc \u0600\u0660")  # mark, alef, not digits


def test_presentation_forms_and_visual_order_ligatures_are_repaired() -> None:
    assert normalise_forms("اﳋﻄﻮط") == "الخطوط"  # lam-khah ligature spelled out in logical order
    assert normalise_forms("ﬁnal") == "final" and normalise_forms("plain") == "plain"
    # the article and a lam-alef ligature whose font maps it in visual order: "األولويات" for "الأولويات"
    broken = "تايولولأا"  # as seen, left to right, with the ligature's letters swapped
    assert logical_row(glyphs_as_seen(broken), height=12.0) == "الأولويات"
    assert logical_row(glyphs_as_seen("فلأ"), height=12.0) == "ألف"  # a word that starts with alef-lam is kept


def test_vowel_marks_stay_on_their_letters() -> None:
    # "كَتَبَ": each fatha has no width and sits at its letter's left edge; the PDF stores it after its letter
    stored = [
        Glyph(20, 25, "ك", 0), Glyph(20, 20, "\u064e", 0), Glyph(10, 15, "ت", 0),
        Glyph(10, 10, "\u064e", 0), Glyph(0, 5, "ب", 0), Glyph(0, 0, "\u064e", 0),
    ]  # fmt: skip
    assert logical_row(stored, height=12.0) == "كَتَبَ"


def test_arabic_turned_a_quarter_keeps_the_order_mupdf_reads() -> None:
    """A line written down the page has no left-to-right glyph order to rebuild: its text stays MuPDF's."""
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=300)
    page.insert_htmlbox(pymupdf.Rect(20, 40, 60, 280), '<p dir="rtl">مرحبا بالعالم</p>', rotate=90)
    (line,) = extract_text_layer(page, max_primitives=100).lines
    assert line.vertical == -1 and line.text.startswith("مرحبا")


def test_glyphs_without_places_are_not_reordered() -> None:
    stacked = [Glyph(70.0, 70.0, c, 0) for c in "حبيبي"]  # ActualText: every character at one point
    assert not placed(stacked) and placed(glyphs_as_seen("يبيبح"))
    assert mostly_rtl("حبيبي حبيبي habibi") and not mostly_rtl("habibi and more latin حبيبي")


def one_glyph_lines(text: str, left: float, top: float, size: float = 9.0) -> list[TextLine]:
    return [
        TextLine(BBox(l=left, t=top + i * size, r=left + size, b=top + (i + 1) * size), c, size=size, vertical=1)
        for i, c in enumerate(text)
    ]


def test_vertical_columns_are_joined_and_read_from_the_right() -> None:
    right, left = one_glyph_lines("あいうえお", 229, 30), one_glyph_lines("日本語", 214, 30)
    cols = columns(random.Random(3).sample(left + right, len(left + right)))
    assert [c.text for c in cols] == ["あいうえお", "日本語"]
    # one block a column, as MuPDF gives them: one passage
    (block,) = join_vertical_blocks([TextBlock(BBox(l=229, t=30, r=238, b=75), tuple(right)),
                                     TextBlock(BBox(l=214, t=30, r=223, b=57), tuple(left))])  # fmt: skip
    assert [ln.text for ln in block.lines] == ["あいうえお", "日本語"]
    (merged,) = merge_page([block], text_source=Source.TEXT_LAYER, text_model=TEXT_LAYER_MODEL, regions=None)
    assert merged.text == "あいうえお日本語"  # Japanese runs on across a column break, no space
    # a gap down a column longer than 1.5 glyphs starts another passage of it
    assert [c.text for c in columns(one_glyph_lines("上", 100, 10) + one_glyph_lines("下", 100, 60))] == ["上", "下"]


def test_join_pieces_puts_spaces_between_words_not_between_chinese_characters() -> None:
    assert join_pieces(["主体信用", "评级", "AA+", "rating", "2023", "年度"]) == "主体信用评级 AA+ rating 2023 年度"


def test_text_turned_a_quarter_left_reads_line_by_line_from_the_left() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=400)
    page.insert_text((100, 300), "First line of turned text", rotate=90, fontsize=11)
    page.insert_text((115, 300), "and the second line after it", rotate=90, fontsize=11)
    layer = extract_text_layer(page, max_primitives=1000)
    blocks = merge_page(list(layer.blocks), text_source=Source.TEXT_LAYER, text_model=TEXT_LAYER_MODEL, regions=None)
    assert [b.text for b in blocks] == ["First line of turned text and the second line after it"]


def draft(text: str, top: float, block_type: BlockType = BlockType.TEXT) -> DraftBlock:
    return DraftBlock(block_type, BBox(l=60, t=top, r=300, b=top + 14), text, Source.TEXT_LAYER, "pymupdf", 1.0)


def test_a_page_whose_only_text_sits_where_running_heads_do_keeps_it_in_the_body() -> None:
    lone = [(n, 842.0, [draft("habibi", 62.0)]) for n in (1, 2, 3)]  # the same line atop every page, nothing else
    assert all(d.type is BlockType.TEXT for d in decide(lone).values())
    framed = [(n, 842.0, [draft("Journal of Tests", 20.0), draft("Body text " * 20, 300.0)]) for n in (1, 2, 3)]
    decided = decide(framed)
    assert [decided[key].type for key in sorted(decided)] == [BlockType.PAGE_HEADER, BlockType.TEXT] * 3
    plate = [(1, 842.0, [draft("Journal of Tests", 20.0), draft("", 200.0, BlockType.FIGURE)])]  # a figure's page
    assert decide(plate)[(1, 0)].type is BlockType.PAGE_HEADER
    number = [(1, 842.0, [draft("xiv", 820.0)])]  # a bare page number stays furniture
    assert decide(number)[(1, 0)].type is BlockType.PAGE_FOOTER


@pytest.mark.parametrize(
    ("chars", "images", "paths", "kind"),
    [
        (8, 0.0, 0.02, PageKind.DIGITAL),  # eight characters of Japanese and a rule: a page of text
        (0, 0.0, 0.5, PageKind.SCANNED),  # no text layer, drawn content: outlined text, read by OCR
        (3, 0.0, 0.4, PageKind.SCANNED),  # a page number in text, the page's body drawn as outlines
        (5, 0.9, 0.0, PageKind.SCANNED),  # a scan with a stray page number in its text layer
        (0, 0.0, 0.0, PageKind.EMPTY),
    ],
)
def test_a_page_of_a_few_words_without_a_picture_is_digital(
    chars: int, images: float, paths: float, kind: PageKind
) -> None:
    assert classify_page(text_layer(chars=chars, image_coverage=images, vector_coverage=paths)) is kind
