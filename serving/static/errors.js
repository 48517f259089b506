// Refusals as sentences in the page's language: "Row 3 · Age (230): must be at most 120", one per problem.
// The API answers 422 with a list of {row?, field, value?, rule, type?}; rules are pydantic's or the
// service's English words, recognised here by pattern (anything unrecognised is shown as the service said it).

import { t } from "./i18n.js";

// The rule's words -> the page's sentence key, and the number or options it names.
const RULES = [
  [/less than or equal to (-?[\d.,]+)/i, "rule_le"],
  [/greater than or equal to (-?[\d.,]+)/i, "rule_ge"],
  // a catalog rule of a measurement the served model added: "must be <= 60 mmol/L (hard limit)"
  [/must be <= (-?[\d.,]+(?: [^\s()]+)?)/i, "rule_le"],
  [/must be >= (-?[\d.,]+(?: [^\s()]+)?)/i, "rule_ge"],
  [/less than (-?[\d.,]+)/i, "rule_lt"],
  [/greater than (-?[\d.,]+)/i, "rule_gt"],
  [/field required|missing|is required/i, "rule_required"],
  [/whole number|valid integer|fractional part|must be an integer/i, "rule_integer"],
  [/must be a number|valid number/i, "rule_number"],
  [/true\/false|true or false|valid boolean/i, "rule_boolean"],
  [/at most (\d+) characters?/i, "rule_max_chars"],
  [/should match pattern|string does not match/i, "rule_pattern"],
  [/extra inputs are not permitted|unknown (field|column)/i, "rule_unknown_field"],
];

/** The rule of one problem as a sentence in the page's language (the service's words when unrecognised). */
export function ruleSentence(rule, type = "") {
  const text = String(rule ?? "");
  const options = /Input should be ((?:'[^']*'(?:, | or )?)+)/.exec(text);
  if (options) return t("rule_one_of", { options: [...options[1].matchAll(/'([^']*)'/g)].map((m) => m[1]).join(" / ") });
  const listed = /^must be one of (.+)$/.exec(text); // a catalog category: "must be one of a, b, c"
  if (listed) return t("rule_one_of", { options: listed[1].split(", ").join(" / ") });
  for (const [pattern, key] of RULES) {
    const m = pattern.exec(text) ?? (type && pattern.exec(type.replaceAll("_", " ")));
    if (m) return t(key, { n: m[1] ?? "" });
  }
  return text;
}

/** The display label of a field ``name`` ("add_head.yak", "query.season", "age"): its last part's label. */
export function fieldName(name) {
  const parts = String(name ?? "").split(".").filter((p) => !["body", "query", "path", "records"].includes(p) && !/^\d+$/.test(p));
  const last = parts[parts.length - 1] ?? String(name ?? "");
  for (const key of [`f_${last}`, last]) {
    const label = t(key);
    if (label !== key) return label;
  }
  return last;
}

/**
 * One problem as a sentence: where (row), which field (its label), which value, which rule.
 * ``labelOf(field)`` names fields a view knows better (the report form's items); ``valueOf(field)`` gives the
 * value a form sent, when the service does not echo it.
 */
export function problemSentence(problem, options = {}) {
  // Own properties only: destructuring ``valueOf`` from ``{labelOf}`` would find Object.prototype.valueOf.
  const labelOf = Object.hasOwn(options, "labelOf") ? options.labelOf : fieldName;
  const valueOf = Object.hasOwn(options, "valueOf") ? options.valueOf : () => undefined;
  const where = problem.row ? `${t("row", { row: problem.row })} · ` : "";
  const shown = problem.value ?? valueOf(problem.field);
  const what = shown === undefined || shown === null || shown === "" ? labelOf(problem.field) : t("field_value", { field: labelOf(problem.field), value: shown });
  return `${where}${what}${t("colon")}${ruleSentence(problem.rule, problem.type)}`;
}

/** Every problem of a refusal (``detail`` a list), or null when the refusal is one message. */
export function problemSentences(detail, options = {}) {
  return Array.isArray(detail) ? detail.map((p) => problemSentence(p, options)) : null;
}
