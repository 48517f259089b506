// The rotation view: the county plan of a season painted on the map (actions, arrows of the largest
// moves), its legend, and the plan's sentence, totals and biggest moves in the side panel.

import * as api from "./api.js";
import { clear, h, NO_DATA } from "./dom.js";
import { downloadCsv, printSection } from "./export.js";
import { numberFormat, t } from "./i18n.js";
import { legendList } from "./widgets.js";

export const ROTATION_COLOURS = {
  rest: "#a50026",
  reserve: "#762a83",
  destock: "#f46d43",
  send: "#fdae61",
  receive: "#74add1",
  graze: "#b8e186", // "as usual": a light green that stands apart from the map's background and from no data
};
const PLAN_COLUMNS = ["grid_id", "grid_name", "township_id", "action", "su_before", "su_after", "capacity_su", "pressure_after"];
const MOVE_COLUMNS = ["from_grid", "from_name", "to_grid", "to_name", "su", "distance_km"];
const MAX_ARROWS = 60;
const TOTALS = ["grids_resting", "reserves", "su_moved", "moves", "moves_within_township", "moves_across_township", "su_km", "shortfall_su", "hay_t"];

export class RotationView {
  /** ``root``: the side panel; ``legend``: the map's legend; ``gridName(id)``; ``setStatus(text)``. */
  constructor({ root, legend, map, gridName, setStatus }) {
    Object.assign(this, { root, legendRoot: legend, map, gridName, setStatus });
    this.plans = new Map(); // season -> plan
  }

  /** Forget every plan (log out, or a new language: sentences are fetched again). */
  reset() {
    this.plans.clear();
  }

  /** Fetch the season's plan (once) and show it, unless ``current()`` says the user moved on. */
  async show(season, current) {
    this.setStatus(t("loading"));
    let plan = this.plans.get(season);
    if (!plan) {
      plan = await api.rotationPlan(season);
      this.plans.set(season, plan);
    }
    if (!current()) return;
    this.setStatus("");
    render(plan, this.root, this.map, this.gridName);
    this.root.querySelector(".export").append(...this.#exportButtons(plan));
    clear(this.legendRoot).append(h("strong", { text: t("tab_rotation") }), legendList(ROTATION_COLOURS, (k) => t(`rot_${k}`)));
  }

  #exportButtons(plan) {
    const name = `rotation-plan-${plan.season}-${plan.season_year}`;
    const grids = h("button", { type: "button", id: "rotation-csv", text: t("export_plan_csv") });
    const moves = h("button", { type: "button", id: "rotation-moves-csv", text: t("export_moves_csv") });
    const print = h("button", { type: "button", id: "rotation-print", text: t("export_print") });
    grids.addEventListener("click", () =>
      downloadCsv(`${name}.csv`, plan.grids.map((g) => ({ ...g, grid_name: this.gridName(g.grid_id), action: t(`rot_${g.action}`) })), PLAN_COLUMNS, (c) => t(`plan_col_${c}`)),
    );
    moves.addEventListener("click", () =>
      downloadCsv(`${name}-moves.csv`, plan.moves.map((m) => ({ ...m, from_name: this.gridName(m.from_grid), to_name: this.gridName(m.to_grid) })), MOVE_COLUMNS, (c) => t(`plan_col_${c}`)),
    );
    print.addEventListener("click", () => printSection("rotation"));
    return [grids, moves, print];
  }

  /** The tooltip line of grid ``id`` in the season's plan (none before the plan is here). */
  hoverLine(id, season) {
    const g = this.plans.get(season)?.grids.find((x) => x.grid_id === id);
    return g ? `${t(`rot_${g.action}`)} · ${numberFormat(g.su_before)} → ${numberFormat(g.su_after)} ${t("su")}` : null;
  }
}

/** Paint the plan on the map (actions, arrows of the largest moves) and fill the side panel. */
function render(plan, root, map, gridName) {
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
    h("div", { class: "buttons export no-print" }),
    legendList(ROTATION_COLOURS, (k) => `${t(`rot_${k}`)} (${counts[k] ?? 0})`),
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
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("from_to") }), h("th", { scope: "col", class: "num", text: t("su") }), h("th", { scope: "col", class: "num", text: t("distance") }))),
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
