// docgraph's viewer: upload a PDF or an image (PNG, JPEG, TIFF: a page per frame, WebP), see each page with the
// graph's boxes (coloured by type, numbered in reading order), the section tree, a block's details (a table's
// cells), live job progress and downloads.
// Everything the service sends is put in the page as text (textContent), never as HTML.

import { Api, ApiError } from "./api.js";
import { Options } from "./options.js";
import { blockPanel } from "./panel.js";

const SYNC_MAX_BYTES = 4 * 1024 * 1024; // "auto": larger uploads go straight to a job
const STREAM_ATTEMPTS = 5; // a job's event stream is opened again this often when it is cut
const IMAGES_AT_ONCE = 3; // page images fetched at the same time
const FINAL_STATES = new Set(["succeeded", "partially_succeeded", "failed", "cancelled"]);
const PAGE_DPI = 110;
const TYPES = [
  "title", "section_header", "text", "list_item", "table", "figure", "caption", "formula", "footnote", "code",
  "page_header", "page_footer",
];

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

class Viewer {
  constructor() {
    this.root = new URL(location.pathname.replace(/\/ui\/?$/, "/"), location.origin);
    this.api = new Api(this.root);
    this.options = new Options($("options"));
    this.doc = null; // the conversion on screen: {graph, pages: Map, blocks: Map, source}
    this.abort = null;
    this.extensions = {}; // format name -> file extension, from GET /v1/formats (the export registry)
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { rootMargin: "800px 0px" });
  }

  async start() {
    this.api.key = sessionStorage.getItem("docgraph.key") || "";
    $("api-key").value = this.api.key;
    $("api-key").addEventListener("change", () => {
      this.api.key = $("api-key").value.trim();
      sessionStorage.setItem("docgraph.key", this.api.key);
      this.loadModels();
      this.loadFormats();
    });
    $("file").addEventListener("change", () => this.chosen());
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      if (e.dataTransfer.files.length) {
        $("file").files = e.dataTransfer.files;
        this.chosen();
      }
    });
    $("upload").addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
    $("downloads").addEventListener("click", (e) => {
      const format = e.target.dataset.format;
      if (format) this.download(format);
    });
    $("panel-close").addEventListener("click", () => this.select(null));
    document.addEventListener("keydown", (e) => this.onKey(e));
    this.legend();
    try {
      const spec = await fetch(new URL("openapi.json", this.root)).then((r) => r.json());
      this.options.build(spec);
    } catch (exc) {
      this.showError(`the API description (openapi.json) could not be read: ${exc.message}`);
    }
    await Promise.all([this.loadModels(), this.loadFormats()]);
  }

  async loadFormats() {
    // one download button per format the service exports (the zip bundle is the CLI's), as GET /v1/formats lists them
    try {
      const formats = await this.api.json("GET", "v1/formats");
      const box = $("formats");
      box.replaceChildren();
      for (const f of formats.filter((f) => f.name !== "zip")) {
        this.extensions[f.name] = f.extension;
        const button = el("button", { type: "button", textContent: f.label });
        button.dataset.format = f.name;
        box.append(button, " ");
      }
    } catch (exc) {
      if (!(exc instanceof ApiError && exc.status === 401)) this.showError(`formats: ${exc.message}`);
    }
  }

  async loadModels() {
    try {
      const models = await this.api.json("GET", "v1/models");
      this.options.deepseek(models.some((m) => /deepseek/i.test(m.name)));
      $("key-field").classList.remove("needed");
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) $("key-field").classList.add("needed");
    }
  }

  chosen() {
    const file = $("file").files[0];
    $("password").value = ""; // a password belongs to the file it was typed for
    $("file-name").textContent = file ? `${file.name} (${(file.size / 1024).toFixed(0)} KiB)` : "Choose or drop a PDF or an image";
  }

  legend() {
    const list = $("legend");
    for (const type of TYPES) list.append(el("li", {}, el("span", { className: `swatch t-${type}` }), type));
  }

  showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  setProgress(text, done = null, total = null) {
    $("progress").textContent = text;
    const bar = $("progress-bar");
    bar.hidden = total === null;
    if (total !== null) {
      bar.max = Math.max(total, 1);
      bar.value = done;
    }
  }

  // --- running a conversion -------------------------------------------------------------------------------

  async run() {
    const file = $("file").files[0];
    if (!file) return this.showError("choose a PDF or an image first");
    this.abort?.abort();
    this.abort = new AbortController();
    this.showError("");
    this.reset();
    const params = this.options.values();
    const password = $("password").value;
    const mode = $("mode").value;
    $("run").disabled = true;
    try {
      if (mode === "convert" || (mode === "auto" && file.size <= SYNC_MAX_BYTES)) {
        try {
          await this.convert(file, params, password);
          return;
        } catch (exc) {
          if (!(exc instanceof ApiError && exc.code === "use_jobs" && mode === "auto")) throw exc;
        }
      }
      await this.job(file, params, password);
    } catch (exc) {
      if (exc.name === "AbortError") return;
      this.setProgress("");
      this.showError(exc instanceof ApiError ? exc.describe() : String(exc));
    } finally {
      $("run").disabled = false;
    }
  }

  form(file, password) {
    const body = new FormData();
    body.append("file", file, file.name);
    if (password) body.append("password", password);
    return body;
  }

  async convert(file, params, password) {
    this.setProgress(`converting ${file.name}…`);
    const started = performance.now();
    const graph = await this.api.json("POST", "v1/convert", {
      params: { ...params, format: "json" },
      body: this.form(file, password),
      signal: this.abort.signal,
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.setProgress(`converted ${graph.pages.length} page(s) in ${seconds} s`);
    this.show(graph, { kind: "upload", file, params, password });
  }

  async job(file, params, password) {
    this.setProgress(`uploading ${file.name}…`);
    const accepted = await this.api.json("POST", "v1/jobs", {
      params,
      body: this.form(file, password),
      signal: this.abort.signal,
    });
    // An encrypted PDF's password is dropped when its job ends: its page images then come from the upload
    // (POST /v1/render with the password), which the source keeps for that.
    this.doc = this.emptyDoc({ kind: "job", id: accepted.id, job: accepted.id, file, params, password });
    this.setProgress(`job ${accepted.id}: ${accepted.state}`);
    let final = null;
    for (let attempt = 0; !final && attempt < STREAM_ATTEMPTS; attempt++) {
      if (attempt > 0) {
        // the stream was cut (a proxy's idle timeout): the job goes on; it replays from the first page
        const status = await this.api.json("GET", `v1/jobs/${accepted.id}`, { signal: this.abort.signal });
        if (FINAL_STATES.has(status.state)) {
          final = status;
          break;
        }
      }
      final = await this.follow(accepted.id, params);
    }
    if (!final) throw new ApiError(0, "stream_ended", "the job's event stream kept ending before the job did");
    if (final.state === "succeeded" || final.state === "partially_succeeded") {
      const graph = await this.api.json("GET", `v1/jobs/${accepted.id}/result`, { signal: this.abort.signal });
      this.show(graph, this.doc.source);
      this.setProgress(`job ${accepted.id}: ${final.state}, ${final.pages_done} of ${final.pages_total} pages`,
        final.pages_done, final.pages_total);
    } else {
      const error = final.error ? `${final.error.code}: ${final.error.message}` : final.state;
      throw new ApiError(409, final.state, `job ${accepted.id} ${final.state}: ${error}`);
    }
  }

  // One pass over the job's event stream: pages as they finish, progress; the final status, or null if cut.
  async follow(jobId, params) {
    for await (const { event, data } of this.api.events(`v1/jobs/${jobId}/events`, this.abort.signal)) {
      const body = JSON.parse(data);
      if (event === "progress") {
        if (!params.pages) this.ensurePages(body.pages_total); // placeholders, when the pages are 1..N
        const failed = body.pages_failed ? `, ${body.pages_failed} failed` : "";
        this.setProgress(
          `job ${jobId}: ${body.state}, ${body.pages_done} of ${body.pages_total} pages${failed}`,
          body.pages_done, body.pages_total,
        );
      } else if (event === "page") {
        this.addPage(body.page, body.blocks);
      } else if (event === "done") {
        return body;
      } else if (event === "error") {
        throw new ApiError(410, body.code, body.message);
      }
    }
    return null;
  }

  // --- the document on screen -----------------------------------------------------------------------------

  emptyDoc(source) {
    // abort: the document's own requests (images, downloads), cancelled when another one replaces it
    return { graph: null, source, pages: new Map(), blocks: new Map(), images: new Map(), abort: new AbortController(),
      queue: [], loading: 0 };
  }

  reset() {
    this.doc?.abort.abort();
    for (const url of this.doc?.images.values() || []) URL.revokeObjectURL(url);
    this.observer.disconnect();
    this.doc = null;
    this.selectedId = null;
    this.select(null);
    $("pages").replaceChildren();
    $("outline-list").replaceChildren();
    $("warnings").replaceChildren();
    $("warnings").hidden = true;
    $("doc-status").textContent = "";
    delete $("doc-status").dataset.blocks;
    $("downloads").hidden = true;
  }

  show(graph, source) {
    if (!this.doc || this.doc.source !== source) this.doc = this.emptyDoc(source);
    this.doc.graph = graph;
    const byPage = new Map();
    for (const block of graph.blocks) {
      if (!byPage.has(block.page_no)) byPage.set(block.page_no, []);
      byPage.get(block.page_no).push(block);
    }
    for (const page of graph.pages) this.addPage(page, byPage.get(page.page_no) || []);
    this.outline(graph);
    const failed = graph.pages.filter((p) => p.status === "failed").length;
    const partial = graph.pages.filter((p) => p.status === "partial").length;
    const notes = [failed && `${failed} failed`, partial && `${partial} partial`].filter(Boolean).join(", ");
    $("doc-status").textContent =
      `${graph.document.filename || "document"}: ${graph.status}` +
      ` · ${graph.pages.length} page(s), ${graph.blocks.length} blocks${notes ? ` · ${notes}` : ""}`;
    $("doc-status").className = `doc-status s-${graph.status}`;
    $("doc-status").dataset.blocks = String(graph.blocks.length);
    const warnings = $("warnings");
    warnings.replaceChildren(
      ...graph.warnings.map((w) => el("li", {
        textContent: `${w.page_no ? `page ${w.page_no}: ` : ""}${w.code}: ${w.message}`,
      })),
    );
    warnings.hidden = graph.warnings.length === 0;
    $("downloads").hidden = false;
  }

  ensurePages(total) {
    for (let n = 1; n <= total; n++) this.pageSection(n);
  }

  pageShell(pageNo) {
    const section = el("section", { className: "page pending", id: `page-${pageNo}` });
    section.dataset.page = String(pageNo);
    section.append(
      el("h3", { className: "page-head", textContent: `Page ${pageNo} · waiting` }),
      el("div", { className: "sheet" }, el("img", { alt: `page ${pageNo}` }), el("div", { className: "overlay" })),
    );
    return section;
  }

  pageSection(pageNo) {
    const found = $(`page-${pageNo}`);
    if (found) return found;
    const section = this.pageShell(pageNo); // in page order (a job of a page range: its pages as they come)
    const after = [...$("pages").children].find((s) => Number(s.dataset.page) > pageNo);
    $("pages").insertBefore(section, after || null);
    return section;
  }

  addPage(page, blocks) {
    const doc = this.doc;
    doc.pages.set(page.page_no, page);
    for (const block of blocks) doc.blocks.set(block.id, block);
    const section = this.pageSection(page.page_no);
    section.className = `page s-${page.status}`;
    section.dataset.rendered = "";
    const route = page.route.join(" → ");
    const angle = page.orientation?.applied ? ` · turned ${page.orientation.angle}°` : "";
    section.querySelector(".page-head").textContent =
      `Page ${page.page_no} · ${page.kind || "?"} · ${page.status} · ${route}${angle}`;
    section.querySelector(".page-error")?.remove();
    if (page.error) {
      const step = page.error.step ? ` in step ${page.error.step}` : "";
      section.querySelector(".page-head").after(el("p", {
        className: "page-error",
        role: "status",
        textContent: `${page.status === "failed" ? "Failed" : "Partial"}${step}: ${page.error.code}: ${page.error.message}`,
      }));
    }
    section.querySelector(".sheet").style.aspectRatio = `${page.width} / ${page.height}`;
    section.querySelector(".overlay").replaceChildren();
    this.observer.unobserve(section);
    this.observer.observe(section);
  }

  onVisible(entries) {
    for (const entry of entries) {
      if (entry.isIntersecting) this.ensureDrawn(entry.target);
    }
  }

  // A page's boxes, and its image asked for, once it is near the screen (or a selection needs it).
  ensureDrawn(section) {
    const pageNo = Number(section.dataset.page);
    const page = this.doc?.pages.get(pageNo);
    if (!page || section.dataset.rendered === "yes") return;
    section.dataset.rendered = "yes";
    this.drawBoxes(section, page);
    if (page.status !== "failed" && !section.dataset.image) {
      section.dataset.image = "queued";
      this.doc.queue.push(() => this.loadImage(section, pageNo));
      this.nextImage(this.doc);
    }
  }

  nextImage(doc) {
    while (doc.loading < IMAGES_AT_ONCE && doc.queue.length && this.doc === doc) {
      doc.loading++;
      doc.queue.shift()().finally(() => {
        doc.loading--;
        this.nextImage(doc);
      });
    }
  }

  pageBlocks(pageNo) {
    return [...this.doc.blocks.values()].filter((b) => b.page_no === pageNo);
  }

  drawBoxes(section, page) {
    const overlay = section.querySelector(".overlay");
    const blocks = this.pageBlocks(page.page_no);
    const area = (b) => (b.bbox.r - b.bbox.l) * (b.bbox.b - b.bbox.t);
    const bySize = [...blocks].sort((a, b) => area(b) - area(a)); // smaller boxes above larger ones
    const boxes = blocks
      .sort((a, b) => (a.content_layer === b.content_layer ? a.order - b.order : a.content_layer === "body" ? -1 : 1))
      .map((block) => {
        const furniture = block.content_layer === "furniture";
        const label = furniture ? (block.type === "page_header" ? "H" : "F") : String(block.order + 1);
        const box = el("button", {
          type: "button",
          className: `box t-${block.type}${furniture ? " furniture" : ""}`,
          title: `${block.type} ${label}: ${block.text.slice(0, 120)}`,
        }, el("span", { className: "num", textContent: label }));
        box.setAttribute("aria-label", `${block.type} ${label}`);
        box.dataset.id = block.id;
        box.dataset.type = block.type;
        Object.assign(box.style, {
          left: `${(100 * block.bbox.l) / page.width}%`,
          top: `${(100 * block.bbox.t) / page.height}%`,
          width: `${(100 * (block.bbox.r - block.bbox.l)) / page.width}%`,
          height: `${(100 * (block.bbox.b - block.bbox.t)) / page.height}%`,
          zIndex: String(1 + bySize.indexOf(block)),
        });
        if (block.id === this.selectedId) box.classList.add("selected");
        box.addEventListener("click", () => this.select(block.id));
        box.addEventListener("mouseenter", () => box.classList.add("hover"));
        box.addEventListener("mouseleave", () => box.classList.remove("hover"));
        return box;
      });
    overlay.replaceChildren(...boxes);
  }

  async loadImage(section, pageNo) {
    const doc = this.doc;
    const img = section.querySelector("img");
    section.dataset.image = "loading";
    const { source } = doc;
    const signal = doc.abort.signal;
    const upload = () => this.api.request("POST", "v1/render", {
      params: { page: pageNo, dpi: PAGE_DPI },
      body: this.form(source.file, source.password),
      signal,
    });
    try {
      let response;
      if (source.kind === "job") {
        try {
          response = await this.api.request("GET", `v1/jobs/${source.id}/pages/${pageNo}/image`, {
            params: { dpi: PAGE_DPI },
            signal,
          });
        } catch (exc) {
          // an encrypted PDF's finished job forgot its password: render the upload with it
          if (!(exc instanceof ApiError && exc.code === "password_required" && source.password)) throw exc;
          response = await upload();
        }
      } else {
        response = await upload();
      }
      const url = URL.createObjectURL(await response.blob());
      if (this.doc !== doc) return URL.revokeObjectURL(url);
      doc.images.set(pageNo, url);
      await new Promise((resolve) => {
        img.addEventListener("load", () => { section.dataset.image = "loaded"; resolve(); }, { once: true });
        img.addEventListener("error", () => {
          section.dataset.image = "failed";
          img.alt = `page ${pageNo}: the image did not decode`;
          resolve();
        }, { once: true });
        img.src = url;
      });
    } catch (exc) {
      if (exc.name === "AbortError") return;
      img.alt = `page ${pageNo}: no image (${exc instanceof ApiError ? exc.describe() : exc})`;
      section.classList.add("no-image");
      section.dataset.image = "failed";
    }
  }

  // --- outline, selection, keyboard -----------------------------------------------------------------------

  outline(graph) {
    const groups = new Map(graph.groups.map((g) => [g.id, g]));
    const blocks = new Map(graph.blocks.map((b) => [b.id, b]));
    const entry = (group) => {
      const heading = blocks.get(group.heading);
      if (!heading) return null;
      const link = el("a", { href: `#page-${heading.page_no}`, textContent: heading.text || heading.type });
      link.addEventListener("click", (e) => {
        e.preventDefault();
        this.select(heading.id, true);
      });
      const children = group.children.map((ref) => groups.get(ref)).filter((g) => g?.kind === "section");
      const nested = children.map(entry).filter(Boolean);
      return el("li", { className: `level-${group.level || 1}` }, link, nested.length ? el("ol", {}, ...nested) : null);
    };
    const top = graph.body.map((ref) => groups.get(ref)).filter((g) => g?.kind === "section").map(entry);
    if (graph.blocks.some((b) => b.type === "title")) {
      const title = graph.blocks.find((b) => b.type === "title");
      const link = el("a", { href: `#page-${title.page_no}`, textContent: title.text, className: "title" });
      link.addEventListener("click", (e) => { e.preventDefault(); this.select(title.id, true); });
      top.unshift(el("li", {}, link));
    }
    $("outline-list").replaceChildren(...top.filter(Boolean));
  }

  select(id, scroll = false) {
    document.querySelectorAll(".box.selected").forEach((b) => b.classList.remove("selected"));
    const block = id ? this.doc?.blocks.get(id) : null;
    this.selectedId = block ? id : null;
    $("panel").hidden = !block;
    if (!block) return;
    const section = $(`page-${block.page_no}`);
    if (section) this.ensureDrawn(section); // its boxes now, not when it scrolls into view
    const box = document.querySelector(`.box[data-id="${CSS.escape(id)}"]`);
    if (box) {
      box.classList.add("selected");
      if (scroll) {
        section.scrollIntoView({ block: "start" });
        box.focus({ preventScroll: true });
        box.scrollIntoView({ block: "center" });
      }
    }
    blockPanel(block, this.doc.blocks, (ref) => this.select(ref, true));
  }

  onKey(e) {
    if (e.key === "Escape") return this.select(null);
    const box = document.activeElement?.closest?.(".box");
    if (!box || !["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(e.key)) return;
    e.preventDefault();
    const all = [...document.querySelectorAll(".box")];
    const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : -1;
    const next = all[all.indexOf(box) + step];
    if (next) {
      next.focus();
      this.select(next.dataset.id);
    }
  }

  // --- downloads ------------------------------------------------------------------------------------------

  async download(format) {
    const doc = this.doc;
    if (!doc?.graph) return;
    try {
      let blob;
      if (format === "json") {
        blob = new Blob([JSON.stringify(doc.graph, null, 2)], { type: "application/json" });
      } else if (doc.source.job) {
        const response = await this.api.request("GET", `v1/jobs/${doc.source.job}/result`, {
          params: { format },
          signal: doc.abort.signal,
        });
        blob = await response.blob();
      } else {
        // A small document's other formats: converted again with the same options (POST /v1/convert).
        this.setProgress(`exporting ${format}…`);
        const response = await this.api.request("POST", "v1/convert", {
          params: { ...doc.source.params, format },
          body: this.form(doc.source.file, doc.source.password),
          signal: doc.abort.signal,
        });
        blob = await response.blob();
        if (this.doc !== doc) return;
        this.setProgress(`exported ${format}`);
      }
      if (this.doc !== doc) return;
      const stem = (doc.graph.document.filename || "document").replace(/\.(pdf|png|jpe?g|tiff?|webp)$/i, "");
      const link = el("a", { href: URL.createObjectURL(blob), download: `${stem}.${this.extensions[format] || format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (exc) {
      if (exc.name === "AbortError" || this.doc !== doc) return;
      this.showError(exc instanceof ApiError ? exc.describe() : String(exc));
    }
  }
}

const viewer = new Viewer();
window.docgraphViewer = viewer; // for the console (and the browser tests' waits)
viewer.start();
