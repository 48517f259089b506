// The dispute watch-list view: the grids most at risk next month, each with its main reason (the map
// shows the dispute layer beside it).

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { monthLabel, percent, t } from "./i18n.js";
import { badge, loadingLine } from "./widgets.js";

const TOP = 20;

/** Dispute watch-list: the ``TOP`` grids by risk next month; a click on a row calls ``onPick(grid_id)``. */
export async function showWatchlist(root, onPick, townshipName) {
  clear(root).append(loadingLine());
  const list = await api.watchlist(TOP);
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
