// The data-quality view (county staff): a month's reporting and on-time rates, a table per township, the
// missing and late grids (also painted on the map: the "missing reports" layer), the flagged values, and
// the button that closes the month.

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { monthLabel, numberFormat, percent, t } from "./i18n.js";
import { errorLine, legendList, loadingLine } from "./widgets.js";

const COLOURS = { missing: "#d73027", late: "#fdae61", received: "#4575b4" };
const COLUMNS = [
  { key: "name", label: "township", text: true },
  { key: "expected", label: "dq_expected" },
  { key: "received", label: "dq_received" },
  { key: "reporting_rate", label: "dq_reporting_rate", rate: true },
  { key: "on_time_rate", label: "dq_on_time_rate", rate: true },
  { key: "late", label: "dq_late" },
];

export class QualityView {
  /** ``map``: the CountyMap; ``onClosed(answer)``: a month was closed (answers elsewhere are stale). */
  constructor({ root, map, legend, gridName, townshipName, onClosed }) {
    Object.assign(this, { root, map, legendRoot: legend, gridName, townshipName, onClosed });
    this.reset();
  }

  reset() {
    this.data = null;
    this.month = null; // null: the service's latest month
    this.sort = { key: "reporting_rate", ascending: true }; // worst first
    this.closed = null;
    this.asOf = null; // the last closed month ("YYYY-MM-01"), known to keys that may close months; else null
    clear(this.root);
  }

  /** Fetch the month's quality (``data``: an answer already fetched) and draw it; ``current()`` false: moved on. */
  async show(current = () => true, data = null) {
    if (data && !this.month) this.data = data;
    if (!this.data) {
      clear(this.root).append(h("h2", { text: t("dq_title_plain") }), loadingLine());
      try {
        this.data = await api.dataQuality(this.month);
      } catch (err) {
        if (current()) clear(this.root).append(h("h2", { text: t("dq_title_plain") }), errorLine(err));
        return;
      }
    }
    if (!current()) return;
    this.#paint();
    this.#render();
  }

  /** Draw again in the current language (names and months; the numbers are the same). */
  relabel() {
    if (!this.data) return;
    this.#paint();
    this.#render();
  }

