// The side panel of one grid area: season assessment with its explanation, a live what-if, dispute risk.

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { monthLabel, numberFormat, percent, t } from "./i18n.js";
import { badge, contributionBars, errorLine, loadingLine, probabilityBars } from "./widgets.js";

const SPECIES = ["yak", "sheep", "goat", "horse"];

function stat(label, value, unit, extra) {
  return h(
    "div",
    { class: "stat" },
    h("span", { class: "stat-label", text: label }),
    h("span", { class: "stat-value" }, h("b", { text: value }), unit ? ` ${unit}` : ""),
    extra ? h("span", { class: "stat-extra", text: extra }) : null,
  );
}

function assessmentBlock(a) {
  return h(
    "div",
    { class: "stats" },
    stat(
      t("yield"),
      numberFormat(a.yield_kg_ha.predicted),
      t("unit_yield"),
      t("yield_range", { low: numberFormat(a.yield_kg_ha.low), high: numberFormat(a.yield_kg_ha.high) }),
    ),
    stat(
      t("capacity"),
      numberFormat(a.capacity_su),
      t("su"),
      `${numberFormat(a.capacity_range_su[0])}–${numberFormat(a.capacity_range_su[1])}`,
    ),
    stat(t("stocking"), numberFormat(a.stocking_su), t("su")),
    stat(t("pressure"), numberFormat(a.pressure, 2), "", t("unit_pressure")),
    h(
      "div",
      { class: "stat" },
      h("span", { class: "stat-label", text: t("status") }),
      badge("status", a.status, t(`status_${a.status}`)),
    ),
    h(
      "div",
      { class: "stat wide" },
      h("span", { class: "stat-label", text: t("advice") }),
      badge("action", a.advice.action, t(`action_${a.advice.action}`)),
      h("span", { class: "advice-text", text: a.advice.text }),
    ),
  );
}

/**
 * The yield's reasons in kg DM/ha when the answer gives them (``display_*``): each bar is the input's share of
 * the move from the yield expected for this grid to the forecast, so the expected yield, the usual gap of all
 * grids' seasons and the bars add up to the forecast. Without them (a model trained on kg DM/ha itself): the
 * model's own scale.
 */
function yieldExplanation(e) {
  if (e.display_base === null || e.display_base === undefined) {
    return contributionBars(e, t("bars_caption_raw", { base: numberFormat(e.base_value, 2) }), 2);
  }
  const average = e.display_average ?? 0;
  const gap = {
    feature: "model_average",
    label: t("average_gap"),
    display_value: "",
    contribution: average,
    direction: average > 0 ? "up" : "down",
    text: t("average_gap"),
  };
  const reasons = e.reasons.map((r) => ({ ...r, contribution: r.display_contribution }));
  const block = contributionBars({ ...e, reasons: average ? [...reasons, gap] : reasons }, t("bars_caption"), 0);
  const kg = (key, value) => h("p", { class: `yield-${key}`, "data-testid": `yield-${key}` }, t(key === "base" ? "expected_for_grid" : "forecast_from_base", { kg: numberFormat(value) }));
  block.querySelector(".bars").before(kg("base", e.display_base));
  block.querySelector(".bars").after(kg("forecast", e.display_prediction));
  return block;
}

/** Panel controller: ``open(gridId, season)`` fetches and renders; stale answers are dropped. */
export class GridPanel {
  constructor(root, { gridInfo, townshipName }) {
    this.root = root;
    this.gridInfo = gridInfo;
    this.townshipName = townshipName;
    this.generation = 0;
    this.whatIfTimer = null;
  }

  reset() {
    this.generation++;
    this.current = null;
    this.root.classList.remove("open");
    clear(this.root).append(h("p", { class: "hint", text: t("grid_pick") }));
  }

  /** Without a grid chosen: the county's season at a glance (counts by status and advice, totals), from
   * the season's summary (``g``: columns of every grid, see api.countySummary). */
  overview(g, season) {
    this.root.classList.remove("open");
    const count = (list) => list.reduce((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});
    const status = count(g.status);
    const action = count(g.action);
    const sum = (list) => list.reduce((acc, v) => acc + (Number.isFinite(v) ? v : 0), 0);
    const row = (label, value) => h("tr", {}, h("th", {}, label), h("td", { class: "num", text: value }));
    const grids = (kind, key, counts) => row(badge(kind, key, t(`${kind}_${key}`)), t("grids_count", { n: counts[key] ?? 0 }));
    clear(this.root).append(
      h("h2", { text: t("overview_title", { season: t(`season_${season}`) }) }),
      h("p", { class: "hint", text: t("grid_pick") }),
      h(
        "table",
        { class: "totals" },
        h(
          "tbody",
          {},
          ["over", "balanced", "under"].map((k) => grids("status", k, status)),
          ["rest", "rotate", "graze"].map((k) => grids("action", k, action)),
          row(`${t("stocking")} (${t("su")})`, numberFormat(sum(g.stocking_su))),
          row(`${t("capacity")} (${t("su")})`, numberFormat(sum(g.capacity_su))),
          row(`${t("su_to_move_total")} (${t("su")})`, numberFormat(sum(g.su_to_move))),
        ),
      ),
    );
  }

