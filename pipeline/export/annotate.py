"""Annotated page images: the page as displayed with every block's box drawn and labelled.

Drawn with Pillow's own font (ultralytics' plotting may try to download one).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from pipeline.graph import BlockType, ContentLayer, DocumentGraph, Table

COLORS: dict[BlockType, tuple[int, int, int]] = {
    BlockType.TITLE: (214, 39, 40),
    BlockType.SECTION_HEADER: (255, 127, 14),
    BlockType.TEXT: (31, 119, 180),
    BlockType.LIST_ITEM: (23, 190, 207),
    BlockType.TABLE: (44, 160, 44),
    BlockType.FIGURE: (148, 103, 189),
    BlockType.CAPTION: (140, 86, 75),
    BlockType.FORMULA: (227, 119, 194),
    BlockType.PAGE_HEADER: (127, 127, 127),
    BlockType.PAGE_FOOTER: (127, 127, 127),
    BlockType.FOOTNOTE: (188, 189, 34),
    BlockType.CODE: (99, 99, 99),
}


class AnnotatedPageRenderer:
    def render(self, graph: DocumentGraph, page_no: int, page_png: bytes, zoom: float) -> bytes:
        """Draw ``graph``'s blocks of ``page_no`` on the displayed page image rendered at ``zoom``."""
        image = Image.open(io.BytesIO(page_png)).convert("RGB")
        draw = ImageDraw.Draw(image, "RGBA")
        font = ImageFont.load_default(size=max(10, int(7 * zoom)))
        width = max(1, int(zoom))
        for block in [*graph.page_blocks(page_no), *graph.page_furniture(page_no)]:
            color = COLORS.get(block.type, (0, 0, 0))
            box = (block.bbox.l * zoom, block.bbox.t * zoom, block.bbox.r * zoom, block.bbox.b * zoom)
            draw.rectangle(box, outline=(*color, 255), fill=(*color, 28), width=width)
            if isinstance(block, Table):  # its cells, thin
                for cell in block.cells:
                    c = cell.bbox
                    if c is None:
                        continue
                    draw.rectangle((c.l * zoom, c.t * zoom, c.r * zoom, c.b * zoom), outline=(*color, 160), width=1)
            furniture = block.content_layer is ContentLayer.FURNITURE
            label = f"{'F' if furniture else block.order} {block.type.value} {block.confidence:.2f}"
            tl = draw.textbbox((box[0], box[1]), label, font=font)
            ty = max(0.0, box[1] - (tl[3] - tl[1]) - 2)
            draw.rectangle((box[0], ty, box[0] + (tl[2] - tl[0]) + 4, ty + (tl[3] - tl[1]) + 2), fill=(*color, 220))
            draw.text((box[0] + 2, ty), label, fill=(255, 255, 255), font=font)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()
