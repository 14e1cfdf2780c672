"""Table cells for the page's table blocks: PyMuPDF's ``find_tables`` on a digital page, a model's HTML table,
or the region's lines clustered into rows and columns (``pipeline.tables``)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from pipeline.geometry import BBox
from pipeline.graph import BlockType, Source
from pipeline.merge import DraftBlock
from pipeline.page import PageGeometry, TextLayer, TextLine, turned_box
from pipeline.pagerun import PageRun
from pipeline.protocols import PageAnalysis
from pipeline.route import PagePlan
from pipeline.ruledtables import RuledTables
from pipeline.steps import Step
from pipeline.tablegrid import TableGrid
from pipeline.tables import grid_from_html, grid_from_lines

log = logging.getLogger("docgraph.pipeline")


async def read_tables(
    run: PageRun,
    tables: list[DraftBlock],
    layer: TextLayer,
    ocr_lines: list[TextLine],
    plan: PagePlan,
    ruled: RuledTables | None = None,
) -> float:
    """Cells for each table block: a ruled table of the page read before the merge (``ruled_tables``) where the
    block was added for it, else ``find_tables`` in the region on a digital page, else (or where it finds nothing) the
    region's text (text-layer or OCR lines) clustered into rows and columns. A failure leaves the table's text as
    it was and makes the page partial. Returns the seconds it took."""
    out = run.out
    t0 = time.perf_counter()
    digital = plan.text_source is Source.TEXT_LAYER
    lines = layer.lines if digital else ocr_lines
    grids: list[TableGrid | None] = [(ruled or RuledTables()).added(b.model, b.bbox) for b in tables]
    unread = [i for i, grid in enumerate(grids) if grid is None]
    if digital and unread:
        try:
            read = await run.doc.tables(out.page_no, [tables[i].bbox for i in unread])
            for i, grid in zip(unread, read, strict=True):
                grids[i] = grid
        except Exception as exc:  # noqa: BLE001 - recorded on the page; its text stays as merged
            log.warning("page %d: table structure failed: %s", out.page_no, exc)
            out.warnings.append(f"page {out.page_no}: table structure not read: {exc}")
            if out.error is None:
                out.fail(Step.TABLES, exc, fatal=False)
    for block, found in zip(tables, grids, strict=True):
        grid = found
        if grid is None and "<table" in block.text.lower():  # a model's HTML table (DeepSeek-OCR)
            grid = grid_from_html(block.text, block.bbox)
        if grid is None:
            inside = [ln for ln in lines if block.bbox.intersection(ln.bbox) >= 0.5 * max(ln.bbox.area, 1e-6)]
            grid = grid_along(inside, plan.turns, out.geometry)
        if grid is not None:
            block.table = grid
            block.text = grid.text()
            block.bbox = block.bbox.union(grid.bbox)  # the table is where its cells are
    return time.perf_counter() - t0


async def ruled_tables(run: PageRun, analysis: PageAnalysis, plan: PagePlan) -> RuledTables:
    """The page's ruled tables (``pipeline.ruledtables``), where the layout model saw a table on a digital page;
    none elsewhere (no call), or where reading them failed (a warning: the model's regions stay as they are)."""
    layout = analysis.layout
    if plan.text_source is not Source.TEXT_LAYER or layout is None:
        return RuledTables()
    if not any(r.type is BlockType.TABLE for r in layout.regions):
        return RuledTables()
    run.start(Step.TABLES)  # the table step begins here, before the merge: recorded before it can fail
    t0 = time.perf_counter()
    try:
        return await run.doc.ruled_tables(run.page_no, plan.turns)
    except Exception as exc:  # noqa: BLE001 - recorded on the page; the layout's regions are merged as they are
        log.warning("page %d: ruled tables not read: %s", run.page_no, exc)
        run.out.warnings.append(f"page {run.page_no}: ruled tables not read: {exc}")
        return RuledTables()
    finally:
        run.out.timings.tables_s += time.perf_counter() - t0


def grid_along(lines: list[TextLine], turns: int, geometry: PageGeometry | None) -> TableGrid | None:
    """``grid_from_lines``, on the page turned by ``turns`` quarter turns (its text running along it: rows are
    rows as the page is read), the cells' boxes mapped back to content space."""
    if not turns or geometry is None:
        return grid_from_lines(lines)
    w, h = geometry.width, geometry.height
    w2, h2 = (h, w) if turns % 2 else (w, h)
    grid = grid_from_lines([replace(ln, bbox=turned_box(ln.bbox, turns, w, h)) for ln in lines])
    if grid is None:
        return None

    def back(box: BBox) -> BBox:
        return turned_box(box, 4 - turns, w2, h2)

    cells = tuple(replace(c, bbox=None if c.bbox is None else back(c.bbox)) for c in grid.cells)
    return replace(grid, bbox=back(grid.bbox), cells=cells)
