// The county map: every grid polygon as an SVG path (equirectangular projection fitted to the bounds),
// township borders from the edges two townships share, township names, a tooltip, and an overlay for arrows.
// Zoom and pan move the SVG's viewBox (buttons, wheel, drag, pinch, + and - keys); grids take focus one at a
// time (arrow keys move to the nearest grid that way, Enter or Space opens it). Hand-written: a map library
// would weigh more than this whole file and still need the same polygons.

import { clear, h, NO_DATA, s } from "./dom.js";
import { t } from "./i18n.js";

const WIDTH = 1000;
const PAD = 12;
const MAX_ZOOM = 12;
const ZOOM_STEP = 1.6;
const DRAG_PX = 5; // a press that moves less than this is a click, not a pan
// Text sizes in screen pixels, whatever the zoom or the screen (the SVG's own units shrink on a phone).
const TOWNSHIP_LABEL_PX = 14;
const MOVE_LABEL_PX = 13;

function ringsOf(geometry) {
  return geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates.flat();
}

/** Area and centroid of a closed ring of projected points (shoelace formula). */
function ringCentroid(points) {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < points.length - 1; i++) {
    const [x0, y0] = points[i];
    const [x1, y1] = points[i + 1];
    const cross = x0 * y1 - x1 * y0;
    a += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  }
  if (Math.abs(a) < 1e-12) return { area: 0, x: points[0][0], y: points[0][1] };
  return { area: Math.abs(a / 2), x: cx / (3 * a), y: cy / (3 * a) };
}

