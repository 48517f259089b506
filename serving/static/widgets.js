// Widgets shared by two or more views: band/status badges, loading and error lines, a colour legend,
// and the bar chart of an explanation's contributions.

import { h, s, swatch } from "./dom.js";
import { problemSentences } from "./errors.js";
import { getLang, numberFormat, percent, t } from "./i18n.js";

/** A coloured chip: ``badge("band", "high", label)`` has the class ``badge band-high``. */
export function badge(kind, value, label) {
  return h("span", { class: `badge ${kind}-${value}`, text: label });
}

/** The grey "loading…" line shown where an answer will go (``key``: another message). */
export function loadingLine(key = "loading") {
  return h("p", { class: "hint", text: t(key) });
}

/**
 * An API error the user can read: known statuses have their own sentence; a refusal that lists problems
 * gives one sentence per problem in the page's language (``options``: see errors.problemSentence).
 */
export function errorLine(err, options = {}) {
  if (err?.name === "AbortError") return h("p", { hidden: true }); // the session ended: nothing to tell
  const messages = { 0: "err_network", 401: "err_401", 403: "err_403", 503: "err_503" };
  const key = messages[err?.status];
  const problems = key ? null : problemSentences(err?.detail, options);
  if (problems) {
    return h(
      "div",
      { class: "error", role: "alert" },
      h("p", { text: t("err_invalid", { n: problems.length }) }),
      h("ul", { class: "errors" }, problems.map((text) => h("li", { text }))),
    );
  }
  return h("p", { class: "error", role: "alert", text: key ? t(key) : `${t("error")}${t("colon")}${err?.message ?? err}` });
}

/**
 * The display label of a report item ``name`` in the page's language, from the report form's ``fields``
 * (``label`` / ``label_zh``); "a+b" (an item derived from several) joins its parts; otherwise the name itself.
 */
export function fieldLabel(fields, name) {
  const field = (fields ?? []).find((f) => f.name === name);
  if (field) return getLang() === "zh" ? field.label_zh || field.label : field.label || field.label_zh;
  if (name === "grid_id") return t("grid");
  if (name === "month") return t("month");
  if (String(name).includes("+")) return String(name).split("+").map((part) => fieldLabel(fields, part)).join(" + ");
  return String(name);
}

/** A list of colour swatches: ``colours`` {key: colour}, ``label(key)`` the text after each. */
export function legendList(colours, label) {
  return h(
    "ul",
    { class: "legend-list" },
    Object.entries(colours).map(([k, colour]) => h("li", {}, swatch(colour), ` ${label(k)}`)),
  );
}

/**
 * The reasons of an explanation as horizontal bars around zero (up: warm colour, down: cool colour).
 * Rows are HTML (labels wrap); each bar is a small SVG drawn on one scale shared by every row.
 */
export function contributionBars(explanation, caption, digits = 1) {
  const reasons = explanation.reasons ?? [];
  const biggest = Math.max(1e-9, ...reasons.map((r) => Math.abs(r.contribution)));
  const rows = reasons.map((r) => {
    const width = (Math.abs(r.contribution) / biggest) * 96;
    const x = r.contribution >= 0 ? 100 : 100 - width;
    const sign = r.contribution >= 0 ? "+" : "−";
    return h(
      "div",
      { class: `bar-row ${r.direction}`, title: r.text },
      h("span", { class: "reason-label", text: r.label }),
      h("span", { class: "reason-value", text: r.display_value }),
      s(
        "svg",
        { class: "bar", viewBox: "0 0 200 16", preserveAspectRatio: "none", role: "img", "aria-label": r.text },
        s("line", { class: "zero", x1: 100, x2: 100, y1: 0, y2: 16 }),
        s("rect", { class: `bar-${r.direction}`, x, y: 3, width: Math.max(width, 0.8), height: 10 }),
      ),
      h("span", { class: "reason-contrib", text: `${sign}${numberFormat(Math.abs(r.contribution), digits)}` }),
    );
  });
  return h(
    "div",
    { class: "explanation" },
    h("p", { class: "sentence", text: explanation.sentence }),
    h("div", { class: "bars" }, rows),
    h(
      "p",
      { class: "caption" },
      h("span", { class: "key up" }),
      ` ${t("up")}  `,
      h("span", { class: "key down" }),
      ` ${t("down")} · ${caption}`,
    ),
  );
}

/**
 * A risk's reasons in percentage points of probability when the answer gives them (``display_unit`` "pp"):
 * from the average risk, each bar the input's share of the move to this risk, the inputs not shown as one
 * "other factors" bar, so the average, the bars and the rest add up to the risk. Without them: log-odds.
 */
export function probabilityBars(explanation, caption, rawCaption) {
  const e = explanation;
  if (e.display_unit !== "pp" || e.display_base === null || e.display_base === undefined) {
    return contributionBars(e, rawCaption, 2);
  }
  const reasons = e.reasons.map((r) => ({ ...r, contribution: r.display_contribution }));
  const rest = e.display_prediction - e.display_base - reasons.reduce((sum, r) => sum + r.contribution, 0);
  if (Math.abs(rest) >= 0.05) {
    const label = t("other_factors");
    reasons.push({ feature: "other", label, display_value: "", contribution: rest, direction: rest > 0 ? "up" : "down", text: label });
  }
  const block = contributionBars({ ...e, reasons }, caption, 1);
  const line = (key, value) => h("p", { class: `risk-${key}`, "data-testid": `risk-${key}` }, t(key === "base" ? "average_risk" : "risk_from_base", { pct: percent(value / 100) }));
  block.querySelector(".bars").before(line("base", e.display_base));
  block.querySelector(".bars").after(line("total", e.display_prediction));
  return block;
}