  #state(id) {
    if (!this.data) return null;
    if (this.data.missing_grids.includes(id)) return "missing";
    if (this.data.late_grids.includes(id)) return "late";
    return "received";
  }

  /** The tooltip line of a grid on the "missing reports" layer. */
  hoverLine(id) {
    const state = this.#state(id);
    return state ? `${t("layer_missing")}: ${t(`dq_${state}`)}` : "";
  }

  #paint() {
    this.map.paint((id) => COLOURS[this.#state(id)], `quality-${this.data.month}`);
    clear(this.legendRoot).append(
      h("strong", { text: `${t("layer_missing")} · ${monthLabel(this.data.month)}` }),
      legendList(COLOURS, (k) => t(`dq_${k}`)),
    );
  }

  #townshipTable() {
    const rows = this.data.townships.map((r) => ({ ...r, name: this.townshipName(r.key) }));
    const { key, ascending } = this.sort;
    const column = COLUMNS.find((c) => c.key === key);
    const compare = (a, b) => {
      const x = a[key];
      const y = b[key];
      const nx = x === null || x === undefined;
      const ny = y === null || y === undefined;
      if (nx || ny) return Number(nx) - Number(ny); // no rate (nothing expected or received): last
      const order = column.text ? String(x).localeCompare(String(y)) : x - y;
      return ascending ? order : -order;
    };
    rows.sort((a, b) => compare(a, b) || String(a.key).localeCompare(String(b.key)));
    const head = COLUMNS.map((c) => {
      const sorted = c.key === key;
      const button = h("button", { type: "button", class: "sort", "data-sort": c.key, text: `${t(c.label)}${sorted ? (ascending ? " ▲" : " ▼") : ""}` });
      button.addEventListener("click", () => {
        this.sort = { key: c.key, ascending: sorted ? !ascending : true };
        this.#render();
        this.root.querySelector(`button[data-sort="${c.key}"]`)?.focus();
      });
      return h("th", { scope: "col", class: c.text ? "" : "num", "aria-sort": sorted ? (ascending ? "ascending" : "descending") : null }, button);
    });
    const cell = (r, c) => {
      if (c.text) return h("th", { scope: "row" }, r.name, h("span", { class: "muted", text: ` ${r.key}` }));
      return h("td", { class: "num", text: c.rate ? percent(r[c.key]) : numberFormat(r[c.key]) });
    };
    return h(
      "table",
      { class: "dq-townships", id: "dq-townships" },
      h("caption", { text: t("dq_by_township") }),
      h("thead", {}, h("tr", {}, head)),
      h("tbody", {}, rows.map((r) => h("tr", { "data-township": r.key }, COLUMNS.map((c) => cell(r, c))))),
    );
  }

  #gridList(ids, id, kind) {
    if (!ids.length) return h("p", { class: "muted", id, text: t("dq_none") });
    return h(
      "ul",
      { class: `grid-chips ${kind}`, id },
      ids.map((g) => h("li", { "data-grid": g, text: this.gridName(g) === g ? g : `${this.gridName(g)} ${g}` })),
    );
  }

  #flags() {
    const flags = this.data.flags;
    if (!flags.length) return h("p", { class: "muted", id: "dq-flags", text: t("dq_none") });
    return h(
      "table",
      { class: "dq-flags", id: "dq-flags" },
      h(
        "thead",
        {},
        h("tr", {}, ["grid", "dq_field", "dq_value", "dq_rule", "status"].map((k) => h("th", { scope: "col", text: t(k) }))),
      ),
      h(
        "tbody",
        {},
        flags.map((f) =>
          h(
            "tr",
            { "data-flag": f.id },
            h("td", { text: f.grid_id }),
            h("td", { text: f.field }),
            h("td", { class: "num", text: f.value ?? "–" }),
            h("td", { class: "reason", text: f.detail ?? f.rule }),
            h("td", { text: f.status === "open" ? t("dq_open") : f.status }),
          ),
        ),
      ),
    );
  }

  #render() {
    const d = this.data;
    const month = d.month.slice(0, 7);
    const picker = h("input", { type: "month", id: "dq-month", value: month });
    picker.addEventListener("change", () => {
      if (/^\d{4}-\d{2}$/.test(picker.value)) this.#load(picker.value);
    });
    const c = d.county;
    clear(this.root).append(
      h("h2", { text: t("dq_title", { month: monthLabel(d.month) }) }),
      h("label", { class: "inline" }, h("span", { text: t("month") }), picker),
      h(
        "div",
        { class: "stats dq-stats" },
        stat(t("dq_reporting_rate"), percent(c.reporting_rate), t("dq_of", { received: c.received, expected: c.expected }), "dq-reporting-rate"),
        stat(t("dq_on_time_rate"), percent(c.on_time_rate), t("dq_on_time_note", { days: d.on_time_days, late: c.late }), "dq-on-time-rate"),
      ),
      this.#townshipTable(),
      h("section", {}, h("h3", { text: `${t("dq_missing_grids")} (${d.missing_grids.length})` }), this.#gridList(d.missing_grids, "dq-missing", "missing")),
      h("section", {}, h("h3", { text: `${t("dq_late_grids")} (${d.late_grids.length})` }), this.#gridList(d.late_grids, "dq-late", "late")),
      h("section", {}, h("h3", { text: `${t("dq_flags")} (${d.flags.length})` }), this.#flags()),
      this.asOf ? this.#closeSection(d.month) : h("span", { hidden: true }),
    );
  }

  /** Months close in order: the button for the month after the last closed one; a way to it from later ones. */
  #closeSection(iso) {
    const next = nextMonth(this.asOf);
    const parts = [h("p", { class: "muted", text: t("dq_close_help") })];
    if (iso <= this.asOf) parts.push(h("p", { id: "dq-is-closed", text: t("dq_is_closed", { month: monthLabel(iso) }) }));
    else if (iso === next) {
      const close = h("button", { type: "button", id: "dq-close", class: "primary", text: t("dq_close", { month: monthLabel(iso) }) });
      close.addEventListener("click", () => this.#close(iso));
      parts.push(close);
    } else {
      const go = h("button", { type: "button", id: "dq-go-next", text: t("dq_show", { month: monthLabel(next) }) });
      go.addEventListener("click", () => this.#load(next.slice(0, 7)));
      parts.push(h("p", { id: "dq-in-order", text: t("dq_in_order", { next: monthLabel(next) }) }), go);
    }
    parts.push(h("p", { id: "dq-close-result", role: "status", class: this.closed ? "ok" : "", text: this.closed ?? "" }));
    return h("section", { class: "dq-close" }, parts);
  }

  #load(month) {
    this.month = month;
    this.data = null;
    return this.show();
  }

  async #close(iso) {
    const c = this.data.county;
    const ask = t("dq_close_confirm", { month: monthLabel(iso), received: c.received, expected: c.expected, rate: percent(c.reporting_rate) });
    if (!window.confirm(ask)) return;
    const out = this.root.querySelector("#dq-close-result");
    const button = this.root.querySelector("#dq-close");
    button.disabled = true;
    out.className = "";
    out.textContent = t("loading");
    try {
      const answer = await api.closeMonth(iso.slice(0, 7));
      const carried = answer.carried_grids?.length ?? 0;
      this.closed = `${t("dq_closed", { month: monthLabel(answer.month), as_of: monthLabel(answer.as_of) })}${carried ? ` ${t("dq_carried", { n: carried })}` : ""}`;
      this.asOf = answer.as_of;
      this.onClosed?.(answer);
      await this.#load(iso.slice(0, 7)); // carried reports now count: the month as it closed
    } catch (err) {
      clear(out).append(errorLine(err));
      button.disabled = false;
    }
  }
}

function stat(label, value, extra, id) {
  return h(
    "div",
    { class: "stat", id },
    h("span", { class: "stat-label", text: label }),
    h("span", { class: "stat-value" }, h("b", { text: value })),
    h("span", { class: "stat-extra", text: extra }),
  );
}

/** "YYYY-MM-01" of the month after ``iso``. */
function nextMonth(iso) {
  const [y, m] = iso.split("-").map(Number);
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, "0")}-01`;
}
