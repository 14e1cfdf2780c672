"""Right-to-left text layers (Arabic, Persian, Hebrew) back in logical order.

A PDF places glyphs where they are seen; the order in which MuPDF reports the characters of a right-to-left line
is not always the order they are read in: neutral characters land on the wrong side (``،وعليه`` for ``وعليه،``),
and a number splits the line into runs that a left-to-right join puts first. So a row whose text is mostly
right-to-left is rebuilt from its glyphs' positions: sorted left to right as seen, then put in logical order by
the Unicode bidirectional algorithm (python-bidi) with a right-to-left paragraph direction, which keeps numbers
and Latin runs left to right inside it.

Two repairs of what fonts map badly, each a pattern that correct text never has:
- presentation forms (U+FB00–U+FDFF, U+FE70–U+FEFE: contextual shapes and ligatures such as ``ﳋ``) become the
  letters they stand for, in logical order (NFKC, on those characters only); MuPDF's own ligature expansion
  writes a right-to-left ligature's letters in visual order (``اخلطوط`` for ``الخطوط``);
- a lam-alef ligature whose font maps it in visual order leaves two alefs in a row before the lam (``األ`` for
  ``الأ``), which Arabic spelling never has.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bidi import get_display

PRESENTATION_FORMS = re.compile("[\ufb00-\ufdff\ufe70-\ufefe]+")
LAM_ALEF_IN_VISUAL_ORDER = re.compile("\u0627([\u0623\u0625\u0622])\u0644")  # alef, alef with hamza/madda, lam
# every character of bidirectional class R or AL (right-to-left letters) lies in these ranges (the tests check it
# against unicodedata): text without them has none, found by one regex search instead of a look-up per character
RTL_RANGES = re.compile("[\u200f\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]")
PLACED = 0.9  # share of a row's letters with a width, for its glyphs' positions to say their order
WORD_GAP = 0.2  # of the line height: a gap this wide between two runs of glyphs is a space


def normalise_forms(text: str) -> str:
    """Presentation forms replaced by the letters they stand for (in logical order); other text unchanged."""
    return PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def _strong(text: str) -> tuple[int, int]:
    rtl = ltr = 0
    for c in text:
        kind = unicodedata.bidirectional(c)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return rtl, ltr


def has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in RTL_RANGES.findall(text))


def mostly_rtl(text: str) -> bool:
    """More right-to-left letters than left-to-right ones: the row is read right to left."""
    if not has_rtl(text):
        return False
    rtl, ltr = _strong(text)
    return rtl > 0 and rtl >= ltr


@dataclass(frozen=True, slots=True)
class Glyph:
    x0: float
    x1: float
    char: str
    run: int  # which of the row's runs (MuPDF lines) it came from


def placed(glyphs: list[Glyph]) -> bool:
    """Whether the glyphs' positions can be read for an order: nearly all letters have a width. Text that a PDF
    substitutes for what it draws (``/ActualText``) comes back from MuPDF with every character at one point, and is
    left in the order MuPDF gives."""
    letters = [g for g in glyphs if not g.char.isspace() and not unicodedata.combining(g.char)]
    return bool(letters) and sum(g.x1 - g.x0 > 0.01 for g in letters) >= PLACED * len(letters)


def logical_row(glyphs: list[Glyph], height: float) -> str:
    """The text of one right-to-left row from its glyphs as placed (given in the PDF's order): left to right as
    seen, a space where two runs stand apart, then the bidirectional algorithm for the order it is read in.

    A combining mark (a vowel sign, a shadda) has no width of its own and sits over its letter, so it travels with
    the letter it follows in the PDF's order; in a right-to-left letter's cluster it is written before the letter,
    so that the reversal puts it after. Spaces between the runs only: inside a run the PDF's own spaces are kept,
    since a bold Arabic font sets its words with no gap at all, and a gap threshold joined them."""
    clusters: list[list[Glyph]] = []
    for glyph in glyphs:
        if clusters and unicodedata.combining(glyph.char):
            clusters[-1].append(glyph)
        else:
            clusters.append([glyph])
    seen = sorted(clusters, key=lambda c: (c[0].x0 + c[0].x1) / 2)
    visual: list[str] = []
    for before, cluster in zip([None, *seen], seen, strict=False):
        base = cluster[0]
        if (
            before is not None
            and before[0].run != base.run
            and not before[0].char.isspace()
            and not base.char.isspace()
            and base.x0 - before[0].x1 > WORD_GAP * height
        ):
            visual.append(" ")
        marks = [g.char for g in cluster[1:]]
        rtl = unicodedata.bidirectional(base.char) in ("R", "AL")
        visual.extend([*marks[::-1], base.char] if rtl else [base.char, *marks])
    # a ligature is one glyph: it is reordered as one, and only then spelled out in logical order
    text = normalise_forms(str(get_display("".join(visual), base_dir="R")))
    text = LAM_ALEF_IN_VISUAL_ORDER.sub("\u0627\u0644\\1", text)
    return " ".join(text.split())
