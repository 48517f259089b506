// Health view (health staff keys only): score health-check records, show ranked risks with reasons.
// Nothing personal is kept: records and results live in this object and the DOM until "clear" or log out.

import * as api from "./api.js";
import { clear, h, s } from "./dom.js";
import { fieldName } from "./errors.js";
import { downloadCsv, printSection } from "./export.js";
import { addedFields, measurementFieldset, measurementLabel, typedValues, unreadable, withMeasurements } from "./health-measurements.js";
import { getLang, numberFormat, percent, t } from "./i18n.js";
import { badge, errorLine, loadingLine, probabilityBars } from "./widgets.js";

const BANDS = ["low", "medium", "high"];

// Three made-up people (not from any survey), one per line, in the columns the API accepts.
// Sample A is hypertensive at the check (no hypertension risk for them); sample C's record is incomplete.
const SAMPLE_CSV = `ref,age,sex,ethnicity,occupation,township_id,residence_altitude_m,years_above_4500m,dogs_owned,plays_with_dogs,water_source,flies_on_food,fox_skin,butter_tea_cups_day,smoking,alcohol,handles_livestock_births,herd_abortion_history,raw_milk,bmi,systolic_bp,diastolic_bp,heart_rate,spo2_pct,haemoglobin_g_dl,baseline_hypertension,baseline_cms
sample-A,58,male,tibetan,herder,T01,4350,30,4,true,open_stream,true,true,12,current,true,true,true,true,27.5,162,98,84,83,21.4,true,false
sample-B,34,female,tibetan,herder,T05,4100,8,2,true,well,false,false,6,never,false,true,false,true,22.1,124,80,72,89,15.8,false,false
sample-C,21,male,han_or_other,student,T01,3950,0,0,false,tap,false,false,1,never,false,false,false,false,20.4,,,68,93,,false,false
`;

/** "five-year risk" / "5年风险" for a horizon in years (the service names it in each answer too). */
function horizonText(years) {
  if (years === null || years === undefined) return t("health_risk");
  return t("health_horizon", { n: numberFormat(years, Number.isInteger(years) ? 0 : 1) });
}

export class HealthView {
  constructor(root) {
    this.root = root;
    this.results = null;
    this.allowed = null; // null: not opened yet for this key
    this.cutoffs = null; // {medium, high}: a served model's one pair for every condition (older models)
    this.conditions = null; // [{condition, label, label_zh, horizon_years, medium, high, policy}] (api.access)
    this.added = []; // the served disease model's added measurements (catalog entries, api.models)
    this.measurements = null; // their inputs (a fieldset), when there are any
    this.asking = false; // the added measurements are being asked for (the form is busy)
  }

  /** Forget everything: results, records typed or chosen, the permission check, and their DOM. */
  reset() {
    this.results = null;
    this.allowed = null;
    this.added = [];
    this.asking = false;
    this.measurements = null; // values typed are personal: forgotten with the rest
    if (this.textarea) this.textarea.value = "";
    if (this.file) this.file.value = "";
    this.textarea = null;
    this.file = null;
    this.output = null;
    clear(this.root);
  }

  /** Show the form (the tab is shown to health keys only: api.access said so; a refusal still reads well). */
  async open() {
    if (this.allowed === true) return;
    this.allowed = true;
    this.asking = true;
    this.#renderForm();
    // The served disease model's own measurements (e.g. glucose): one input each, once they are known.
    try {
      this.added = addedFields(await api.models());
    } catch (err) {
      if (api.isStale(err)) return;
      this.added = []; // the CSV still takes them as columns; the service says which it knows
    }
    this.asking = false;
    if (this.allowed !== true) return;
    if (!this.added.length) {
      this.root.querySelector(".health-form")?.removeAttribute("aria-busy");
      return;
    }
    const focused = document.activeElement; // the file and paste boxes are kept: one typed in keeps its focus
    this.#renderForm();
    if (focused && focused !== document.body && this.root.contains(focused)) focused.focus();
  }

  /** Draw the view again in the current language, keeping what was chosen, typed and scored. */
  relabel() {
    if (this.allowed === true) {
      this.#renderForm();
      if (this.results) {
        // Reasons come from the service in the language they were scored in; records are not re-sent unasked.
        this.#renderResults();
        this.output.prepend(h("p", { class: "hint", text: t("health_rescore") }));
      }
    }
  }

