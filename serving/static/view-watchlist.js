// The dispute watch-list view: the grids most at risk next month, each with its main reason, of the county or
// of one township (the map shows the dispute layer beside it). Picking a row outlines its grid on the map and
// opens its risk below the list; the list and the focus stay where they are.

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { downloadCsv, printSection } from "./export.js";
import { monthLabel, percent, t } from "./i18n.js";
import { badge, errorLine, loadingLine } from "./widgets.js";

const TOP = 20;
const CSV_COLUMNS = ["rank", "grid_id", "grid_name", "township", "probability_pct", "band", "reason"];

export class WatchlistView {
  /** ``root``: the side panel's list; ``onPick(grid_id)``; ``townships``: [{township_id}]; ``townshipName(id)``. */
  constructor(root, { onPick, townshipName }) {
    Object.assign(this, { root, onPick, townshipName });
    this.township = ""; // "": the whole county
    this.generation = 0;
    this.list = null;
  }

  reset() {
    this.generation++;
    this.list = null;
    this.township = "";
    clear(this.root);
  }

  /** Fetch the list (of ``this.township`` or the county) and show it; ``townships`` fill the filter. */
  async show(townships) {
    const generation = ++this.generation;
    this.townships = townships;
    clear(this.root).append(loadingLine());
    let list;
    try {
      list = await api.watchlist(TOP, this.township || null);
    } catch (err) {
      if (generation === this.generation && !api.isStale(err)) clear(this.root).append(errorLine(err));
      return;
    }
    if (generation !== this.generation) return;
    this.list = list;
    this.#render();
  }

  /** The list as rows for the CSV file, in the page's language. */
  rows() {
    return (this.list?.items ?? []).map((item) => ({
      rank: item.rank,
      grid_id: item.grid_id,
      grid_name: item.grid_name,
      township: this.townshipName(item.township_id),
      probability_pct: (100 * item.probability).toFixed(1),
      band: t(`band_${item.band}`),
      reason: item.reason,
    }));
  }

  #render() {
    const list = this.list;
    const filter = h(
      "select",
      { id: "watch-township" },
      h("option", { value: "", text: t("watch_all_townships"), selected: !this.township }),
      (this.townships ?? []).map((tw) => h("option", { value: tw.township_id, text: this.townshipName(tw.township_id), selected: tw.township_id === this.township })),
    );
    filter.addEventListener("change", async () => {
      this.township = filter.value;
      await this.show(this.townships);
      this.root.querySelector("#watch-township")?.focus();
    });
    const rows = list.items.map((item) => {
      const row = h(
        "tr",
        { tabindex: "0", "data-grid": item.grid_id, class: "pick", "aria-label": `${item.rank}. ${item.grid_name}, ${percent(item.probability)}, ${t(`band_${item.band}`)}` },
        h("td", { class: "num", text: item.rank }),
        h("td", {}, h("b", { text: item.grid_name }), h("div", { class: "muted", text: `${item.grid_id} · ${this.townshipName(item.township_id)}` })),
        h("td", { class: "num", text: percent(item.probability) }),
        h("td", {}, badge("band", item.band, t(`band_${item.band}`))),
        h("td", { class: "reason", text: item.reason }),
      );
      const pick = () => {
        for (const r of this.root.querySelectorAll("tr.pick[aria-current]")) r.removeAttribute("aria-current");
        row.setAttribute("aria-current", "true");
        this.onPick(item.grid_id);
      };
      row.addEventListener("click", pick);
      row.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          pick();
        }
      });
      return row;
    });
    const csv = h("button", { type: "button", id: "watch-csv", text: t("export_csv") });
    const print = h("button", { type: "button", id: "watch-print", text: t("export_print") });
    csv.addEventListener("click", () => downloadCsv(`watch-list-${list.month}${this.township ? `-${this.township}` : ""}.csv`, this.rows(), CSV_COLUMNS, (c) => t(`watch_col_${c}`)));
    print.addEventListener("click", () => printSection("watch"));
    clear(this.root).append(
      h("h2", { text: t("watch_title", { n: list.items.length }) }),
      h("p", { class: "muted", text: `${t("watch_month", { month: monthLabel(list.month) })} · ${t("watch_hint")}` }),
      list.level ? h("p", { class: "muted", id: "watch-level", text: list.level.text }) : "",
      h("div", { class: "controls no-print" }, h("label", {}, `${t("township")} `, filter), csv, print),
      h(
        "table",
        { class: "watchlist" },
        h("caption", { class: "visually-hidden", text: t("watch_title", { n: list.items.length }) }),
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col", text: t("rank") }), h("th", { scope: "col", text: t("grid") }), h("th", { scope: "col", text: t("probability") }), h("th", { scope: "col", text: t("band") }), h("th", { scope: "col", text: t("reason") })),
        ),
        h("tbody", {}, rows),
      ),
    );
  }
}
