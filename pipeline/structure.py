"""Document structure over the whole document: the title, heading levels, list markers, captions and
footnotes tied to what they describe, tables continued across pages, list groups and the section tree.

Decisions on drafts (``decide``) come before ids exist; links between built blocks (``link``) after.
- **Furniture**: page headers/footers the layout model labelled, plus short lines wholly inside the top or
  bottom 6 % of a page (running heads, page numbers) or repeated, digits aside, near the top/bottom of three
  or more pages; they leave the body's reading order.
- **Title**: a block the layout model labelled Title; else, on the first converted page, a header-like block
  in the top 40 % of the page set larger than every other heading of the document (and ≥ 1.3× body text).
  At most one title: further Title labels become level-1 headings.
- **Heading levels**: numbering first (``2`` / ``2.1`` / ``2.1.3``, also ``A.1``, ``IV.``), its depth is the
  level; otherwise the rank of the heading's font size among the document's distinct heading sizes
  (largest = 1), clamped to 1…6.
- **List items**: the printed marker (``•``, ``3.``, ``a)``, ``(iv)``) is split off the text into ``marker``.
- **Captions / footnotes**: text typed as text or heading that starts like a caption ('Table 2', 'Fig. 3',
  '[표 1]') right above or below a table or figure is a caption; a caption belongs to the nearest table or
  figure above or below it on its page that overlaps it horizontally (a ``Table …`` caption prefers a table,
  ``Figure``/``Fig.`` a figure); a footnote right below a table belongs to it.
- **Continued tables**: the last body block of a page and the first of the next are both tables with the same
  number of columns → a ``continues`` edge (the blocks stay per page: each keeps its page's provenance and
  status; exporters join them).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.geometry import BBox
from pipeline.graph import (
    Block,
    BlockType,
    Edge,
    EdgeKind,
    Figure,
    Group,
    GroupKind,
    ListItem,
    SectionHeader,
    Source,
    Table,
)
from pipeline.merge import DraftBlock

TITLE_TOP_SHARE = 0.4
TITLE_SIZE_RATIO = 1.3
HEADER_LIKE = frozenset({BlockType.SECTION_HEADER, BlockType.TITLE, BlockType.TEXT})
FURNITURE_BAND = 0.06  # share of the page height at the top and bottom where short lines are furniture
REPEAT_BAND = 0.12  # a short line repeated near the top/bottom of REPEAT_PAGES pages is furniture too
REPEAT_PAGES = 3
FURNITURE_MAX_CHARS = 120
ROMAN_NUMERAL = re.compile(  # a page number in the front matter (xiv), not a word made of the same letters
    r"(?=[mdclxvi])m{0,3}(c[md]|d?c{0,3})(x[cl]|l?x{0,3})(i[xv]|v?i{0,3})", re.IGNORECASE
)
FURNITURE_CANDIDATES = frozenset({BlockType.TEXT, BlockType.SECTION_HEADER, BlockType.TITLE, BlockType.FOOTNOTE})
CAPTION_GAP = 36.0  # points between a caption and its table/figure, at most
CAPTION_MAX_CHARS = 800
_CAPTION_PREFIX = re.compile(r"^\s*[\[(]?\s*(?:table|tab\.|figure|fig\.?|chart|exhibit|표|그림|图|表)\s*[\dIVX]", re.I)
FOOTNOTE_GAP = 24.0

_NUMBERING = re.compile(r"^\s*(\d{1,3}(?:\.\d{1,3})*|[A-Z](?:\.\d{1,3})+)(?:\.|\)|\s)\s*\S")
_ROMAN = re.compile(r"^\s*([IVXLC]{1,6})\.\s+\S")
_MARKER = re.compile(
    r"^\s*(?P<m>[•·\-\*–—◦▪●○■□➢►✓]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxIVX]{1,5}[.)])\s+(?P<rest>\S.*)$", re.S
)


@dataclass(frozen=True, slots=True)
class Decision:
    """What ``decide`` settled for one draft."""

    type: BlockType
    text: str
    level: int | None = None
    marker: str = ""
    enumerated: bool = False


def heading_level_from_numbering(text: str) -> int | None:
    match = _NUMBERING.match(text)
    if match:
        return min(6, match.group(1).count(".") + 1)
    if _ROMAN.match(text):
        return 1
    return None


def split_marker(text: str) -> tuple[str, str, bool]:
    """(marker, text without it, enumerated); no marker → ('', text, False)."""
    match = _MARKER.match(text)
    if not match:
        return "", text, False
    marker = match.group("m")
    return marker, match.group("rest").strip(), any(ch.isalnum() for ch in marker)


def decide(pages: Sequence[tuple[int, float, list[DraftBlock]]]) -> dict[tuple[int, int], Decision]:
    """Per (page_no, index in the page's blocks): type, text, level and marker. ``pages`` are
    (page_no, page height in content points, drafts in reading order), in page order."""
    furniture = _furniture(pages)
    pages_by_no = {p: blocks for p, _, blocks in pages}
    drafts = [(p, i, d, h) for p, h, blocks in pages for i, d in enumerate(blocks) if (p, i) not in furniture]
    # sizes compare within one source only: the text layer's are font sizes, OCR's are line heights
    body: dict[Source, float] = {}
    heading_sizes: dict[Source, list[float]] = {}
    for source in {d.source for _, _, d, _ in drafts}:
        sizes = [d.size for _, _, d, _ in drafts if d.source is source and d.type is BlockType.TEXT and d.size > 0]
        body[source] = statistics.median(sizes) if sizes else 0.0
        heads = {
            round(d.size, 1)
            for _, _, d, _ in drafts
            if d.source is source and d.type is BlockType.SECTION_HEADER and d.size > 0
        }
        heading_sizes[source] = sorted(heads, reverse=True)
    title = _find_title(drafts, body)
    out: dict[tuple[int, int], Decision] = {
        key: Decision(kind, pages_by_no[key[0]][key[1]].text) for key, kind in furniture.items()
    }
    captions = _captions_by_prefix(pages, furniture)
    for page_no, index, draft, _ in drafts:
        key = (page_no, index)
        kind, text = draft.type, draft.text
        if key in captions:
            out[key] = Decision(BlockType.CAPTION, text)
        elif key == title:
            out[key] = Decision(BlockType.TITLE, text)
        elif kind in (BlockType.SECTION_HEADER, BlockType.TITLE):
            level = heading_level_from_numbering(text)
            if level is None and kind is BlockType.TITLE:
                level = 1
            if level is None:
                ranks = heading_sizes.get(draft.source, [])
                rank = ranks.index(round(draft.size, 1)) if round(draft.size, 1) in ranks else 1
                level = min(6, rank + 1)
            out[key] = Decision(BlockType.SECTION_HEADER, text, level=level)
        elif kind is BlockType.LIST_ITEM:
            marker, rest, enumerated = split_marker(text)
            out[key] = Decision(kind, rest, marker=marker, enumerated=enumerated)
        else:
            out[key] = Decision(kind, text)
    return out


def _furniture(pages: Sequence[tuple[int, float, list[DraftBlock]]]) -> dict[tuple[int, int], BlockType]:
    """Page headers and footers: what the layout model labelled so, and short text-like blocks that sit wholly
    in the top or bottom ``FURNITURE_BAND`` of a page (running heads, page numbers, journal lines), or that
    repeat (digits aside) near the top or bottom of several pages."""
    found: dict[tuple[int, int], BlockType] = {}
    seen: dict[str, list[tuple[int, int, BlockType]]] = {}
    for page_no, height, blocks in pages:
        for index, d in enumerate(blocks):
            if d.type in (BlockType.PAGE_HEADER, BlockType.PAGE_FOOTER):
                found[(page_no, index)] = d.type
                continue
            if d.type not in FURNITURE_CANDIDATES or not d.text.strip() or len(d.text) > FURNITURE_MAX_CHARS:
                continue
            kind = (
                BlockType.PAGE_HEADER
                if d.bbox.b <= FURNITURE_BAND * height
                else BlockType.PAGE_FOOTER
                if d.bbox.t >= (1 - FURNITURE_BAND) * height
                else None
            )
            if kind is not None:
                found[(page_no, index)] = kind
            elif d.type in (BlockType.TEXT, BlockType.FOOTNOTE) and (
                d.bbox.b <= REPEAT_BAND * height or d.bbox.t >= (1 - REPEAT_BAND) * height
            ):  # headings that repeat ('Section 3' atop each page) are not running heads
                top = d.bbox.b <= REPEAT_BAND * height
                key = re.sub(r"\d+", "#", " ".join(d.text.lower().split()))
                seen.setdefault(key, []).append(
                    (page_no, index, BlockType.PAGE_HEADER if top else BlockType.PAGE_FOOTER)
                )
    for places in seen.values():
        if len({p for p, _, _ in places}) >= REPEAT_PAGES:
            found |= {(p, i): kind for p, i, kind in places}
    return _keep_lone_text(pages, found)


def _keep_lone_text(
    pages: Sequence[tuple[int, float, list[DraftBlock]]], found: dict[tuple[int, int], BlockType]
) -> dict[tuple[int, int], BlockType]:
    """Headers and footers frame a page's body: on a page with no body besides them (no other text, figure or
    table: a one-line page, a title card, the same word on every page), their words are the body and stay in it;
    a bare page number stays furniture."""
    for page_no, _, blocks in pages:
        content = [i for i, d in enumerate(blocks) if d.text.strip() or d.type in (BlockType.FIGURE, BlockType.TABLE)]
        if not content or any((page_no, i) not in found for i in content):
            continue
        for i in content:
            text = blocks[i].text.strip()
            if re.search(r"[^\W\d_]", text) and not ROMAN_NUMERAL.fullmatch(text):
                del found[(page_no, i)]
    return found


def _captions_by_prefix(
    pages: Sequence[tuple[int, float, list[DraftBlock]]], furniture: dict[tuple[int, int], BlockType]
) -> set[tuple[int, int]]:
    """Text the layout model typed as text or heading that starts like a caption ('Table 2', 'Fig. 3', '[표 1]',
    '图 4') and sits right above or below a table or figure on its page."""
    found: set[tuple[int, int]] = set()
    for page_no, _, blocks in pages:
        targets = [d.bbox for d in blocks if d.type in (BlockType.TABLE, BlockType.FIGURE)]
        for index, d in enumerate(blocks):
            if (
                (page_no, index) not in furniture
                and d.type in (BlockType.TEXT, BlockType.SECTION_HEADER)
                and len(d.text) <= CAPTION_MAX_CHARS
                and _CAPTION_PREFIX.match(d.text)
                and any(_vertical_gap(d.bbox, t) <= CAPTION_GAP and _overlaps_horizontally(d.bbox, t) for t in targets)
            ):
                found.add((page_no, index))
    return found


def _find_title(
    drafts: list[tuple[int, int, DraftBlock, float]], body_size: dict[Source, float]
) -> tuple[int, int] | None:
    labelled = [(p, i) for p, i, d, _ in drafts if d.type is BlockType.TITLE]
    if labelled:
        return labelled[0]
    if not drafts:
        return None
    first = drafts[0][0]
    candidates = [
        (d.size, -i, (p, i))
        for p, i, d, h in drafts
        if p == first
        and d.type in HEADER_LIKE
        and d.text.strip()
        and len(d.text) <= 200
        and d.bbox.t <= TITLE_TOP_SHARE * h
    ]
    if not candidates:
        return None
    size, _, key = max(candidates)
    source = next(d.source for p, i, d, _ in drafts if (p, i) == key)
    body = body_size.get(source, 0.0)
    others = [
        d.size
        for p, i, d, _ in drafts
        if (p, i) != key and d.source is source and d.type in (BlockType.SECTION_HEADER, BlockType.TEXT)
    ]
    if body > 0 and size >= TITLE_SIZE_RATIO * body and all(size > o for o in others):
        return key
    return None


def link(blocks: list[Block], pages: list[list[str]]) -> tuple[list[Edge], list[Group], list[str]]:
    """Edges (caption_of, footnote_of, continues), groups (lists, sections) and the body's top level, from
    built blocks; ``pages`` are each page's body refs in reading order. Sets tables' and figures' caption and
    footnote refs in place."""
    by_ref = {b.id: b for b in blocks}
    edges: list[Edge] = []
    for refs in pages:
        page = [by_ref[r] for r in refs]
        edges += _captions(page)
        edges += _footnotes(page)
    for before, after in itertools.pairwise(pages):
        if before and after:
            last, first = by_ref[before[-1]], by_ref[after[0]]
            if (
                isinstance(last, Table)
                and isinstance(first, Table)
                and last.num_cols > 0
                and last.num_cols == first.num_cols
                and first.page_no == last.page_no + 1
            ):
                edges.append(Edge(kind=EdgeKind.CONTINUES, source=last.id, target=first.id))
    groups, body = _tree([by_ref[r] for refs in pages for r in refs])
    return edges, groups, body


def _vertical_gap(a: BBox, b: BBox) -> float:
    return max(b.t - a.b, a.t - b.b, 0.0)


def _overlaps_horizontally(a: BBox, b: BBox) -> bool:
    return min(a.r, b.r) - max(a.l, b.l) > 0.2 * min(a.width, b.width)


def _captions(page: list[Block]) -> list[Edge]:
    edges: list[Edge] = []
    targets = [b for b in page if isinstance(b, Table | Figure)]
    taken: set[str] = set()
    for caption in (b for b in page if b.type is BlockType.CAPTION):
        head = caption.text.strip().lower()
        prefer: type[Table] | type[Figure] | None = (
            Table if head.startswith(("table", "tab.")) else Figure if head.startswith(("fig", "figure")) else None
        )
        near = [
            (not isinstance(t, prefer) if prefer else False, _vertical_gap(caption.bbox, t.bbox), t)
            for t in targets
            if t.id not in taken
            and _overlaps_horizontally(caption.bbox, t.bbox)
            and _vertical_gap(caption.bbox, t.bbox) <= CAPTION_GAP
        ]
        if not near:
            continue
        _, _, target = min(near, key=lambda n: (n[0], n[1]))
        taken.add(target.id)
        target.caption = caption.id
        edges.append(Edge(kind=EdgeKind.CAPTION_OF, source=caption.id, target=target.id))
    return edges


def _footnotes(page: list[Block]) -> list[Edge]:
    edges: list[Edge] = []
    tables = [b for b in page if isinstance(b, Table)]
    for note in (b for b in page if b.type is BlockType.FOOTNOTE):
        below = [
            (note.bbox.t - t.bbox.b, t)
            for t in tables
            if 0 <= note.bbox.t - t.bbox.b <= FOOTNOTE_GAP and _overlaps_horizontally(note.bbox, t.bbox)
        ]
        if below:
            _, table = min(below, key=lambda n: n[0])
            table.footnotes.append(note.id)
            edges.append(Edge(kind=EdgeKind.FOOTNOTE_OF, source=note.id, target=table.id))
    return edges


def _tree(body_blocks: list[Block]) -> tuple[list[Group], list[str]]:
    """Sections (a heading holds what follows it up to the next heading of the same or a higher level) and
    list groups (consecutive list items), over the body in reading order."""
    groups: list[Group] = []
    top: list[str] = []
    stack: list[tuple[int, Group]] = []
    open_list: Group | None = None

    def container() -> list[str]:
        return stack[-1][1].children if stack else top

    for block in body_blocks:
        if isinstance(block, ListItem):
            if open_list is None:
                open_list = Group(id=f"#/groups/{len(groups)}", kind=GroupKind.LIST, children=[])
                groups.append(open_list)
                container().append(open_list.id)
            open_list.children.append(block.id)
            continue
        open_list = None
        if isinstance(block, SectionHeader):
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            section = Group(
                id=f"#/groups/{len(groups)}",
                kind=GroupKind.SECTION,
                heading=block.id,
                level=block.level,
                children=[block.id],
            )
            groups.append(section)
            container().append(section.id)
            stack.append((block.level, section))
            continue
        container().append(block.id)
    return groups, top
