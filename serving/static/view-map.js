// The map view: a layer (pressure, status, advice or dispute risk) painted on every grid, and its legend.
// One compact summary per season (numbers only, no reasons, no language) colours every layer; a grid's
// explanation is fetched when the grid is opened (grid-panel.js). A language switch fetches nothing here.

import * as api from "./api.js";
import { clear, h, NO_DATA, PURPLES, ramp, s, swatch } from "./dom.js";
import { numberFormat, percent, t } from "./i18n.js";
import { legendList } from "./widgets.js";

const STATUS_COLOURS = { under: "#74add1", balanced: "#fee090", over: "#d73027" };
const ACTION_COLOURS = { graze: "#4575b4", rotate: "#fdae61", rest: "#a50026" };
const PRESSURE_MAX = 2;
// ColorBrewer RdYlBu, reversed: blue below 1 (room to spare), pale yellow at 1 (balance), red above.
// Seven even stops over 0..PRESSURE_MAX: the fourth (pale yellow) is pressure 1.0.
export const PRESSURE_RAMP = ramp(["#4575b4", "#91bfdb", "#e0f3f8", "#ffffbf", "#fee090", "#fc8d59", "#d73027"]);
// The ramp's position of pressure ``v``: 1.0 sits in the middle, 0 and PRESSURE_MAX at the ends.
const pressureAt = (v) => Math.min(1, Math.max(0, v / PRESSURE_MAX));

/** A layer: its value in the summary, its colour, and how the legend and tooltip read it. */
export const LAYERS = {
  pressure: {
    source: "grazing",
    value: (g, i) => g.pressure[i],
    colour: (v) => PRESSURE_RAMP(pressureAt(v)),
    text: (v) => numberFormat(v, 2),
    scale: { max: PRESSURE_MAX, ramp: PRESSURE_RAMP, ticks: [0, 0.5, 1, 1.5, 2], format: (v) => (v >= PRESSURE_MAX ? `≥${v}` : String(v)), unit: "unit_pressure", centre: 1 },
  },
  status: { source: "grazing", value: (g, i) => g.status[i], colour: (v) => STATUS_COLOURS[v], text: (v) => t(`status_${v}`), categories: STATUS_COLOURS, prefix: "status" },
  advice: { source: "grazing", value: (g, i) => g.action[i], colour: (v) => ACTION_COLOURS[v], text: (v) => t(`action_${v}`), categories: ACTION_COLOURS, prefix: "action" },
  dispute: {
    source: "dispute",
    value: (d, i) => d.probability[i],
    colour: (v, max) => PURPLES(v / max),
    text: (v) => percent(v),
    scale: { ramp: PURPLES, format: (v) => `${numberFormat(100 * v)}%`, unit: "unit_dispute" },
  },
};

/** The legend's scale: a ramp with ticks, drawn with room on both sides so no tick label is cut off. */
export function legendScale(name, layer, max) {
  const sc = layer.scale;
  const top = sc.max ?? max;
  const tickValues = sc.ticks ?? [0, top / 4, top / 2, (3 * top) / 4, top];
  const W = 260;
  const PAD = 26;
  const stops = Array.from({ length: 11 }, (_, i) => s("stop", { offset: `${i * 10}%`, "stop-color": sc.ramp(i / 10) }));
  const x = (v) => PAD + (v / top) * W;
  return s(
    "svg",
    { class: "legend-scale", viewBox: `0 0 ${W + 2 * PAD} 36`, role: "img", "aria-label": `${t(`layer_${name}`)}: ${tickValues.map(sc.format).join(", ")} (${t(sc.unit)})` },
    s("defs", {}, s("linearGradient", { id: `ramp-${name}` }, stops)),
    s("rect", { x: PAD, y: 2, width: W, height: 12, fill: `url(#ramp-${name})`, class: "ramp" }),
    sc.centre !== undefined ? s("line", { x1: x(sc.centre), x2: x(sc.centre), y1: 0, y2: 16, class: "centre-line" }) : null,
    tickValues.map((v) =>
      s("g", {}, s("line", { x1: x(v), x2: x(v), y1: 14, y2: 18, class: "tick-line" }), s("text", { x: x(v), y: 31, "text-anchor": "middle", text: sc.format(v) })),
    ),
  );
}

