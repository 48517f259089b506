// The county map: every grid polygon as an SVG path (equirectangular projection fitted to the bounds),
// township borders from the edges two townships share, township names, a tooltip, and an overlay for arrows.

import { clear, h, NO_DATA, s } from "./dom.js";
import { t } from "./i18n.js";

const WIDTH = 1000;
const PAD = 12;

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
      const path = s("path", { class: "grid", d, fill: NO_DATA, "data-grid": props.grid_id, "data-township": props.township_id });
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
    this.svg = s(
      "svg",
      { id: "county-map", viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": t("map_label"), "data-painted": "" },
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
    );
    this.tooltip = h("div", { class: "tooltip", role: "tooltip", hidden: true });
    clear(this.container).append(this.svg, this.tooltip);
    this.svg.addEventListener("pointermove", (e) => this.#hover(e));
    this.svg.addEventListener("pointerleave", () => (this.tooltip.hidden = true));
    this.svg.addEventListener("click", (e) => {
      const id = e.target?.dataset?.grid;
      if (id) this.handlers.onSelect(id);
    });
  }

  get size() {
    return this.grids.size;
  }

  ids() {
    return [...this.grids.keys()];
  }

  /** Township names at the area-weighted centre of their grids (``name(t)`` picks the language). */
  label(name) {
    this.svg.setAttribute("aria-label", t("map_label")); // an image needs a name (its words follow the language)
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
  }

  select(gridId) {
    this.selected = gridId;
    const g = this.grids.get(gridId);
    this.selection.setAttribute("d", g ? g.d : "");
  }

  /** Arrows from grid centroid to grid centroid: [{from, to, width, label}]. */
  arrows(list) {
    clear(this.overlay);
    for (const a of list) {
      const p = this.grids.get(a.from);
      const q = this.grids.get(a.to);
      if (!p || !q) continue;
      // A slight curve keeps opposite moves between neighbours apart.
      const mx = (p.cx + q.cx) / 2 + (q.cy - p.cy) * 0.15;
      const my = (p.cy + q.cy) / 2 - (q.cx - p.cx) * 0.15;
      this.overlay.append(
        s("path", { class: "move", d: `M${p.cx},${p.cy}Q${mx},${my} ${q.cx},${q.cy}`, "stroke-width": a.width, "marker-end": "url(#arrow-head)" }),
        s("text", { class: "move-label", x: (p.cx + 2 * mx + q.cx) / 4, y: (p.cy + 2 * my + q.cy) / 4, "text-anchor": "middle", text: a.label }),
      );
    }
  }

  clearArrows() {
    if (this.overlay) clear(this.overlay);
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
