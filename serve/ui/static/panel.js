// The side panel: one block's type, text, source, model, confidence and provenance; a table's cells drawn as a
// table (spans, header cells); links to the caption, footnotes or table a block is tied to.

const $ = (id) => document.getElementById(id);
const text = (tag, value, className = "") => Object.assign(document.createElement(tag), { textContent: value, className });
const box = (b) => `l ${b.l.toFixed(1)}, t ${b.t.toFixed(1)}, r ${b.r.toFixed(1)}, b ${b.b.toFixed(1)} pt`;

function cellsTable(block) {
  const table = document.createElement("table");
  table.className = "cells";
  const byRow = new Map();
  for (const cell of block.cells) {
    if (!byRow.has(cell.row)) byRow.set(cell.row, []);
    byRow.get(cell.row).push(cell);
  }
  for (let r = 0; r < block.num_rows; r++) {
    const tr = document.createElement("tr");
    for (const cell of (byRow.get(r) || []).sort((a, b) => a.col - b.col)) {
      const td = text(cell.column_header || cell.row_header ? "th" : "td", cell.text);
      if (cell.row_span > 1) td.rowSpan = cell.row_span;
      if (cell.col_span > 1) td.colSpan = cell.col_span;
      td.title = `row ${cell.row}, col ${cell.col} · ${cell.source}`;
      tr.append(td);
    }
    table.append(tr);
  }
  return table;
}

export function blockPanel(block, blocks, follow) {
  const order = block.content_layer === "body" ? `#${block.order + 1}` : block.content_layer;
  $("panel-title").textContent = `${block.type} · page ${block.page_no} · ${order}`;
  const fields = [
    ["id", block.id],
    ["type", block.type],
    ["level", block.level],
    ["marker", block.marker],
    ["source", block.source],
    ["model", block.model],
    ["confidence", block.confidence?.toFixed(3)],
    ["layer", block.content_layer],
    ["box", box(block.bbox)],
    ["table", block.num_rows !== undefined ? `${block.num_rows} × ${block.num_cols}, ${block.cells.length} cells` : null],
    ["structure", block.structure],
    ["latex", block.latex],
  ];
  const dl = $("panel-fields");
  dl.replaceChildren();
  for (const [name, value] of fields) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(text("dt", name), text("dd", String(value)));
  }
  const links = [["caption", block.caption], ...(block.footnotes || []).map((ref) => ["footnote", ref])];
  for (const other of blocks.values()) {
    if (other.caption === block.id) links.push([`caption of ${other.type}`, other.id]);
    if ((other.footnotes || []).includes(block.id)) links.push([`footnote of ${other.type}`, other.id]);
  }
  for (const [name, ref] of links) {
    if (!ref || !blocks.has(ref)) continue;
    const link = text("a", blocks.get(ref).text.slice(0, 80) || ref);
    link.href = "#";
    link.addEventListener("click", (e) => { e.preventDefault(); follow(ref); });
    const dd = document.createElement("dd");
    dd.append(link);
    dl.append(text("dt", name), dd);
  }
  const tableHost = $("panel-table");
  tableHost.replaceChildren();
  if (block.type === "table") {
    if (block.cells.length) tableHost.append(cellsTable(block));
    else tableHost.append(text("p", "the table's structure could not be read (no cells)", "muted"));
  }
  $("panel-text").textContent = block.text || "(no text)";
  $("panel-prov").replaceChildren(
    ...block.prov.map((p) => {
      const conf = p.confidence === null || p.confidence === undefined ? "" : ` · ${p.confidence.toFixed(3)}`;
      const label = p.label ? ` · label ${p.label}` : "";
      const read = p.text ? ` · read “${p.text.slice(0, 80)}”` : "";
      return text("li", `${p.source}${p.model ? ` (${p.model})` : ""}${label}${conf} · ${box(p.bbox)}${read}`);
    }),
  );
}
