// Measurements the served disease model added to the catalog (e.g. glucose): one labelled input each on the
// health form. Their catalog entries come from the served models' list (``added_fields`` of the disease
// model). A value typed is added to the one record being scored as a column of its CSV, which the service
// takes into the record's ``measurements`` and checks with the field's own rules; empty means not measured.

import { h } from "./dom.js";
import { getLang, numberFormat, t } from "./i18n.js";

const NUMBER_TYPES = ["integer", "float"];

/** The disease model's added fields as ``[{name, type, unit, min, max, ...}]`` (none: ``[]``). */
export function addedFields(modelsAnswer) {
  const disease = (modelsAnswer?.models ?? []).find((m) => m.family === "disease" && m.serving);
  return Object.entries(disease?.added_fields ?? {}).map(([name, spec]) => ({ ...spec, name }));
}

/** A field's label in the page's language ("血糖 (mmol/L)"); its name when the entry has no label. */
export function measurementLabel(spec) {
  const named = (getLang() === "zh" ? spec.display_zh || spec.display : spec.display || spec.display_zh) || spec.name;
  return spec.unit ? `${named} (${spec.unit})` : named;
}

const inputId = (name) => `health-m-${name}`;

/** A select of ``[value, text]`` pairs, the first one empty: not measured. */
function choice(id, options) {
  return h("select", { id }, [["", t("health_not_measured")], ...options].map(([value, text]) => h("option", { value, text })));
}

/** One input for ``spec``: a number (min/max from the hard limits), a select for a category or a yes/no flag. */
function control(spec, hintId) {
  const id = inputId(spec.name);
  if (NUMBER_TYPES.includes(spec.type)) {
    return h("input", {
      id,
      type: "number",
      min: spec.min ?? null,
      max: spec.max ?? null,
      step: spec.type === "integer" ? "1" : "any",
      inputmode: spec.type === "integer" ? "numeric" : "decimal",
      autocomplete: "off",
      "aria-describedby": hintId,
    });
  }
  if (spec.type === "category") return choice(id, (spec.categories ?? []).map((c) => [c, c]));
  if (spec.type === "boolean") return choice(id, [["true", t("yes")], ["false", t("no")]]);
  return h("input", { id, type: "text", autocomplete: "off" });
}

/** "usually 2.5–25" for a number with a plausible range (kept, but unusual, beyond it). */
function usualRange(spec) {
  const lo = spec.plausible_min ?? spec.min;
  const hi = spec.plausible_max ?? spec.max;
  if (!NUMBER_TYPES.includes(spec.type) || lo === null || lo === undefined || hi === null || hi === undefined) return null;
  const digits = (v) => (Number.isInteger(v) ? 0 : 1);
  return t("health_usual", { lo: numberFormat(lo, digits(lo)), hi: numberFormat(hi, digits(hi)) });
}

/**
 * The form's group of inputs for ``fields`` (null when there are none: the form is as before). ``kept``: the
 * values typed so far by name (a language switch redraws the group and keeps them).
 */
export function measurementFieldset(fields, kept = {}) {
  if (!fields?.length) return null;
  const rows = fields.map((spec) => {
    const usual = usualRange(spec);
    const hintId = usual ? `${inputId(spec.name)}-hint` : null;
    const input = control(spec, hintId);
    input.dataset.measurement = spec.name;
    if (kept[spec.name] !== undefined) input.value = kept[spec.name];
    return h("div", { class: "field" }, h("label", { for: input.id, text: measurementLabel(spec) }), input, usual ? h("span", { id: hintId, class: "muted usual", text: usual }) : null);
  });
  return h(
    "fieldset",
    { class: "measurements", id: "health-measurements" },
    h("legend", { text: t("health_measurements") }),
    h("p", { class: "muted", text: t("health_measurements_hint", { columns: fields.map((f) => f.name).join(", ") }) }),
    h("div", { class: "measurement-fields" }, rows),
  );
}

/** What is typed in the group, by name (empty inputs left out: not measured). */
export function typedValues(fieldset) {
  const out = {};
  for (const input of fieldset?.querySelectorAll("[data-measurement]") ?? []) {
    if (input.value !== "") out[input.dataset.measurement] = input.value;
  }
  return out;
}

/** Inputs whose text the browser could not read as a number (it reports them empty): refused, not dropped. */
export function unreadable(fieldset) {
  return [...(fieldset?.querySelectorAll("input[type=number][data-measurement]") ?? [])]
    .filter((input) => input.validity.badInput)
    .map((input) => ({ field: input.dataset.measurement, rule: "must be a number" }));
}

const cell = (value) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/**
 * ``csv`` with one column per typed measurement added to its one record: ``{text}``, or ``{problem}`` (a sentence)
 * when it holds more than one record (each person's value belongs in their own row: add the columns to the file)
 * or already has the column.
 */
export function withMeasurements(csv, values, fields) {
  const names = Object.keys(values);
  if (!names.length) return { text: csv };
  const lines = csv.replace(/(\r?\n)+$/, "").split(/\r?\n/);
  const header = lines[0] ?? "";
  const rows = lines.slice(1).filter((line) => line.trim() !== "");
  if (rows.length !== 1) return { problem: t("health_measurements_one", { n: rows.length, columns: names.join(", ") }) };
  const columns = header.replace(/^\ufeff/, "").split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
  const twice = names.find((name) => columns.includes(name));
  if (twice) return { problem: t("health_measurements_twice", { field: measurementLabel(fields.find((f) => f.name === twice) ?? { name: twice }) }) };
  return { text: `${header},${names.map(cell).join(",")}\n${rows[0]},${names.map((n) => cell(values[n])).join(",")}\n` };
}