  #renderForm() {
    this.file ??= h("input", { type: "file", id: "health-file", accept: ".csv,text/csv" });
    this.textarea ??= h("textarea", { id: "health-csv", rows: "6", wrap: "off", spellcheck: "false", autocomplete: "off", placeholder: "ref,age,sex,…" });
    this.output ??= h("div", { id: "health-results", "aria-live": "polite" });
    const samples = h("button", { type: "button", id: "health-samples", text: t("health_samples") });
    const score = h("button", { type: "submit", id: "health-score", class: "primary", text: t("health_score") });
    const wipe = h("button", { type: "button", id: "health-clear", text: t("health_clear") });
    samples.addEventListener("click", () => {
      this.file.value = "";
      this.textarea.value = SAMPLE_CSV;
    });
    wipe.addEventListener("click", () => {
      this.results = null;
      this.file.value = "";
      this.textarea.value = "";
      for (const input of this.measurements?.querySelectorAll("[data-measurement]") ?? []) input.value = "";
      clear(this.output);
    });
    this.measurements = measurementFieldset(this.added, typedValues(this.measurements));
    const form = h(
      "form",
      // novalidate: a value beyond an input's limits goes to the service, whose refusal names the rule
      { class: "health-form", autocomplete: "off", novalidate: true, "aria-busy": this.asking ? "true" : null },
      h("p", { class: "muted", text: t("health_intro") }),
      h("label", { class: "field" }, h("span", { text: t("health_file") }), this.file),
      h("label", { class: "field" }, h("span", { text: t("health_paste") }), this.textarea),
      this.measurements,
      h("div", { class: "buttons" }, samples, score, wipe),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.#score();
    });
    clear(this.root).append(h("h2", { text: t("health_title") }), this.#bandsTable(), form, this.output);
  }

  /** Each band's cut-offs (one column per condition, with its horizon) and what it calls for, so a number
   *  on screen says what to do. */
  #bandsTable() {
    const cutoff = (p) => `${numberFormat(100 * p, p < 0.1 ? 1 : 0)}%`;
    const range = (c, b) => (!c ? "" : b === "low" ? `< ${cutoff(c.medium)}` : b === "medium" ? `${cutoff(c.medium)}–${cutoff(c.high)}` : `≥ ${cutoff(c.high)}`);
    const columns = this.conditions?.length ? this.conditions : [{ condition: "all", cutoffs: this.cutoffs }];
    const heading = (c) =>
      c.condition === "all"
        ? t("health_band_cutoff")
        : `${getLang() === "zh" ? c.label_zh : c.label} (${horizonText(c.horizon_years)})`;
    return h(
      "table",
      // focusable: on a phone the table scrolls by itself, and a keyboard must be able to scroll it
      { class: "bands", id: "health-bands", tabindex: "0" },
      h("caption", { text: t("health_bands_title") }),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col", text: t("band") }), columns.map((c) => h("th", { scope: "col", "data-condition": c.condition, text: heading(c) })), h("th", { scope: "col", text: t("health_band_action") })),
      ),
      h(
        "tbody",
        {},
        BANDS.map((b) =>
          h(
            "tr",
            { "data-band": b },
            h("th", { scope: "row" }, badge("band", b, t(`band_${b}`))),
            columns.map((c) => h("td", { class: "num", "data-condition": c.condition, text: range(c.cutoffs ?? c, b) })),
            h("td", { text: t(`health_calls_${b}`) }),
          ),
        ),
      ),
    );
  }

  /** The people whose highest band is high, one line per high-band condition: who to refer, and why. */
  referrals() {
    const rows = [];
    for (const person of this.results?.results ?? []) {
      for (const r of person.risks.filter((x) => x.band === "high")) {
        rows.push({ ref: person.ref ?? `#${person.index + 1}`, condition: r.label, probability: (100 * r.probability).toFixed(1), band: t(`band_${r.band}`), reason: r.explanation.sentence });
      }
    }
    return rows;
  }

  async #score() {
    const chosen = this.file.files?.[0];
    const text = this.textarea.value.trim();
    if (!chosen && !text) {
      clear(this.output).append(h("p", { class: "error", text: t("health_empty") }));
      return;
    }
    const unread = unreadable(this.measurements);
    if (unread.length) {
      clear(this.output).append(errorLine({ status: 422, detail: unread }, { labelOf: (f) => this.#labelOf(f) }));
      return;
    }
    const typed = typedValues(this.measurements);
    let file = chosen ?? new Blob([text], { type: "text/csv" });
    if (Object.keys(typed).length) {
      // Typed measurements go to the one record as columns: the service puts them in its measurements.
      const merged = withMeasurements(chosen ? await chosen.text() : text, typed, this.added);
      if (merged.problem) {
        clear(this.output).append(h("p", { class: "error", role: "alert", text: merged.problem }));
        return;
      }
      file = new Blob([merged.text], { type: "text/csv" });
    }
    clear(this.output).append(loadingLine());
    try {
      this.results = await api.diseaseScoreCsv(file, chosen?.name ?? "records.csv");
      this.#renderResults();
    } catch (err) {
      if (api.isStale(err)) return;
      this.results = null;
      // every problem of every row, as sentences in the page's language (errors.js)
      clear(this.output).append(errorLine(err, { labelOf: (f) => this.#labelOf(f) }));
    }
  }

  /** A refused field's label: an added measurement's from its catalog entry, any other field's from i18n. */
  #labelOf(field) {
    const name = String(field ?? "").split(".").pop();
    const spec = this.added.find((f) => f.name === name);
    return spec ? measurementLabel(spec) : fieldName(field);
  }

  #renderResults() {
    const people = this.results.results.map((person, rank) =>
      h(
        "article",
        { class: `person band-edge-${person.highest_band}${person.complete === false ? " incomplete" : ""}` },
        h(
          "header",
          {},
          h("h3", { text: t("health_person", { ref: person.ref ?? `#${person.index + 1}` }) }),
          h("span", { class: "muted", text: `${t("health_highest")} ` }),
          badge("band", person.highest_band, t(`band_${person.highest_band}`)),
          person.confidence === "lower" ? h("span", { class: "confidence-lower", text: ` ${t("health_confidence_lower")}` }) : null,
        ),
        person.note ? h("p", { class: "incomplete-note", role: "note", text: person.note }) : null,
        h(
          "table",
          { class: "risks" },
          h(
            "tbody",
            {},
            person.risks.map((r) =>
              r.known
                ? h(
                    "tr",
                    { class: "known", "data-condition": r.condition },
                    h("th", { text: r.label }),
                    h("td", { class: "horizon muted", text: r.horizon }),
                    h("td", { colspan: "3", text: t("health_known") }),
                    h("td", { class: "reason", text: r.note }),
                  )
                : h(
                    "tr",
                    { "data-condition": r.condition },
                    h("th", { text: r.label }),
                    h("td", { class: "horizon muted", text: r.horizon }),
                    h("td", { class: "num", text: percent(r.probability) }),
                    h("td", {}, s("svg", { class: "risk-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none" }, s("rect", { class: `fill-${r.band}`, x: 0, y: 1, height: 8, width: Math.max(1, 100 * r.probability) }))),
                    h("td", {}, badge("band", r.band, t(`band_${r.band}`))),
                    h("td", { class: "reason", text: r.explanation.sentence }),
                  ),
            ),
          ),
        ),
        person.risks[0].explanation
          ? h("details", { open: rank === 0 }, h("summary", { text: `${t("why")} ${person.risks[0].label}` }), probabilityBars(person.risks[0].explanation, t("bars_caption_disease"), t("bars_caption_disease_raw")))
          : null,
      ),
    );
    const referrals = this.referrals();
    const csv = h("button", { type: "button", id: "referrals-csv", text: t("export_referrals_csv", { n: referrals.length }), disabled: !referrals.length });
    const print = h("button", { type: "button", id: "referrals-print", text: t("export_print") });
    csv.addEventListener("click", () => downloadCsv("referrals.csv", this.referrals(), ["ref", "condition", "probability", "band", "reason"], (k) => t(`referral_${k}`)));
    print.addEventListener("click", () => printSection("health"));
    clear(this.output).append(h("h3", { text: t("health_results") }), h("div", { class: "buttons export no-print" }, csv, print), ...people);
  }
}