export class CountyMap {
  /**
   * @param {HTMLElement} container where the SVG and the tooltip go
   * @param {{onSelect: function(string), hoverLines: function(string): string[]}} handlers
   */
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers;
    this.grids = new Map(); // grid_id -> {props, path, cx, cy, area}
    this.townships = [];
    this.svg = null;
    this.selected = null;
    this.focused = null;
    this.view = null; // the viewBox shown: {x, y, w, h}
    this.moveLabels = [];
  }

  /** Build the SVG from the county map answer (``api.countyMap()``). */
  load(data) {
    const [west, south, east, north] = data.bounds;
    const kx = Math.cos((((south + north) / 2) * Math.PI) / 180);
    const scale = (WIDTH - 2 * PAD) / Math.max(1e-9, (east - west) * kx);
    const height = Math.ceil((north - south) * scale + 2 * PAD);
    const project = ([lon, lat]) => [PAD + (lon - west) * kx * scale, PAD + (north - lat) * scale];
    this.height = height;
    this.grids.clear();
    const edges = new Map(); // "lon,lat|lon,lat" -> township ids of the polygons using the edge
    const edgePoints = new Map();
    const gridLayer = s("g", { class: "grids" });
    for (const feature of data.grids.features) {
      const props = feature.properties;
      let d = "";
      let best = { area: -1 };
      for (const ring of ringsOf(feature.geometry)) {
        const pts = ring.map(project);
        d += `M${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}Z`;
        const c = ringCentroid(pts);
        if (c.area > best.area) best = c;
        for (let i = 0; i < ring.length - 1; i++) {
          const a = ring[i].join(",");
          const b = ring[i + 1].join(",");
          const key = a < b ? `${a}|${b}` : `${b}|${a}`;
          if (!edges.has(key)) {
            edges.set(key, []);
            edgePoints.set(key, [pts[i], pts[i + 1]]);
          }
          edges.get(key).push(props.township_id);
        }
      }
      const path = s("path", { class: "grid", d, fill: NO_DATA, "data-grid": props.grid_id, "data-township": props.township_id, role: "button", tabindex: "-1" });
      gridLayer.append(path);
      this.grids.set(props.grid_id, { props, path, d, cx: best.x, cy: best.y, area: best.area });
    }
    let borders = "";
    let outline = "";
    for (const [key, towns] of edges) {
      const [[x0, y0], [x1, y1]] = edgePoints.get(key);
      const seg = `M${x0.toFixed(1)},${y0.toFixed(1)}L${x1.toFixed(1)},${y1.toFixed(1)}`;
      if (towns.length === 1) outline += seg;
      else if (towns[0] !== towns[1]) borders += seg;
    }
    this.townships = data.townships.map((tw) => {
      let a = 0;
      let x = 0;
      let y = 0;
      for (const g of this.grids.values()) {
        if (g.props.township_id !== tw.township_id) continue;
        a += g.area;
        x += g.cx * g.area;
        y += g.cy * g.area;
      }
      return { ...tw, x: a ? x / a : 0, y: a ? y / a : 0, present: a > 0 };
    });
    this.labelLayer = s("g", { class: "township-labels" });
    this.overlay = s("g", { class: "overlay" });
    this.selection = s("path", { class: "selected-outline", d: "" });
    // The keyboard's ring: dark blue over a white halo, so it stands out on light and dark fills alike.
    this.focusHalo = s("path", { class: "focus-halo", d: "" });
    this.focusRing = s("path", { class: "focus-outline", d: "" });
    this.full = { x: 0, y: 0, w: WIDTH, h: height };
    this.view = { ...this.full };
    // A group of buttons (the grids), named; not an image: its grids take focus and are announced.
    this.svg = s(
      "svg",
      { id: "county-map", viewBox: `0 0 ${WIDTH} ${height}`, role: "group", "aria-label": t("map_label"), "aria-roledescription": t("map_role"), "data-painted": "" },
      s(
        "defs",
        {},
        s(
          "marker",
          { id: "arrow-head", viewBox: "0 0 10 10", refX: 8, refY: 5, markerUnits: "userSpaceOnUse", markerWidth: 11, markerHeight: 11, orient: "auto" },
          s("path", { d: "M0,0L10,5L0,10Z", class: "arrow-head" }),
        ),
      ),
      gridLayer,
      s("path", { class: "township-borders", d: borders }),
      s("path", { class: "county-outline", d: outline }),
      this.overlay,
      this.labelLayer,
      this.selection,
      this.focusHalo,
      this.focusRing,
    );
    this.tooltip = h("div", { class: "tooltip", role: "tooltip", hidden: true });
    const button = (action, label, text) => h("button", { type: "button", class: "zoom", "data-zoom": action, "aria-label": t(label), title: t(label), text });
    this.zoomButtons = h("div", { class: "zoom-buttons" }, button("in", "zoom_in", "+"), button("out", "zoom_out", "−"), button("reset", "zoom_reset", "⤢"));
    clear(this.container).append(this.svg, this.tooltip, this.zoomButtons);
    this.zoomButtons.addEventListener("click", (e) => {
      const action = e.target.closest("[data-zoom]")?.dataset.zoom;
      if (action === "in") this.zoomBy(ZOOM_STEP);
      else if (action === "out") this.zoomBy(1 / ZOOM_STEP);
      else if (action === "reset") this.resetView();
    });
    this.#wirePointer();
    this.#wireKeys();
    const first = [...this.grids.values()][0];
    if (first) first.path.setAttribute("tabindex", "0");
    new ResizeObserver(() => this.#scaleText()).observe(this.svg);
  }

  // --- zoom and pan ---------------------------------------------------------------------------------

  /** The user units one screen pixel spans at the current zoom (1 when nothing is drawn yet). */
  unitsPerPixel() {
    const width = this.svg?.clientWidth || 0;
    return width ? this.view.w / width : 1;
  }

  #setView(view) {
    const w = Math.min(this.full.w, Math.max(this.full.w / MAX_ZOOM, view.w));
    const h = (w / this.full.w) * this.full.h;
    const x = Math.min(this.full.x + this.full.w - w, Math.max(this.full.x, view.x));
    const y = Math.min(this.full.y + this.full.h - h, Math.max(this.full.y, view.y));
    this.view = { x, y, w, h };
    this.svg.setAttribute("viewBox", `${x.toFixed(2)} ${y.toFixed(2)} ${w.toFixed(2)} ${h.toFixed(2)}`);
    this.svg.dataset.zoom = (this.full.w / w).toFixed(2);
    this.#scaleText();
  }

  /** Zoom by ``factor`` (> 1: in) around the point (``cx``, ``cy``) in user units (default: the centre). */
  zoomBy(factor, cx = this.view.x + this.view.w / 2, cy = this.view.y + this.view.h / 2) {
    const w = this.view.w / factor;
    const h = this.view.h / factor;
    this.#setView({ x: cx - ((cx - this.view.x) / this.view.w) * w, y: cy - ((cy - this.view.y) / this.view.h) * h, w, h });
  }

  /** Move the view by (``dx``, ``dy``) user units. */
  panBy(dx, dy) {
    this.#setView({ ...this.view, x: this.view.x + dx, y: this.view.y + dy });
  }

  resetView() {
    this.#setView(this.full);
  }

  /** Show grid ``id`` in the middle of the view, zoomed in to at least ``zoom``. */
  zoomTo(id, zoom = 4) {
    const g = this.grids.get(id);
    if (!g) return;
    const w = Math.min(this.view.w, this.full.w / zoom);
    const h = (w / this.full.w) * this.full.h;
    this.#setView({ x: g.cx - w / 2, y: g.cy - h / 2, w, h });
  }

  /** Bring grid ``id`` into view without zooming, if it is outside. */
  #reveal(id) {
    const g = this.grids.get(id);
    const v = this.view;
    if (!g || (g.cx > v.x && g.cx < v.x + v.w && g.cy > v.y && g.cy < v.y + v.h)) return;
    this.#setView({ ...v, x: g.cx - v.w / 2, y: g.cy - v.h / 2 });
  }

  /** The point of a pointer event in user units. */
  #point(event) {
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(this.svg.getScreenCTM().inverse());
    return [p.x, p.y];
  }

  #wirePointer() {
    const pointers = new Map(); // pointerId -> {x, y} on screen
    let moved = 0;
    let pinch = null;
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [x, y] = this.#point(e);
      this.zoomBy(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), x, y);
    }, { passive: false });
    this.svg.addEventListener("pointerdown", (e) => {
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pointers.size === 1) moved = 0;
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) };
      }
    });
    const up = (e) => {
      pointers.delete(e.pointerId);
      if (pointers.size < 2) pinch = null;
    };
    this.svg.addEventListener("pointerup", up);
    this.svg.addEventListener("pointercancel", up);
    this.svg.addEventListener("pointermove", (e) => {
      if (e.pointerType === "mouse" && e.buttons === 0) pointers.delete(e.pointerId); // released outside the map
      const last = pointers.get(e.pointerId);
      if (!last) {
        this.#hover(e);
        return;
      }
      const dx = e.clientX - last.x;
      const dy = e.clientY - last.y;
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pinch && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const distance = Math.hypot(a.x - b.x, a.y - b.y);
        const mid = this.#point({ clientX: (a.x + b.x) / 2, clientY: (a.y + b.y) / 2 });
        if (pinch.distance > 0) this.zoomBy(distance / pinch.distance, ...mid);
        pinch.distance = distance;
        moved += DRAG_PX;
        return;
      }
      moved += Math.abs(dx) + Math.abs(dy);
      if (moved >= DRAG_PX) {
        this.tooltip.hidden = true;
        const k = this.unitsPerPixel();
        this.panBy(-dx * k, -dy * k);
      } else this.#hover(e);
    });
    this.svg.addEventListener("pointerleave", () => (this.tooltip.hidden = true));
    this.svg.addEventListener("click", (e) => {
      if (moved >= DRAG_PX) return; // the end of a pan, not a pick
      const id = e.target?.dataset?.grid;
      if (id) this.handlers.onSelect(id);
    });
  }

  // --- keyboard -----------------------------------------------------------------------------------

  /** The grid nearest to grid ``id`` in direction (``dx``, ``dy``), within a 90° cone; null if none. */
  nearest(id, dx, dy) {
    const from = this.grids.get(id);
    let best = null;
    let bestScore = Infinity;
    for (const [other, g] of this.grids) {
      if (other === id) continue;
      const vx = g.cx - from.cx;
      const vy = g.cy - from.cy;
      const along = vx * dx + vy * dy;
      const across = Math.abs(vx * dy - vy * dx);
      if (along <= 0 || across > along) continue;
      const score = along + 2 * across;
      if (score < bestScore) {
        bestScore = score;
        best = other;
      }
    }
    return best;
  }

  /** Give grid ``id`` the map's one tab stop and the focus. */
  focusGrid(id) {
    const g = this.grids.get(id);
    if (!g) return;
    for (const other of this.svg.querySelectorAll('path.grid[tabindex="0"]')) other.setAttribute("tabindex", "-1");
    g.path.setAttribute("tabindex", "0");
    this.#reveal(id);
    g.path.focus({ preventScroll: true });
  }

  #wireKeys() {
    const DIRECTIONS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    this.svg.addEventListener("focusin", (e) => {
      const id = e.target?.dataset?.grid;
      this.focused = id ?? null;
      // the ring shows for the keyboard only (a click has the selection's outline)
      const keyboard = id && e.target.matches(":focus-visible");
      for (const ring of [this.focusHalo, this.focusRing]) ring.setAttribute("d", keyboard ? this.grids.get(id).d : "");
    });
    this.svg.addEventListener("focusout", () => {
      for (const ring of [this.focusHalo, this.focusRing]) ring.setAttribute("d", "");
    });
    this.svg.addEventListener("keydown", (e) => {
      const id = e.target?.dataset?.grid;
      if (!id) return;
      if (DIRECTIONS[e.key]) {
        e.preventDefault();
        const next = this.nearest(id, ...DIRECTIONS[e.key]);
        if (next) this.focusGrid(next);
      } else if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.handlers.onSelect(id);
      } else if (e.key === "+" || e.key === "=") this.zoomBy(ZOOM_STEP, this.grids.get(id).cx, this.grids.get(id).cy);
      else if (e.key === "-") this.zoomBy(1 / ZOOM_STEP);
    });
  }

  /** Labels keep their size on screen: their font size in user units follows the zoom and the screen. */
  #scaleText() {
    if (!this.svg) return;
    const k = this.unitsPerPixel();
    this.labelLayer.setAttribute("font-size", (TOWNSHIP_LABEL_PX * k).toFixed(2));
    this.labelLayer.setAttribute("stroke-width", (4 * k).toFixed(2));
    this.overlay.setAttribute("font-size", (MOVE_LABEL_PX * k).toFixed(2));
    this.#placeMoveLabels(k);
  }

  get size() {
    return this.grids.size;
  }

  ids() {
    return [...this.grids.keys()];
  }

  /** Township names at the area-weighted centre of their grids (``name(t)`` picks the language). */
  label(name) {
    this.svg.setAttribute("aria-label", t("map_label")); // a group needs a name (its words follow the language)
    this.svg.setAttribute("aria-roledescription", t("map_role"));
    for (const b of this.zoomButtons.querySelectorAll("[data-zoom]")) {
      const key = `zoom_${b.dataset.zoom}`;
      b.setAttribute("aria-label", t(key));
      b.title = t(key);
    }
    clear(this.labelLayer);
    for (const tw of this.townships) {
      if (!tw.present) continue;
      this.labelLayer.append(s("text", { x: tw.x, y: tw.y, "text-anchor": "middle", class: "township-label", text: name(tw) }));
    }
  }

  /** Fill every grid with ``colourOf(grid_id)``; ``painted`` names what is shown (tests wait on it). */
  paint(colourOf, painted) {
    for (const [id, g] of this.grids) g.path.setAttribute("fill", colourOf(id));
    this.svg.dataset.painted = painted;
    this.describe(this.handlers.hoverLines);
  }

  select(gridId) {
    this.selected = gridId;
    const g = this.grids.get(gridId);
    this.selection.setAttribute("d", g ? g.d : "");
  }

  /** Arrows from grid centroid to grid centroid: [{from, to, width, label}], most important first. */
  arrows(list) {
    clear(this.overlay);
    this.moveLabels = [];
    const labels = [];
    for (const a of list) {
      const p = this.grids.get(a.from);
      const q = this.grids.get(a.to);
      if (!p || !q) continue;
      // A slight curve keeps opposite moves between neighbours apart.
      const mx = (p.cx + q.cx) / 2 + (q.cy - p.cy) * 0.15;
      const my = (p.cy + q.cy) / 2 - (q.cx - p.cx) * 0.15;
      this.overlay.append(s("path", { class: "move", d: `M${p.cx},${p.cy}Q${mx},${my} ${q.cx},${q.cy}`, "stroke-width": a.width, "marker-end": "url(#arrow-head)" }));
      const text = s("text", { class: "move-label", x: (p.cx + 2 * mx + q.cx) / 4, y: (p.cy + 2 * my + q.cy) / 4, "text-anchor": "middle", "dominant-baseline": "middle", text: a.label });
      labels.push(text);
      this.moveLabels.push({ text, x: (p.cx + 2 * mx + q.cx) / 4, y: (p.cy + 2 * my + q.cy) / 4, chars: String(a.label).length });
    }
    this.overlay.append(...labels); // above every arrow
    this.#placeMoveLabels(this.unitsPerPixel());
  }

  /** Show a move's label only where it overlaps no label of a larger move (the list is largest first). */
  #placeMoveLabels(k) {
    const size = MOVE_LABEL_PX * k;
    const placed = [];
    for (const label of this.moveLabels) {
      const half = { w: (label.chars * 0.62 * size) / 2 + 2 * k, h: size * 0.6 + k };
      const box = { x0: label.x - half.w, x1: label.x + half.w, y0: label.y - half.h, y1: label.y + half.h };
      const free = !placed.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1);
      label.text.setAttribute("visibility", free ? "visible" : "hidden");
      if (free) placed.push(box);
    }
  }

  clearArrows() {
    if (this.overlay) clear(this.overlay);
    this.moveLabels = [];
  }

  /** Name every grid for screen readers from ``lines(id)`` (the tooltip's lines), after each paint. */
  describe(lines) {
    for (const [id, g] of this.grids) g.path.setAttribute("aria-label", lines(id).join(", "));
  }

  #hover(event) {
    const id = event.target?.dataset?.grid;
    if (!id) {
      this.tooltip.hidden = true;
      return;
    }
    const lines = this.handlers.hoverLines(id);
    clear(this.tooltip).append(...lines.map((line, i) => h(i === 0 ? "strong" : "div", { text: line })));
    const box = this.container.getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    this.tooltip.hidden = false;
    const flip = x > box.width * 0.6;
    this.tooltip.style.left = flip ? "" : `${x + 14}px`;
    this.tooltip.style.right = flip ? `${box.width - x + 14}px` : "";
    this.tooltip.style.top = `${y + 14}px`;
  }
}
