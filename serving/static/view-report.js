// The monthly report view (herder chiefs; county staff too): one grid area's month, one input per item of
// the report as the service describes it (label, unit, bounds, required), sent with an id made on this
// device. Refusals are shown next to their inputs and flags as warnings. Reports that cannot be sent now
// wait in the device's outbox (outbox.js) and are sent again when the network returns.

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { getLang, monthLabel, t } from "./i18n.js";
import * as outbox from "./outbox.js";
import { errorLine, fieldLabel, loadingLine } from "./widgets.js";

const MONTHS_BACK = 12; // how far back a report may be picked in the month list
const OUTCOMES = ["inserted", "updated", "unchanged", "duplicate", "refused"];

/** "YYYY-MM-01" of the month ``back`` months before ``iso`` ("YYYY-MM-DD"). */
function monthBefore(iso, back) {
  const [y, m] = iso.split("-").map(Number);
  const index = y * 12 + (m - 1) - back;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}-01`;
}

/** ``t(key)`` when the page has a sentence for it, else ``fallback`` (a raw value from the service). */
function known(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

export class ReportView {
  /** ``root``: the view's element; ``gridName(id)``: a grid's name in the page's language (or its id). */
  constructor(root, { gridName = (id) => id } = {}) {
    this.root = root;
    this.gridName = gridName;
    this.form = null;
    this.sending = null; // the outbox flush in flight, so two triggers do not send the same report twice at once
    this.log = []; // answers of this tab's sends, newest first (not kept: the service has them)
    this.values = {}; // what was typed, kept across a language switch
    this.submissionId = outbox.newSubmissionId();
    this.answer = null;
  }

  /** Forget the form, what was typed and this tab's answers (log out). The outbox stays on the device. */
  reset() {
    this.form = null;
    this.log = [];
    this.values = {};
    this.answer = null;
    this.submissionId = outbox.newSubmissionId();
    clear(this.root);
  }

  /** Show the form (``form``: a ``reportForm()`` answer already fetched at sign-in), then send what waits. */
  async open(form = null) {
    if (form) this.form = form;
    if (!this.form) {
      clear(this.root).append(h("h2", { text: t("report_title") }), loadingLine());
      try {
        this.form = await api.reportForm();
      } catch (err) {
        clear(this.root).append(h("h2", { text: t("report_title") }), errorLine(err));
        return;
      }
    }
    this.#render();
    await this.flush();
  }

  /** Draw the view again in the current language, keeping what was typed and the last answer. */
  relabel() {
    if (!this.form) return;
    this.#keepValues();
    this.#render();
  }

  /** Send every queued report of a grid this key may report for (others wait for their own chief). */
  async flush() {
    if (!this.form || !api.getKey()) return;
    if (this.sending) return this.sending;
    this.sending = (async () => {
      const mine = new Set(this.form.grids);
      for (const item of outbox.queued()) {
        if (!mine.has(item.body.grid_id)) continue;
        const done = await this.#deliver(item.body);
        if (done === "offline") break;
      }
    })();
    try {
      await this.sending;
    } finally {
      this.sending = null;
      this.#renderOutbox();
    }
  }

  /**
   * One POST of a queued report. Resolves to "answered" (it leaves the outbox), "offline" (no answer: it
   * stays) or "kept" (the service could not take it now, e.g. 503: it stays for a later try).
   */
  async #deliver(body) {
    try {
      const answer = await api.sendReport(body);
      outbox.remove(body.submission_id);
      this.#logAnswer(body, answer);
      // The "kept on this device" line of this report is out of date: its answer is in the log now.
      this.result?.querySelector(`.queued[data-submission="${CSS.escape(body.submission_id)}"]`)?.remove();
      return "answered";
    } catch (err) {
      // no answer, or the session ended before it came (signed out): the report stays for the next try
      if ((err instanceof api.ApiError && err.status === 0) || api.isStale(err)) return "offline";
      if (err instanceof api.ApiError && (err.status >= 500 || err.status === 401)) {
        this.#logError(body, err);
        return "kept";
      }
      outbox.remove(body.submission_id); // refused as a whole (403, 422): sending it again would not help
      this.#logError(body, err);
      return "answered";
    } finally {
      this.#renderOutbox();
    }
  }

  // --- the form -----------------------------------------------------------------------------------
  #label(field) {
    return getLang() === "zh" ? field.label_zh || field.label : field.label || field.label_zh;
  }

  #unit(field) {
    return field.unit ? known(`u_${field.unit}`, field.unit) : "";
  }

  #keepValues() {
    if (!this.formEl) return;
    for (const el of this.formEl.elements) if (el.name) this.values[el.name] = el.value;
  }

  #input(field) {
    const id = `rf-${field.name}`;
    const attrs = { id, name: field.name, required: field.required, "aria-describedby": `${id}-msg` };
    if (field.type === "category" || field.type === "boolean") {
      const choices = field.type === "boolean" ? ["true", "false"] : field.categories ?? [];
      const label = (c) => (field.type === "boolean" ? t(c === "true" ? "yes" : "no") : known(`cat_${c}`, c));
      return h("select", attrs, h("option", { value: "", text: "—" }), choices.map((c) => h("option", { value: c, text: label(c) })));
    }
    if (field.type === "integer" || field.type === "float") {
      return h("input", {
        ...attrs,
        type: "number",
        inputmode: field.type === "integer" ? "numeric" : "decimal",
        step: field.type === "integer" ? "1" : "any",
        min: field.min ?? null,
        max: field.max ?? null,
        autocomplete: "off",
      });
    }
    return h("input", { ...attrs, type: "text", autocomplete: "off" });
  }

  /** "0–31", "≥ 5" or "≤ 9" (a count's plain "≥ 0" goes without saying: the input refuses a minus sign). */
  #bounds(field) {
    const has = (v) => v !== null && v !== undefined;
    if (has(field.min) && has(field.max)) return `${field.min}–${field.max}`;
    if (has(field.max)) return `≤ ${field.max}`;
    if (has(field.min) && field.min !== 0) return `≥ ${field.min}`;
    return "";
  }

  #field(field) {
    const unit = this.#unit(field);
    const bounds = this.#bounds(field);
    const input = this.#input(field);
    return h(
      "div",
      { class: "report-field", "data-field": field.name },
      h(
        "label",
        { for: input.id },
        this.#label(field),
        field.required ? h("span", { class: "req", "aria-hidden": "true", text: " *" }) : null,
        unit ? h("span", { class: "unit", text: ` (${unit})` }) : null,
      ),
      input,
      bounds ? h("span", { class: "bounds", text: t("report_bounds", { range: bounds }) }) : null,
      h("p", { class: "field-msg", id: `${input.id}-msg`, "aria-live": "polite" }),
    );
  }

  #render() {
    const form = this.form;
    const latest = form.latest_month;
    const months = Array.from({ length: MONTHS_BACK + 1 }, (_, i) => monthBefore(latest, i));
    const grid = h(
      "select",
      { id: "rf-grid_id", name: "grid_id", required: true, "aria-describedby": "rf-grid_id-msg" },
      form.grids.map((g) => h("option", { value: g, text: this.gridName(g) === g ? g : `${this.gridName(g)} (${g})` })),
    );
    const month = h(
      "select",
      { id: "rf-month", name: "month", required: true, "aria-describedby": "rf-month-msg" },
      months.map((m) => h("option", { value: m, text: monthLabel(m) })),
    );
    month.value = monthBefore(latest, 1); // last month: a chief reports the month just ended
    const send = h("button", { type: "submit", id: "report-send", class: "primary", text: t("report_send") });
    const fresh = h("button", { type: "button", id: "report-new", text: t("report_new") });
    this.formEl = h(
      "form",
      { class: "report-form", id: "report-form", novalidate: true, autocomplete: "off" },
      h(
        "div",
        { class: "report-head" },
        h("div", { class: "report-field" }, h("label", { for: "rf-grid_id", text: t("grid") }), grid, h("p", { class: "field-msg", id: "rf-grid_id-msg" })),
        h("div", { class: "report-field" }, h("label", { for: "rf-month", text: t("month") }), month, h("p", { class: "field-msg", id: "rf-month-msg" })),
      ),
      h("p", { class: "muted small", text: t("report_required_note") }),
      h("div", { class: "report-fields" }, form.fields.map((f) => this.#field(f))),
      h("div", { class: "buttons report-buttons" }, send, fresh),
    );
    for (const el of this.formEl.elements) if (el.name && el.name in this.values) el.value = this.values[el.name];
    if (!form.grids.length) send.disabled = true;
    this.formEl.addEventListener("submit", (e) => {
      e.preventDefault();
      this.#submit();
    });
    fresh.addEventListener("click", () => {
      this.values = {};
      this.answer = null;
      this.submissionId = outbox.newSubmissionId();
      this.#render();
    });
    this.result = h("div", { id: "report-result", "aria-live": "polite" });
    this.outboxEl = h("p", { id: "report-outbox", class: "outbox" });
    this.logEl = h("div", { id: "report-log" });
    clear(this.root).append(
      ...[
        h("h2", { text: t("report_title") }),
        h("p", { class: "muted", text: t("report_intro", { as_of: monthLabel(form.as_of) }) }),
        form.grids.length ? null : h("p", { class: "error", text: t("report_no_grids") }),
        this.outboxEl,
        this.formEl,
        this.result,
        this.logEl,
      ].filter(Boolean),
    );
    this.#renderOutbox();
    this.#renderLog();
    if (this.answer) this.#showAnswer(this.answer.body, this.answer.answer);
  }

  #clearMessages() {
    for (const el of this.formEl.querySelectorAll(".field-msg")) {
      el.textContent = "";
      el.className = "field-msg";
    }
    for (const el of this.formEl.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    clear(this.result);
  }

  /** A message under the input of ``field`` (``kind``: error or warn); false when the form has no such input.
   * A refusal of an added field names it ``measurements.NAME`` (where the report holds it): its input is NAME. */
  #mark(field, text, kind) {
    field = field.replace(/^measurements\./, "");
    const msg = this.formEl.querySelector(`#rf-${CSS.escape(field)}-msg`);
    if (!msg) return false;
    msg.textContent = msg.textContent ? `${msg.textContent}; ${text}` : text;
    msg.className = `field-msg ${kind}`;
    if (kind === "error") this.formEl.querySelector(`#rf-${CSS.escape(field)}`)?.setAttribute("aria-invalid", "true");
    return true;
  }

  #fieldName(name) {
    return fieldLabel(this.form.fields, name);
  }

  #body() {
    const data = new FormData(this.formEl);
    const body = { submission_id: this.submissionId, grid_id: data.get("grid_id"), month: data.get("month") };
    const empty = [];
    const measurements = {}; // fields a catalog extension added (form field ``added``): left out when empty
    for (const field of this.form.fields) {
      const raw = String(data.get(field.name) ?? "").trim();
      const into = field.added ? measurements : body;
      if (raw === "") {
        if (field.required) empty.push(field.name);
        if (!field.added) body[field.name] = null;
      } else if (field.type === "integer" || field.type === "float") into[field.name] = Number(raw);
      else if (field.type === "boolean") into[field.name] = raw === "true";
      else into[field.name] = raw;
    }
    if (Object.keys(measurements).length) body.measurements = measurements;
    // A number input holding text that is not a number reads as "": say so rather than "required".
    const typed = [...this.formEl.querySelectorAll("input[type=number]")].filter((el) => el.validity.badInput).map((el) => el.name);
    return { body, empty: empty.filter((n) => !typed.includes(n)), typed };
  }

  async #submit() {
    this.#clearMessages();
    const { body, empty, typed } = this.#body();
    for (const name of empty) this.#mark(name, t("report_empty"), "error");
    for (const name of typed) this.#mark(name, t("report_not_number"), "error");
    if (empty.length || typed.length) {
      this.result.append(h("p", { class: "error", role: "alert", text: t("report_fix", { n: empty.length + typed.length }) }));
      this.formEl.querySelector("[aria-invalid]")?.focus();
      return;
    }
    this.#keepValues();
    outbox.enqueue(body); // first on the device, then on the wire: a lost answer loses nothing
    this.submissionId = outbox.newSubmissionId(); // the next report is another one
    this.#renderOutbox();
    const button = this.formEl.querySelector("#report-send");
    button.disabled = true;
    try {
      const answer = await api.sendReport(body);
      outbox.remove(body.submission_id);
      this.answer = { body, answer };
      this.#logAnswer(body, answer);
      this.#showAnswer(body, answer);
    } catch (err) {
      if (api.isStale(err)) return; // signed out meanwhile: the report waits in the outbox
      if (err instanceof api.ApiError && (err.status === 0 || err.status >= 500 || err.status === 401)) {
        this.result.append(h("p", { class: "queued", role: "status", "data-submission": body.submission_id, text: t("report_queued") }));
        if (err.status !== 0) this.result.append(errorLine(err));
      } else {
        outbox.remove(body.submission_id);
        this.result.append(errorLine(err));
      }
    } finally {
      button.disabled = false;
      this.#renderOutbox();
    }
  }

  /** The service's answer to the report now in the form: refusals and flags beside their inputs. */
  #showAnswer(body, answer) {
    this.#clearMessages();
    const row = answer.rows?.[0];
    const loose = [];
    for (const p of answer.refused ?? []) {
      const text = `${p.value === "" ? "" : `${p.value}: `}${p.rule}`;
      if (!this.#mark(p.field, text, "error")) loose.push(`${this.#fieldName(p.field)}: ${text}`);
    }
    if (answer.refused?.length || row?.outcome === "refused") {
      this.result.append(h("p", { class: "error", role: "alert", id: "report-refused", text: t("report_refused") }));
      if (loose.length) this.result.append(h("ul", { class: "errors" }, loose.map((x) => h("li", { text: x }))));
      this.formEl.querySelector("[aria-invalid]")?.focus();
      return;
    }
    const flags = answer.flags ?? [];
    for (const f of flags) this.#mark(f.field, f.rule, "warn");
    this.result.append(
      h("p", { class: "ok", role: "status", id: "report-accepted", "data-outcome": row?.outcome ?? "", text: this.#sentence(body, row) }),
    );
    if (flags.length) {
      this.result.append(
        h("p", { class: "warn", text: t("report_flags") }),
        h("ul", { class: "warnings" }, flags.map((f) => h("li", { text: `${this.#fieldName(f.field)} ${f.value}: ${f.rule}` }))),
      );
    }
  }

  #sentence(body, row) {
    const outcome = row?.outcome;
    return t("report_sent", {
      grid: this.gridName(body.grid_id),
      month: monthLabel(body.month),
      outcome: OUTCOMES.includes(outcome) ? t(`outcome_${outcome}`) : outcome ?? "",
    });
  }

  // --- outbox and log ----------------------------------------------------------------------------
  #logAnswer(body, answer) {
    const row = answer.rows?.[0];
    const refused = answer.refused ?? [];
    const outcome = refused.length ? "refused" : row?.outcome ?? "refused";
    const lines = refused.map((p) => `${this.#fieldName(p.field)} ${p.value}: ${p.rule}`);
    this.log.unshift({ body, outcome, text: refused.length ? t("report_refused") : this.#sentence(body, row), lines });
    this.#renderLog();
  }

  #logError(body, err) {
    this.log.unshift({ body, outcome: "error", text: errorLine(err).textContent, lines: [] });
    this.#renderLog();
  }

  #renderOutbox() {
    if (!this.outboxEl) return;
    const n = outbox.count();
    this.outboxEl.dataset.count = String(n);
    clear(this.outboxEl).append(
      h("strong", { id: "outbox-count", text: t("report_outbox", { n }) }),
      " ",
      h("span", { class: "muted", text: n ? t("report_outbox_waiting") : t("report_outbox_note") }),
    );
    this.outboxEl.classList.toggle("waiting", n > 0);
  }

  #renderLog() {
    if (!this.logEl) return;
    clear(this.logEl);
    if (!this.log.length) return;
    this.logEl.append(
      h("h3", { text: t("report_log") }),
      h(
        "ul",
        { class: "report-log" },
        this.log.map((entry) =>
          h(
            "li",
            { class: `outcome-${entry.outcome}`, "data-outcome": entry.outcome, "data-submission": entry.body.submission_id },
            entry.text,
            entry.lines.length ? h("ul", { class: "errors" }, entry.lines.map((x) => h("li", { text: x }))) : null,
          ),
        ),
      ),
    );
  }
}
