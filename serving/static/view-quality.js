// The data-quality view (county staff): a month's reporting and on-time rates, a table per township, the
// missing and late grids (also painted on the map: the "missing reports" layer), the flagged values, and
// the button that closes the month. County staff also upload a township's file of reports here and follow
// up each open flag (confirmed or corrected, with a reason, in a small form under its row).

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { getLang, monthLabel, numberFormat, percent, t } from "./i18n.js";
import { errorLine, fieldLabel, legendList, loadingLine } from "./widgets.js";

const COLOURS = { missing: "#d73027", late: "#fdae61", received: "#4575b4" };
const COLUMNS = [
  { key: "name", label: "township", text: true },
  { key: "expected", label: "dq_expected" },
  { key: "received", label: "dq_received" },
  { key: "reporting_rate", label: "dq_reporting_rate", rate: true },
  { key: "on_time_rate", label: "dq_on_time_rate", rate: true },
  { key: "late", label: "dq_late" },
];
// The counts of an upload's answer, in this order (``rows`` is said apart; a count the answer lacks is 0).
const UPLOAD_COUNTS = ["inserted", "updated", "unchanged", "duplicate", "refused", "flagged"];
const RESOLUTIONS = { confirmed: "dq_confirm", corrected: "dq_corrected" };
// Per herder chief (the data-quality answer's ``chiefs``): the words here, so this view's addition stays in one file.
const CHIEFS_SHOWN = 30;
const CHIEF_WORDS = {
  zh: { caption: "各牧长报送情况（报送率最低在前）", chief: "牧长" },
  en: { caption: "By herder chief (lowest reporting rate first)", chief: "Herder chief" },
};

