// The rotation plan, market and dispute watch-list views.

import { api } from "./api.js";
import { fanChart } from "./charts.js";
import { clear, h, NO_DATA, swatch } from "./dom.js";
import { monthLabel, numberFormat, percent, t } from "./i18n.js";
import { badge, errorLine } from "./grid-panel.js";

export const ROTATION_COLOURS = {
  rest: "#a50026",
  reserve: "#762a83",
  destock: "#f46d43",
  send: "#fdae61",
  receive: "#74add1",
  graze: "#ececec",
};
const MAX_ARROWS = 60;
const TOTALS = ["grids_resting", "reserves", "su_moved", "moves", "moves_within_township", "moves_across_township", "su_km", "shortfall_su", "hay_t"];

/** Paint the plan on the map (actions, arrows of the largest moves) and fill the side panel. */
export function showRotation(plan, root, map, gridName) {
  const action = new Map(plan.grids.map((g) => [g.grid_id, g.action]));
  map.paint((id) => ROTATION_COLOURS[action.get(id)] ?? NO_DATA, `rotation-${plan.season}`);
  const moves = [...plan.moves].sort((a, b) => b.su - a.su);
  const shown = moves.slice(0, MAX_ARROWS);
  const biggest = Math.max(1, ...shown.map((m) => m.su));
  map.arrows(shown.map((m) => ({ from: m.from_grid, to: m.to_grid, width: 1 + 4 * Math.sqrt(m.su / biggest), label: numberFormat(m.su) })));
  const counts = {};
  for (const g of plan.grids) counts[g.action] = (counts[g.action] ?? 0) + 1;
  clear(root).append(
    h("h2", { text: t("rotation_title", { season: t(`season_${plan.season}`), year: plan.season_year }) }),
    h("p", { class: plan.feasible ? "ok" : "error", text: plan.feasible ? t("rotation_feasible") : t("rotation_infeasible") }),
    h("p", { class: "sentence", "data-testid": "rotation-summary", text: plan.summary }),
    h(
      "ul",
      { class: "legend-list" },
      Object.entries(ROTATION_COLOURS).map(([k, colour]) =>
        h("li", {}, swatch(colour), ` ${t(`rot_${k}`)} (${counts[k] ?? 0})`),
      ),
    ),
    h("p", { class: "muted", text: t("arrows_note", { shown: shown.length, total: moves.length }) }),
    h("h3", { text: t("totals") }),
    h(
      "table",
      { class: "totals" },
      h(
        "tbody",
        {},
        TOTALS.filter((k) => k in plan.totals).map((k) =>
          h("tr", {}, h("th", { text: t(`t_${k}`) }), h("td", { class: "num", text: numberFormat(plan.totals[k]) })),
        ),
      ),
    ),
    h("h3", { text: t("biggest_moves") }),
    h(
      "table",
      { class: "moves" },
      h("thead", {}, h("tr", {}, h("th", { text: t("from_to") }), h("th", { class: "num", text: t("su") }), h("th", { class: "num", text: t("distance") }))),
      h(
        "tbody",
        {},
        moves.slice(0, 10).map((m) =>
          h(
            "tr",
            {},
            h("td", { text: `${gridName(m.from_grid)} → ${gridName(m.to_grid)}` }),
            h("td", { class: "num", text: numberFormat(m.su) }),
            h("td", { class: "num", text: numberFormat(m.distance_km, 1) }),
          ),
        ),
      ),
    ),
  );
}

/** Market view: township and species selectors, two fan charts (head sold, price). */
export class MarketView {
  constructor(root) {
    this.root = root;
    this.generation = 0;
    this.township = null;
    this.species = "yak";
  }

  reset() {
    this.generation++;
    clear(this.root);
  }

  render(townships, townshipName) {
    this.township ??= townships[0]?.township_id;
    const tSelect = h(
      "select",
      { id: "market-township" },
      townships.map((tw) => h("option", { value: tw.township_id, selected: tw.township_id === this.township, text: townshipName(tw.township_id) })),
    );
    const sSelect = h(
      "select",
      { id: "market-species" },
      ["yak", "sheep", "goat", "horse"].map((sp) => h("option", { value: sp, selected: sp === this.species, text: t(sp) })),
    );
    this.charts = h("div", { class: "charts" });
    tSelect.addEventListener("change", () => {
      this.township = tSelect.value;
      this.load();
    });
    sSelect.addEventListener("change", () => {
      this.species = sSelect.value;
      this.load();
    });
    clear(this.root).append(
      h("h2", { text: t("market_title") }),
      h(
        "div",
        { class: "controls" },
        h("label", {}, `${t("township")} `, tSelect),
        h("label", {}, `${t("species")} `, sSelect),
      ),
      this.charts,
    );
    return this.load();
  }

  async load() {
    const generation = ++this.generation;
    clear(this.charts).append(h("p", { class: "hint", text: t("loading") }));
    const query = { township_id: this.township, species: this.species };
    try {
      const [fc, hist] = await Promise.all([
        api("/v1/market/forecast", { query }),
        api("/v1/market/history", { query: { ...query, months: 36, lang: null } }),
      ]);
      if (generation !== this.generation) return;
      clear(this.charts).append(
        fanChart({
          title: t("head_sold"),
          history: hist.points.map((p) => ({ month: p.month, value: p.head_sold })),
          forecast: fc.head_sold,
          sentence: fc.head_sold[0]?.explanation.sentence,
        }),
        fanChart({
          title: t("price"),
          history: hist.points.map((p) => ({ month: p.month, value: p.price_yuan_per_head })),
          forecast: fc.price,
          sentence: fc.price[0]?.explanation.sentence,
          zero: false,
        }),
      );
    } catch (err) {
      if (generation === this.generation) clear(this.charts).append(errorLine(err));
    }
  }
}

/** Dispute watch-list: the top 20 grids; a click on a row calls ``onPick(grid_id)``. */
export async function showWatchlist(root, onPick, townshipName) {
  clear(root).append(h("p", { class: "hint", text: t("loading") }));
  const list = await api("/v1/dispute/watchlist", { query: { top: 20 } });
  const rows = list.items.map((item) => {
    const row = h(
      "tr",
      { tabindex: "0", "data-grid": item.grid_id, class: "pick" },
      h("td", { class: "num", text: item.rank }),
      h("td", {}, h("b", { text: item.grid_name }), h("div", { class: "muted", text: `${item.grid_id} · ${townshipName(item.township_id)}` })),
      h("td", { class: "num", text: percent(item.probability) }),
      h("td", {}, badge("band", item.band, t(`band_${item.band}`))),
      h("td", { class: "reason", text: item.reason }),
    );
    row.addEventListener("click", () => onPick(item.grid_id));
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onPick(item.grid_id);
      }
    });
    return row;
  });
  clear(root).append(
    h("h2", { text: t("watch_title", { n: list.items.length }) }),
    h("p", { class: "muted", text: `${t("watch_month", { month: monthLabel(list.month) })} · ${t("watch_hint")}` }),
    h(
      "table",
      { class: "watchlist" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", { text: t("rank") }), h("th", { text: t("grid") }), h("th", { text: t("probability") }), h("th", { text: t("band") }), h("th", { text: t("reason") })),
      ),
      h("tbody", {}, rows),
    ),
  );
  return list;
}
