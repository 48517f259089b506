// The map view: a layer (pressure, status, advice or dispute risk) painted on every grid, and its legend.
// Batch answers are kept per season (dispute: once) and painted slice by slice as they arrive.

import * as api from "./api.js";
import { clear, h, NO_DATA, PURPLES, s, swatch, YL_OR_RD } from "./dom.js";
import { numberFormat, percent, t } from "./i18n.js";
import { legendList } from "./widgets.js";

const STATUS_COLOURS = { under: "#74add1", balanced: "#fee090", over: "#d73027" };
const ACTION_COLOURS = { graze: "#4575b4", rotate: "#fdae61", rest: "#a50026" };
const PRESSURE_MAX = 2;
// Batch answers in slices, two at a time: the map fills in while the rest is computed (one per core).
const SLICES = { chunk: 100, parallel: 2 };

// A layer: where its value comes from, how it is coloured, and how the legend and tooltip read it.
const LAYERS = {
  pressure: {
    source: "grazing",
    value: (a) => a.pressure,
    colour: (v) => YL_OR_RD(v / PRESSURE_MAX),
    text: (v) => numberFormat(v, 2),
    scale: { max: PRESSURE_MAX, ramp: YL_OR_RD, ticks: [0, 0.5, 1, 1.5, 2], format: (v) => (v >= PRESSURE_MAX ? `≥${v}` : String(v)), unit: "unit_pressure" },
  },
  status: { source: "grazing", value: (a) => a.status, colour: (v) => STATUS_COLOURS[v], text: (v) => t(`status_${v}`), categories: STATUS_COLOURS, prefix: "status" },
  advice: { source: "grazing", value: (a) => a.advice.action, colour: (v) => ACTION_COLOURS[v], text: (v) => t(`action_${v}`), categories: ACTION_COLOURS, prefix: "action" },
  dispute: {
    source: "dispute",
    value: (r) => r.probability,
    colour: (v, max) => PURPLES(v / max),
    text: (v) => percent(v),
    scale: { ramp: PURPLES, format: (v) => `${numberFormat(100 * v)}%`, unit: "unit_dispute" },
  },
};

export class MapView {
  /** ``map``: the CountyMap; ``panel``: the GridPanel; ``legend``: its element; ``setStatus(text)``. */
  constructor({ map, panel, legend, setStatus }) {
    Object.assign(this, { map, panel, legendRoot: legend, setStatus });
    this.grazing = new Map(); // season -> Map(grid_id -> assessment), filled as batch answers arrive
    this.dispute = null; // Map(grid_id -> risk)
  }

  /** Forget every answer (log out, or a new language: sentences are fetched again). */
  reset() {
    this.grazing.clear();
    this.dispute = null;
  }

  #data(source, season) {
    return source === "dispute" ? this.dispute : this.grazing.get(season);
  }

  /** Fetch what layer ``name`` needs (once per season) and paint it; ``current()`` false: the user moved on. */
  async show(name, season, current) {
    const layer = LAYERS[name];
    const painted = layer.source === "dispute" ? name : `${name}-${season}`;
    let data = this.#data(layer.source, season);
    const paint = (done) => {
      if (!current()) return;
      const values = this.#data(layer.source, season);
      const max = Math.max(0.05, ...[...values.values()].map(layer.value));
      this.map.paint((id) => {
        const item = values.get(id);
        const v = item ? layer.value(item) : null;
        return v === null || v === undefined || Number.isNaN(v) ? NO_DATA : layer.colour(v, max);
      }, done ? painted : `${painted}-partial`);
      this.#legend(name, max);
    };
    if (!data?.complete) {
      this.setStatus(t("loading_layer"));
      if (!data) {
        data = new Map();
        if (layer.source === "dispute") this.dispute = data;
        else this.grazing.set(season, data);
        const store = (items) => {
          for (const item of items) data.set(item.grid_id, item);
          paint(false);
        };
        const ids = this.map.ids();
        data.loading = layer.source === "dispute" ? api.disputeBatch(ids, store, SLICES) : api.grazingBatch(ids, season, store, SLICES);
        data.loading.then(
          () => (data.complete = true),
          () => (layer.source === "dispute" ? (this.dispute = null) : this.grazing.delete(season)),
        );
      }
      await data.loading;
      if (current()) this.setStatus("");
    }
    paint(true);
    if (layer.source === "grazing" && !this.panel.current && current()) this.panel.overview([...data.values()], season);
  }

  /** The tooltip line of layer ``name`` for grid ``id``. */
  hoverLine(id, name, season) {
    const layer = LAYERS[name];
    const item = this.#data(layer.source, season)?.get(id);
    return `${t(`layer_${name}`)}: ${item ? layer.text(layer.value(item)) : t("no_data")}`;
  }

  #legend(name, max) {
    const layer = LAYERS[name];
    const root = clear(this.legendRoot);
    root.append(h("strong", { text: t(`layer_${name}`) }));
    if (layer.categories) {
      root.append(legendList(layer.categories, (k) => t(`${layer.prefix}_${k}`)));
      return;
    }
    const sc = layer.scale;
    const top = sc.max ?? max;
    const tickValues = sc.ticks ?? [0, top / 4, top / 2, (3 * top) / 4, top];
    const W = 260;
    const stops = Array.from({ length: 11 }, (_, i) => s("stop", { offset: `${i * 10}%`, "stop-color": sc.ramp(i / 10) }));
    root.append(
      s(
        "svg",
        { class: "legend-scale", viewBox: `0 0 ${W + 20} 34`, role: "img", "aria-label": t(sc.unit) },
        s("defs", {}, s("linearGradient", { id: `ramp-${name}` }, stops)),
        s("rect", { x: 10, y: 2, width: W, height: 12, fill: `url(#ramp-${name})`, class: "ramp" }),
        tickValues.map((v) =>
          s(
            "g",
            {},
            s("line", { x1: 10 + (v / top) * W, x2: 10 + (v / top) * W, y1: 14, y2: 18, class: "tick-line" }),
            s("text", { x: 10 + (v / top) * W, y: 30, "text-anchor": "middle", text: sc.format(v) }),
          ),
        ),
      ),
      h("span", { class: "unit", text: t(sc.unit) }),
      h("span", { class: "unit" }, swatch(NO_DATA), ` ${t("no_data")}`),
    );
  }
}