/** ``t(key)`` when the page has a sentence for it, else ``fallback`` (a raw value from the service). */
function known(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

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
    this.staff = false; // a key that may upload files and follow up flags (planner, admin)
    this.fields = []; // the report form's items: their display labels
    this.uploaded = null; // the last upload's {name, answer} or {name, error}
    this.resolving = null; // the flag whose follow-up form is open: {id, status}
    this.flagNote = "";
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

  /** The chiefs who report least (reporting rate, then on-time rate, lowest first): the first follow-up calls. */
  #chiefTable() {
    const chiefs = [...(this.data.chiefs ?? [])];
    if (!chiefs.length) return h("span", { hidden: true });
    const rate = (x) => (x === null || x === undefined ? 2 : x); // no rate yet: last
    chiefs.sort((a, b) => rate(a.reporting_rate) - rate(b.reporting_rate) || rate(a.on_time_rate) - rate(b.on_time_rate) || String(a.key).localeCompare(String(b.key)));
    const words = CHIEF_WORDS[getLang()] ?? CHIEF_WORDS.en;
    const shown = chiefs.slice(0, CHIEFS_SHOWN);
    const heads = [words.chief, ...COLUMNS.slice(1).map((c) => t(c.label))];
    return h(
      "details",
      { class: "dq-chiefs", id: "dq-chiefs" },
      h("summary", { text: `${words.caption} (${shown.length} / ${chiefs.length})` }),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, heads.map((k) => h("th", { scope: "col", text: k })))),
        h(
          "tbody",
          {},
          shown.map((r) =>
            h(
              "tr",
              { "data-chief": r.key },
              h("th", { scope: "row", text: r.key }),
              COLUMNS.slice(1).map((c) => h("td", { class: "num", text: c.rate ? percent(r[c.key]) : numberFormat(r[c.key]) })),
            ),
          ),
        ),
      ),
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
    const heads = ["grid", "dq_field", "dq_value", "dq_rule", "status", ...(this.staff ? ["dq_actions"] : [])];
    const rows = [];
    for (const f of flags) {
      const actions = this.staff
        ? h("td", { class: "actions" }, f.status === "open" ? Object.keys(RESOLUTIONS).map((status) => this.#resolveButton(f, status)) : null)
        : null;
      rows.push(
        h(
          "tr",
          { "data-flag": f.id, "data-status": f.status },
          h("td", { text: f.grid_id }),
          h("td", { "data-field": f.field, text: fieldLabel(this.fields, f.field) }),
          h("td", { class: "num", text: f.value ?? "–" }),
          h("td", { class: "reason", text: f.detail ?? f.rule }),
          h("td", { class: "flag-status", tabindex: "-1", text: known(`dq_status_${f.status}`, f.status) }),
          actions,
        ),
      );
      if (this.resolving?.id === f.id && f.status === "open") rows.push(this.#resolveRow(f, heads.length));
    }
    return h(
      "table",
      { class: "dq-flags", id: "dq-flags" },
      h("thead", {}, h("tr", {}, heads.map((k) => h("th", { scope: "col", text: t(k) })))),
      h("tbody", {}, rows),
    );
  }

  #resolveButton(flag, status) {
    const open = this.resolving?.id === flag.id && this.resolving.status === status;
    const button = h("button", {
      type: "button",
      "data-resolve": status,
      "aria-expanded": String(open),
      "aria-label": `${t(RESOLUTIONS[status])}: ${flag.grid_id} ${fieldLabel(this.fields, flag.field)}`,
      text: t(RESOLUTIONS[status]),
    });
    button.addEventListener("click", () => {
      this.resolving = open ? null : { id: flag.id, status };
      this.#redrawFlags();
      const focus = open ? `tr[data-flag="${flag.id}"] button[data-resolve="${status}"]` : `#dq-reason-${flag.id}`;
      this.root.querySelector(focus)?.focus();
    });
    return button;
  }

  /** The small form under an open flag's row: the reason, then save or cancel. */
  #resolveRow(flag, span) {
    const { status } = this.resolving;
    const id = `dq-reason-${flag.id}`;
    const input = h("input", { type: "text", id, name: "reason", maxlength: 500, required: true, autocomplete: "off", "aria-describedby": `${id}-msg` });
    const save = h("button", { type: "submit", class: "primary", "data-save": status, text: `${t("dq_save")}: ${t(`dq_status_${status}`)}` });
    const cancel = h("button", { type: "button", "data-cancel": "", text: t("dq_cancel") });
    const msg = h("p", { class: "field-msg", id: `${id}-msg`, "aria-live": "polite" });
    const form = h(
      "form",
      { class: "dq-resolve", id: `dq-resolve-${flag.id}`, novalidate: true, "aria-label": t("dq_resolve_as", { status: t(`dq_status_${status}`) }) },
      h("label", { for: id, text: t("dq_reason") }),
      input,
      save,
      cancel,
      msg,
    );
    const back = () => {
      this.resolving = null;
      this.#redrawFlags();
      this.root.querySelector(`tr[data-flag="${flag.id}"] button[data-resolve="${status}"]`)?.focus();
    };
    cancel.addEventListener("click", back);
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") back();
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const reason = input.value.trim();
      if (!reason) {
        msg.textContent = t("dq_reason_empty");
        msg.className = "field-msg error";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      save.disabled = true;
      try {
        const answer = await api.resolveFlag(flag.id, status, reason);
        const i = this.data.flags.findIndex((f) => f.id === flag.id);
        if (i >= 0) this.data.flags[i] = { ...this.data.flags[i], ...answer };
        this.resolving = null;
        this.flagNote = t("dq_flag_done", {
          grid: answer.grid_id,
          field: fieldLabel(this.fields, answer.field),
          status: known(`dq_status_${answer.status}`, answer.status),
        });
        this.#redrawFlags();
        this.root.querySelector(`tr[data-flag="${flag.id}"] .flag-status`)?.focus();
      } catch (err) {
        save.disabled = false;
        clear(msg).append(errorLine(err));
      }
    });
    return h("tr", { class: "dq-resolve-row", "data-resolving": flag.id }, h("td", { colspan: span }, form));
  }

  /** Draw the flags table again (and the note of the last follow-up), keeping the rest of the view. */
  #redrawFlags() {
    this.root.querySelector("#dq-flags")?.replaceWith(this.#flags());
    const note = this.root.querySelector("#dq-flag-result");
    if (note) note.textContent = this.flagNote;
  }

  // --- a township's file of reports ----------------------------------------------------------------
  #uploadSection() {
    const input = h("input", {
      type: "file",
      id: "dq-file",
      name: "file",
      accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "aria-describedby": "dq-upload-help",
    });
    const send = h("button", { type: "submit", id: "dq-upload-send", class: "primary", text: t("dq_upload_send") });
    const form = h(
      "form",
      { id: "dq-upload", class: "dq-upload" },
      h("label", { for: "dq-file", text: t("dq_upload_file") }),
      h("div", { class: "buttons" }, input, send),
    );
    const out = h("div", { id: "dq-upload-result" }, this.#uploadResult());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = input.files?.[0];
      if (!file) {
        clear(out).append(h("p", { class: "error", role: "alert", text: t("dq_upload_pick") }));
        input.focus();
        return;
      }
      send.disabled = true;
      clear(out).append(loadingLine());
      try {
        this.uploaded = { name: file.name, answer: await api.uploadReports(file, file.name) };
      } catch (err) {
        this.uploaded = { name: file.name, error: err };
      }
      // The month's rates and flags may have changed: fetch them again, the upload's answer stays shown.
      await this.#load(this.month);
      this.root.querySelector("#dq-upload-summary")?.focus();
    });
    return h(
      "section",
      { class: "dq-upload-section" },
      h("h3", { text: t("dq_upload_title") }),
      h("p", { class: "muted small", id: "dq-upload-help", text: t("dq_upload_help") }),
      form,
      out,
    );
  }

  #uploadResult() {
    const up = this.uploaded;
    if (!up) return null;
    if (up.error) {
      const status = up.error.status;
      const head = status === 413 ? t("dq_upload_too_big") : status === 422 ? t("dq_upload_unreadable") : null;
      if (!head) return h("div", { id: "dq-upload-summary", tabindex: "-1" }, errorLine(up.error));
      return h("p", { class: "error", role: "alert", id: "dq-upload-summary", tabindex: "-1", text: `${up.name}: ${head} (${up.error.message})` });
    }
    const a = up.answer;
    const counts = a.counts ?? {};
    // Every row of the file the answer names: kept (``rows``) or refused (a row may break several rules).
    const read = new Set([...(a.rows ?? []).map((r) => r.row), ...(a.refused ?? []).map((p) => p.row)]).size;
    const label = (k) => (k === "flagged" ? t("dq_flagged") : t(`outcome_${k}`));
    const problems = (rows, id, caption) =>
      rows.length
        ? h(
            "table",
            { class: "dq-problems", id },
            h("caption", { text: `${caption} (${rows.length})` }),
            h("thead", {}, h("tr", {}, ["dq_row", "dq_field", "dq_value", "dq_rule"].map((k) => h("th", { scope: "col", text: t(k) })))),
            h(
              "tbody",
              {},
              rows.map((p) =>
                h(
                  "tr",
                  { "data-row": p.row, "data-field": p.field },
                  h("td", { class: "num", text: p.row }),
                  h("td", { text: fieldLabel(this.fields, p.field) }),
                  h("td", { class: "num", text: p.value === "" || p.value === null || p.value === undefined ? "–" : p.value }),
                  h("td", { class: "reason", text: p.rule }),
                ),
              ),
            ),
          )
        : null;
    return h(
      "div",
      {},
      h(
        "div",
        { id: "dq-upload-summary", tabindex: "-1", role: "status" },
        h("p", { text: t("dq_upload_rows", { name: up.name, n: read }) }),
        h(
          "ul",
          { class: "upload-counts" },
          UPLOAD_COUNTS.map((k) => h("li", { "data-count": k, class: `count-${k}` }, `${label(k)} `, h("b", { text: numberFormat(counts[k] ?? 0) }))),
        ),
      ),
      problems(a.refused ?? [], "dq-upload-refused", t("dq_refused_rows")),
      problems(a.flags ?? [], "dq-upload-flags", t("dq_upload_flags")),
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
      this.#chiefTable(),
      h("section", {}, h("h3", { text: `${t("dq_missing_grids")} (${d.missing_grids.length})` }), this.#gridList(d.missing_grids, "dq-missing", "missing")),
      h("section", {}, h("h3", { text: `${t("dq_late_grids")} (${d.late_grids.length})` }), this.#gridList(d.late_grids, "dq-late", "late")),
      h(
        "section",
        {},
        h("h3", { text: `${t("dq_flags")} (${d.flags.length})` }),
        this.#flags(),
        h("p", { id: "dq-flag-result", role: "status", class: "ok", text: this.flagNote }),
      ),
      this.staff ? this.#uploadSection() : h("span", { hidden: true }),
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