export class MapView {
  /** ``map``: the CountyMap; ``panel``: the GridPanel; ``legend``: its element; ``setStatus(text)``. */
  constructor({ map, panel, legend, setStatus }) {
    Object.assign(this, { map, panel, legendRoot: legend, setStatus });
    this.summaries = new Map(); // season -> {grazing, dispute, index: Map(grid_id -> i), disputeIndex}
  }

  /** Forget every answer (log out, a month closed). A new language keeps them: they hold numbers only. */
  reset() {
    this.summaries.clear();
  }

  /** The season's summary, fetched once (the same promise for callers that ask at once). */
  summary(season) {
    let entry = this.summaries.get(season);
    if (!entry) {
      entry = api.countySummary(season).then((body) => ({
        ...body,
        index: new Map((body.grazing?.grid_ids ?? []).map((id, i) => [id, i])),
        disputeIndex: new Map((body.dispute?.grid_ids ?? []).map((id, i) => [id, i])),
      }));
      entry.catch(() => {
        if (this.summaries.get(season) === entry) this.summaries.delete(season); // asked again next time
      });
      this.summaries.set(season, entry);
    }
    return entry;
  }

  /** The value of layer ``name`` for grid ``id`` in a loaded summary ``sum`` (undefined when unknown). */
  static valueOf(sum, name, id) {
    const layer = LAYERS[name];
    const data = sum?.[layer.source];
    const i = (layer.source === "dispute" ? sum?.disputeIndex : sum?.index)?.get(id);
    return data && i !== undefined ? layer.value(data, i) : undefined;
  }

  /** Fetch the season's summary (once) and paint layer ``name``; ``current()`` false: the user moved on. */
  async show(name, season, current) {
    const layer = LAYERS[name];
    const painted = layer.source === "dispute" ? name : `${name}-${season}`;
    const pending = !this.loaded(season);
    if (pending) this.setStatus(t("loading_layer"));
    const sum = await this.summary(season);
    if (!current()) return;
    if (pending) this.setStatus("");
    this.current = { sum, season };
    const values = sum[layer.source]?.[layer.source === "dispute" ? "probability" : "pressure"] ?? [];
    const max = Math.max(0.05, ...values.filter(Number.isFinite));
    this.map.paint((id) => {
      const v = MapView.valueOf(sum, name, id);
      return v === null || v === undefined || Number.isNaN(v) ? NO_DATA : layer.colour(v, max);
    }, painted);
    this.#legend(name, max, sum);
    if (sum.grazing && !this.panel.current) this.panel.overview(sum.grazing, season);
  }

  loaded(season) {
    return this.summaries.has(season) && this.current?.season === season;
  }

  /** The tooltip line of layer ``name`` for grid ``id``. */
  hoverLine(id, name) {
    const v = MapView.valueOf(this.current?.sum, name, id);
    return `${t(`layer_${name}`)}: ${v === undefined || v === null ? t("no_data") : LAYERS[name].text(v)}`;
  }

  #legend(name, max, sum) {
    const layer = LAYERS[name];
    const root = clear(this.legendRoot);
    root.append(h("strong", { text: t(`layer_${name}`) }));
    if (sum.unavailable?.[layer.source]) root.append(h("span", { class: "error", text: t("err_503") }));
    if (layer.categories) {
      root.append(legendList(layer.categories, (k) => t(`${layer.prefix}_${k}`)));
      return;
    }
    root.append(legendScale(name, layer, max), h("span", { class: "unit", text: t(layer.scale.unit) }), h("span", { class: "unit" }, swatch(NO_DATA), ` ${t("no_data")}`));
    if (name === "dispute" && sum.dispute) {
      const c = sum.dispute.cutoffs;
      root.append(h("span", { class: "unit", text: t("band_cutoffs", { medium: percent(c.medium), high: percent(c.high) }) }));
    }
  }
}