  /** Fetch and show grid ``gridId``'s season assessment and dispute risk (``disputeFirst``: the watch-list's
   * order); the heading takes the focus when ``focus`` is true (a grid picked from the search). */
  async open(gridId, season, { disputeFirst = false, focus = false } = {}) {
    const generation = ++this.generation;
    this.current = { gridId, season, disputeFirst };
    this.root.classList.add("open");
    const info = this.gridInfo(gridId);
    const head = h(
      "header",
      { class: "panel-head" },
      h("h2", { text: info.name, tabindex: "-1" }),
      h("p", { class: "muted", text: `${gridId} · ${t("township")} ${this.townshipName(info.township_id)} · ${t("area")} ${numberFormat(info.area_km2, 1)} ${t("km2")}` }),
    );
    const grazing = h("section", { class: "grazing", "data-testid": "grazing" }, loadingLine());
    const dispute = h("section", { class: "dispute", "data-testid": "dispute" }, loadingLine());
    clear(this.root).append(head, ...(disputeFirst ? [dispute, grazing] : [grazing, dispute]));
    if (focus) head.querySelector("h2").focus();
    const [a, d] = await Promise.allSettled([
      api.grazingAssessment(gridId, season),
      api.disputeRisk(gridId),
    ]);
    if (generation !== this.generation || [a, d].some((r) => api.isStale(r.reason))) return;
    clear(grazing);
    if (a.status === "fulfilled") this.#renderGrazing(grazing, a.value);
    else grazing.append(errorLine(a.reason));
    clear(dispute);
    if (d.status === "fulfilled") this.#renderDispute(dispute, d.value);
    else dispute.append(errorLine(d.reason));
  }

  #renderGrazing(root, a) {
    root.append(
      h("h3", {}, t("assessment", { season: t(`season_${a.season}`) }), h("small", { class: "muted", text: ` ${a.season_year} · ${t("as_of", { month: monthLabel(a.as_of_month) })}` })),
      assessmentBlock(a),
      h("h4", { text: t("why") }),
      yieldExplanation(a.explanation),
    );
    root.querySelector(".explanation").dataset.testid = "grazing-explanation";
    root.append(this.#whatIfForm(a));
  }

  #whatIfForm(base) {
    const inputs = {};
    const fields = SPECIES.map((sp) => {
      inputs[sp] = h("input", { type: "number", name: sp, value: "0", step: "1", min: "-100000", max: "100000", inputmode: "numeric" });
      return h("label", { class: "field" }, h("span", { text: t(sp) }), inputs[sp]);
    });
    inputs.rest = h("input", { type: "checkbox", name: "rest" });
    inputs.drought = h("input", { type: "checkbox", name: "drought" });
    const result = h("div", { class: "whatif-result", "aria-live": "polite" });
    const form = h(
      "form",
      { class: "whatif", autocomplete: "off" },
      h("h4", { text: t("whatif") }),
      h("p", { class: "muted", text: t("whatif_help") }),
      h("div", { class: "whatif-fields" }, fields),
      h("label", { class: "check" }, inputs.rest, ` ${t("rest")}`),
      h("label", { class: "check" }, inputs.drought, ` ${t("drought")}`),
      result,
    );
    const generation = this.generation;
    const run = async () => {
      const addHead = Object.fromEntries(SPECIES.map((sp) => [sp, Math.trunc(Number(inputs[sp].value) || 0)]));
      const change = { addHead, rest: inputs.rest.checked, drought: inputs.drought.checked };
      const changed = Object.values(addHead).some((v) => v !== 0) || change.rest || change.drought;
      if (!changed) {
        clear(result).append(h("p", { class: "muted", text: t("whatif_none") }));
        return;
      }
      try {
        const w = await api.grazingWhatIf(base.grid_id, base.season, change);
        if (generation !== this.generation) return;
        clear(result).append(
          h("h5", { text: t("whatif_result") }),
          h(
            "p",
            { class: "compare" },
            `${t("pressure")} ${numberFormat(base.pressure, 2)} → `,
            h("b", { text: numberFormat(w.pressure, 2) }),
            " ",
            badge("status", w.status, t(`status_${w.status}`)),
            " ",
            badge("action", w.advice.action, t(`action_${w.advice.action}`)),
          ),
          h("p", { class: "compare", text: `${t("stocking")} ${numberFormat(base.stocking_su)} → ${numberFormat(w.stocking_su)} ${t("su")} · ${t("capacity")} ${numberFormat(base.capacity_su)} → ${numberFormat(w.capacity_su)} ${t("su")}` }),
          h("p", { class: "advice-text", text: w.advice.text }),
          h("p", { class: "sentence small", text: w.explanation.sentence }),
        );
      } catch (err) {
        // "add_head.yak" -> what was typed in the yak field
        const valueOf = (field) => inputs[String(field).split(".").pop()]?.value;
        if (generation === this.generation && !api.isStale(err)) clear(result).append(errorLine(err, { valueOf }));
      }
    };
    const later = () => {
      clearTimeout(this.whatIfTimer);
      this.whatIfTimer = setTimeout(run, 250);
    };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      run();
    });
    return form;
  }

  #renderDispute(root, d) {
    root.append(
      h("h3", {}, t("dispute"), h("small", { class: "muted", text: ` ${monthLabel(d.month)}` })),
      h(
        "div",
        { class: "stats" },
        stat(t("probability"), percent(d.probability), ""),
        h("div", { class: "stat" }, h("span", { class: "stat-label", text: t("band") }), badge("band", d.band, t(`band_${d.band}`))),
      ),
      probabilityBars(d.explanation, t("bars_caption_dispute"), t("bars_caption_dispute_raw")),
    );
  }
}
