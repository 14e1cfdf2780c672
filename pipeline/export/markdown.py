"""Markdown export: blocks in reading order, pages joined by a '---' line (the seeds' convention).

Page headers and footers are furniture and left out, as docling does; every other block is kept.
"""

from __future__ import annotations

from pipeline.graph import Block, BlockType, DocumentGraph

PAGE_SEPARATOR = "\n\n---\n\n"
FURNITURE = frozenset({BlockType.PAGE_HEADER, BlockType.PAGE_FOOTER})


class MarkdownSerializer:
    def serialize(self, graph: DocumentGraph) -> str:
        pages = []
        for page in graph.pages:
            parts = [self.block(b) for b in graph.page_blocks(page.page_no) if b.type not in FURNITURE]
            pages.append("\n\n".join(p for p in parts if p))
        return PAGE_SEPARATOR.join(pages).strip() + "\n"

    @staticmethod
    def block(block: Block) -> str:  # noqa: PLR0911 - one return per block type
        text = block.text.strip()
        match block.type:
            case BlockType.TITLE:
                return f"# {_one_line(text)}" if text else ""
            case BlockType.SECTION_HEADER:
                return f"## {_one_line(text)}" if text else ""
            case BlockType.LIST_ITEM:
                return f"- {_one_line(text.lstrip('•·-*– ').strip())}" if text else ""
            case BlockType.FORMULA:
                return f"$$\n{text}\n$$" if text else ""
            case BlockType.CAPTION:
                return f"*{_one_line(text)}*" if text else ""
            case BlockType.FIGURE:
                return f"<!-- figure -->\n{text}".strip() if text else "<!-- figure -->"
            case BlockType.TABLE:
                return f"<!-- table -->\n{text}" if text else "<!-- table -->"
            case _:
                return text


def _one_line(text: str) -> str:
    return " ".join(text.split())
