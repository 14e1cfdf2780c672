"""Markdown export: body blocks in reading order, pages joined by a '---' line.

- headings as ``#`` × (level + 1) (the title is the only ``#``), list items with their own marker;
- tables as GFM pipe tables with the header separator row, a spanning cell's text repeated in every column
  and row it covers (what a grid reader expects; the JSON keeps the spans); ``|`` in cells escaped; a table
  continued on the next page (a ``continues`` edge) is written once, its rows joined;
- a caption right after its table or figure, wherever the reading order put it;
- a figure's text: what the text layer has inside it, and what OCR read inside an uncaptioned picture (a banner,
  a logo, a slide title: words of the page's text); what OCR read inside a captioned picture (an illustration:
  a chart's ticks, a map's labels) stays in the graph, HTML and DoclingDocument, out of the Markdown flow;
- formulas as ``$$…$$`` with the LaTeX when a model gave it, else their text;
- page headers and footers are furniture and left out (``furniture=True`` puts them back, each page's
  headers before its body and footers after).
"""

from __future__ import annotations

from pipeline.graph import Block, BlockType, DocumentGraph, EdgeKind, Formula, ListItem, SectionHeader, Source, Table

PAGE_SEPARATOR = "\n\n---\n\n"


class MarkdownSerializer:
    def __init__(self, *, furniture: bool = False) -> None:
        self.furniture = furniture

    def serialize(self, graph: DocumentGraph) -> str:
        continued = {e.target: e.source for e in graph.edges if e.kind is EdgeKind.CONTINUES}
        continues = {e.source: e.target for e in graph.edges if e.kind is EdgeKind.CONTINUES}
        captions = {e.source: e.target for e in graph.edges if e.kind is EdgeKind.CAPTION_OF}
        pages = []
        for page in graph.pages:
            parts: list[str] = []
            for block in graph.page_blocks(page.page_no):
                if block.id in captions or block.id in continued:
                    continue  # written with its table/figure; joined into the table it continues
                if isinstance(block, Table):
                    rows = block.grid()
                    ref = block.id
                    while ref in continues:  # rows of its continuations (their header row repeated: skipped)
                        nxt = graph.block(continues[ref])
                        assert isinstance(nxt, Table)
                        more = nxt.grid()
                        rows += more[1:] if more and rows and more[0] == rows[0] else more
                        ref = nxt.id
                    parts.append(_table(block, rows))
                else:
                    parts.append(self.block(block))
                caption = getattr(block, "caption", None)
                if caption is not None:
                    parts.append(self.block(graph.block(caption)))
            if self.furniture:
                furniture = graph.page_furniture(page.page_no)
                heads = [self.block(b) for b in furniture if b.type is BlockType.PAGE_HEADER]
                feet = [self.block(b) for b in furniture if b.type is BlockType.PAGE_FOOTER]
                parts = heads + parts + feet
            pages.append("\n\n".join(p for p in parts if p))
        return PAGE_SEPARATOR.join(pages).strip() + "\n"

    @staticmethod
    def block(block: Block) -> str:  # noqa: PLR0911 - one return per block type
        text = block.text.strip()
        if isinstance(block, SectionHeader):
            return f"{'#' * min(6, block.level + 1)} {_one_line(text)}" if text else ""
        if isinstance(block, ListItem):
            marker = block.marker if block.enumerated else "-"
            return f"{marker} {_one_line(text)}" if text else ""
        if isinstance(block, Formula):
            body = block.latex or text
            return f"$$\n{body}\n$$" if body else ""
        if isinstance(block, Table):
            return _table(block, block.grid())
        match block.type:
            case BlockType.TITLE:
                return f"# {_one_line(text)}" if text else ""
            case BlockType.CAPTION:
                return f"*{_one_line(text)}*" if text else ""
            case BlockType.CODE:
                return f"```\n{text}\n```" if text else ""
            case BlockType.FIGURE:
                if block.source is Source.OCR and getattr(block, "caption", None) is not None:
                    return ""  # read inside a captioned picture (a chart's ticks, a map's labels): graph and HTML only
                return text
            case _:
                return text


def _cell(text: str) -> str:
    return _one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def _table(block: Table, rows: list[list[str]]) -> str:
    """A GFM pipe table; a table whose structure could not be read keeps its text, one row per line."""
    if not rows or block.num_cols == 0:
        return block.text.strip()
    width = max(len(r) for r in rows)
    lines = ["| " + " | ".join(_cell(c) for c in row + [""] * (width - len(row))) + " |" for row in rows]
    separator = "|" + "|".join(["---"] * width) + "|"
    return "\n".join([lines[0], separator, *lines[1:]])


def _one_line(text: str) -> str:
    return " ".join(text.split())
