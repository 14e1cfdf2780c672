"""HTML export: a semantic, self-contained page — ``h1``–``h6``, ``p``, ``ul``/``ol`` per list group,
``table`` with ``th``/``td`` and ``rowspan``/``colspan``, ``figure``/``figcaption``, formulas in
``<div class="formula">``; each page a ``<section>``; page headers/footers left out (``furniture=True``:
``<header>``/``<footer>``). Every text goes through ``html.escape``: nothing from a PDF becomes markup."""

from __future__ import annotations

from html import escape

from pipeline.graph import (
    Block,
    BlockType,
    DocumentGraph,
    EdgeKind,
    Formula,
    GroupKind,
    ListItem,
    SectionHeader,
    Table,
)


class HtmlSerializer:
    def __init__(self, *, furniture: bool = False) -> None:
        self.furniture = furniture

    def serialize(self, graph: DocumentGraph) -> str:
        captions = {e.source for e in graph.edges if e.kind is EdgeKind.CAPTION_OF}
        list_of = {c: g for g in graph.groups if g.kind is GroupKind.LIST for c in g.children}
        title = escape(graph.document.title or graph.document.filename or "document")
        out = [
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8">',
            f"<title>{title}</title></head><body>",
        ]
        for page in graph.pages:
            out.append(f'<section class="page" data-page="{page.page_no}">')
            furniture = graph.page_furniture(page.page_no) if self.furniture else []
            out += [f"<header>{escape(b.text)}</header>" for b in furniture if b.type is BlockType.PAGE_HEADER]
            open_list: str | None = None
            out_list_ordered = False
            for block in graph.page_blocks(page.page_no):
                group = list_of.get(block.id)
                if open_list is not None and (group is None or group.id != open_list):
                    out.append("</ol>" if out_list_ordered else "</ul>")
                    open_list = None
                if group is not None and open_list is None:
                    out_list_ordered = isinstance(block, ListItem) and block.enumerated
                    out.append("<ol>" if out_list_ordered else "<ul>")
                    open_list = group.id
                if block.id in captions:
                    continue  # inside its figure/table
                out.append(self.block(block, graph))
            if open_list is not None:
                out.append("</ol>" if out_list_ordered else "</ul>")
            out += [f"<footer>{escape(b.text)}</footer>" for b in furniture if b.type is BlockType.PAGE_FOOTER]
            out.append("</section>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    @staticmethod
    def block(block: Block, graph: DocumentGraph) -> str:  # noqa: PLR0911 - one return per block type
        text = escape(block.text.strip())
        caption = getattr(block, "caption", None)
        caption_html = f"<figcaption>{escape(graph.block(caption).text.strip())}</figcaption>" if caption else ""
        if isinstance(block, SectionHeader):
            level = min(6, block.level + 1)
            return f"<h{level}>{text}</h{level}>"
        if isinstance(block, ListItem):
            return f"<li>{text}</li>"
        if isinstance(block, Table):
            return f"<figure>{_table(block)}{caption_html}</figure>" if caption_html else _table(block)
        if isinstance(block, Formula):
            return f'<div class="formula">{escape(block.latex) if block.latex else text}</div>'
        match block.type:
            case BlockType.TITLE:
                return f"<h1>{text}</h1>"
            case BlockType.FIGURE:
                return f"<figure>{f'<p>{text}</p>' if text else ''}{caption_html}</figure>"
            case BlockType.CAPTION:
                return f"<p><em>{text}</em></p>"
            case BlockType.CODE:
                return f"<pre><code>{text}</code></pre>"
            case BlockType.FOOTNOTE:
                return f'<aside class="footnote">{text}</aside>'
            case _:
                return f"<p>{text}</p>" if text else ""


def _table(table: Table) -> str:
    if not table.cells:
        return f"<table><tr><td>{escape(table.text)}</td></tr></table>"
    rows: list[list[str]] = [[] for _ in range(table.num_rows)]
    for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
        tag = "th" if cell.column_header or cell.row_header else "td"
        spans = (f' rowspan="{cell.row_span}"' if cell.row_span > 1 else "") + (
            f' colspan="{cell.col_span}"' if cell.col_span > 1 else ""
        )
        rows[cell.row].append(f"<{tag}{spans}>{escape(cell.text)}</{tag}>")
    return "<table>" + "".join(f"<tr>{''.join(r)}</tr>" for r in rows) + "</table>"
