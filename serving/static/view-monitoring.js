// The data scientists' view (data_scientist, admin): models in the world. Per family: the live metric month by
// month with its 95 % interval and the test-time value as a reference line, the latest live metrics beside
// test, the drift table of this month's inputs and predictions, which version served when, the retrain
// triggers firing now and the last retrain decisions. Everything comes from api.monitoring().

import * as api from "./api.js";
import { clear, h, s } from "./dom.js";
import { getLang, monthLabel } from "./i18n.js";
import { errorLine, loadingLine } from "./widgets.js";

// The view's own words (the rest of the page's sentences live in i18n.js).
const WORDS = {
  zh: {
    title: "模型运行监测",
    none: "尚无监测数据：月结后才记录预测并回填结果（需要县数据库）。",
    champion: "在用版本",
    triggers: "再训练触发条件",
    no_trigger: "无：暂不需要再训练",
    live: "实际表现（最近一月）与测试表现",
    metric: "指标",
    month: "月份",
    value: "实际值",
    interval: "95%区间",
    test: "测试值",
    reference: "对照值",
    raised: "对照值已上调（再训练未能胜过在用模型）",
    worse: "差于对照",
    yes: "是",
    no: "否",
    chart: "逐月实际表现（阴影：95%区间；虚线：测试值；短横：该月对照值）",
    drift: "数据漂移（本月输入与训练数据对比）",
    what: "特征/预测",
    status: "状态",
    stable: "稳定",
    watch: "关注",
    drifted: "漂移",
    history: "各月在用版本",
    decisions: "再训练记录",
    action: "决定",
    skipped: "未训练",
    retrained: "已再训练",
    failed: "失败",
    outcomes: "已回填结果 / 缺失",
    bands: "各风险等级人数（不含个人信息）",
    error: "出错",
  },
  en: {
    title: "Models in the world",
    none: "No monitoring yet: forecasts are kept and outcomes joined when months close (needs the county store).",
    champion: "Champion",
    triggers: "Retrain triggers",
    no_trigger: "None: no reason to retrain",
    live: "Live (latest month) beside test",
    metric: "Metric",
    month: "Month",
    value: "Live",
    interval: "95 % interval",
    test: "Test",
    reference: "Held to",
    raised: "Reference raised (a retrain could not beat the champion)",
    worse: "Worse than it",
    yes: "yes",
    no: "no",
    chart: "Live metric by month (band: 95 % interval; dashed: test value; ticks: the value each month is held to)",
    drift: "Drift: this month's inputs against the training data",
    what: "Feature / prediction",
    status: "Status",
    stable: "stable",
    watch: "watch",
    drifted: "drifted",
    history: "Which version served when",
    decisions: "Retrain decisions",
    action: "Decision",
    skipped: "skipped",
    retrained: "retrained",
    failed: "failed",
    outcomes: "Outcomes joined / missing",
    bands: "People per risk band (counts only)",
    error: "Error",
  },
};
const FAMILY_NAMES = {
  zh: { grazing: "草场载畜", market: "牲畜市场", dispute: "纠纷风险", disease: "疾病风险" },
  en: { grazing: "Grazing", market: "Market", dispute: "Dispute", disease: "Disease" },
};
const DRIFT_ROWS = 12;
const CHART = { width: 560, height: 180, pad: 36 };

const w = (key) => WORDS[getLang()]?.[key] ?? WORDS.en[key] ?? key;
const num = (v, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : Number(v).toPrecision(digits));

/** The metric a family's chart follows: its retrain metric, else the first live metric. */
function headline(family) {
  const metric = family.policy?.metric;
  if (metric && family.live.some((r) => r.metric === metric)) return metric;
  return family.live[0]?.metric ?? null;
}

/** A line of the champion's live metric by month, its interval as a band, the test value as a dashed line and
 * the value each month is held to (the same month of the test year, or the pre-shift test value) as a tick. */
export function liveChart(rows, test) {
  const points = rows.filter((r) => Number.isFinite(r.value)).sort((a, b) => a.target_period.localeCompare(b.target_period));
  if (!points.length) return null;
  const values = points.flatMap((r) => [r.value, r.low, r.high, r.reference]).concat(Number.isFinite(test) ? [test] : []).filter(Number.isFinite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || Math.abs(hi) || 1;
  const { width, height, pad } = CHART;
  const x = (i) => pad + (points.length === 1 ? (width - 2 * pad) / 2 : (i * (width - 2 * pad)) / (points.length - 1));
  const y = (v) => height - pad - ((v - lo) / span) * (height - 2 * pad);
  const band = points.filter((r) => Number.isFinite(r.low) && Number.isFinite(r.high));
  const bandPath = band.length
    ? `M${band.map((r) => `${x(points.indexOf(r))},${y(r.high)}`).join("L")}L${band
        .slice()
        .reverse()
        .map((r) => `${x(points.indexOf(r))},${y(r.low)}`)
        .join("L")}Z`
    : null;
  return s(
    "svg",
    { class: "monitoring-chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": w("chart") },
    bandPath ? s("path", { d: bandPath, fill: "#9ecae1", "fill-opacity": "0.5" }) : null,
    Number.isFinite(test)
      ? s("line", { x1: pad, x2: width - pad, y1: y(test), y2: y(test), stroke: "#636363", "stroke-dasharray": "5 4" })
      : null,
    ...points.map((r, i) =>
      Number.isFinite(r.reference) ? s("line", { class: "reference-tick", x1: x(i) - 6, x2: x(i) + 6, y1: y(r.reference), y2: y(r.reference), stroke: "#252525", "stroke-width": 2 }) : null,
    ),
    s("polyline", { points: points.map((r, i) => `${x(i)},${y(r.value)}`).join(" "), fill: "none", stroke: "#08519c", "stroke-width": 2 }),
    ...points.map((r, i) => s("circle", { cx: x(i), cy: y(r.value), r: 3, fill: r.worse ? "#d73027" : "#08519c" }, s("title", { text: `${monthLabel(r.target_period)}: ${num(r.value)}` }))),
    s("text", { x: 4, y: y(hi) + 4, "font-size": 11, text: num(hi, 3) }),
    s("text", { x: 4, y: y(lo) + 4, "font-size": 11, text: num(lo, 3) }),
    s("text", { x: x(0), y: height - 8, "font-size": 11, "text-anchor": "middle", text: monthLabel(points[0].target_period) }),
    points.length > 1
      ? s("text", { x: x(points.length - 1), y: height - 8, "font-size": 11, "text-anchor": "middle", text: monthLabel(points.at(-1).target_period) })
      : null,
  );
}

function table(headers, rows) {
  return h(
    "table",
    { class: "monitoring-table" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", text: x })))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
  );
}

function latestLive(family) {
  const mine = family.live.filter((r) => r.model_version === family.champion);
  const latest = new Map();
  for (const r of mine.sort((a, b) => a.target_period.localeCompare(b.target_period))) latest.set(r.metric, r);
  return [...latest.values()];
}

function familySection(family) {
  const name = FAMILY_NAMES[getLang()]?.[family.family] ?? family.family;
  const parts = [h("h3", { text: `${name} · ${w("champion")} ${family.champion ?? "–"}` })];
  if (family.error) parts.push(h("p", { class: "error", text: `${w("error")}: ${family.error}` }));
  if (family.band_counts?.length) {
    parts.push(h("h4", { text: w("bands") }));
    parts.push(table([w("month"), "", ""], family.band_counts.map((b) => [monthLabel(b.month), b.version, JSON.stringify(b.bands.bands ?? b.bands)])));
    return h("section", { class: "monitoring-family", "data-family": family.family }, parts);
  }
  parts.push(h("h4", { text: w("triggers") }));
  parts.push(family.triggers?.length ? h("ul", { class: "triggers" }, family.triggers.map((x) => h("li", { text: x }))) : h("p", { text: w("no_trigger") }));
  if (family.reference_raised) parts.push(h("p", { class: "reference-raised", text: `${w("raised")}: ${family.reference_raised}` }));
  const metric = family.live?.length ? headline(family) : null;
  if (metric) {
    const rows = family.live.filter((r) => r.metric === metric && r.model_version === family.champion);
    const chart = liveChart(rows, family.test_metrics?.[metric]);
    if (chart) parts.push(h("figure", {}, chart, h("figcaption", { text: `${metric}: ${w("chart")}` })));
  }
  const live = latestLive(family);
  if (live.length) {
    parts.push(h("h4", { text: w("live") }));
    parts.push(
      table(
        [w("metric"), w("month"), w("value"), w("interval"), w("test"), w("reference"), w("worse")],
        live.map((r) => [r.metric, monthLabel(r.target_period), num(r.value), `${num(r.low)} – ${num(r.high)}`, num(r.test), num(r.reference ?? r.test), r.worse ? w("yes") : w("no")]),
      ),
    );
  }
  const counts = family.outcomes ?? [];
  if (counts.length) {
    const joined = counts.reduce((a, r) => a + r.joined, 0);
    const missing = counts.reduce((a, r) => a + r.missing, 0);
    parts.push(h("p", { class: "outcome-counts", text: `${w("outcomes")}: ${joined} / ${missing}` }));
  }
  if (family.drift?.length) {
    parts.push(h("h4", { text: w("drift") }));
    parts.push(
      table(
        [w("what"), "PSI", "KS", "Wasserstein", w("status")],
        family.drift.slice(0, DRIFT_ROWS).map((r) => [r.what, num(r.psi, 3), num(r.ks, 3), num(r.wasserstein, 3), h("span", { class: `drift-${r.status}`, text: w(r.status) })]),
      ),
    );
  }
  if (family.champion_history?.length) {
    parts.push(h("h4", { text: w("history") }));
    parts.push(table([w("month"), w("champion")], family.champion_history.map((m) => [monthLabel(m.month), m.versions.join(", ")])));
  }
  if (family.decisions?.length) {
    parts.push(h("h4", { text: w("decisions") }));
    parts.push(
      table(
        [w("month"), w("action"), "", ""],
        family.decisions
          .slice()
          .reverse()
          .slice(0, 5)
          .map((d) => [d.data_month ? monthLabel(d.data_month) : "–", w(d.action), d.version ?? "", d.note]),
      ),
    );
  }
  return h("section", { class: "monitoring-family", "data-family": family.family }, parts);
}

/** The data scientists' view: one section per family. */
export class MonitoringView {
  constructor(root) {
    this.root = root;
    this.data = null;
  }

  reset() {
    this.data = null;
    clear(this.root);
  }

  /** Fetch (once per session or after reset) and draw; ``current()`` false: the user moved on. */
  async show(current = () => true) {
    if (!this.data) {
      clear(this.root).append(h("h2", { text: w("title") }), loadingLine());
      try {
        this.data = await api.monitoring();
      } catch (err) {
        if (current()) clear(this.root).append(h("h2", { text: w("title") }), errorLine(err));
        return;
      }
    }
    if (current()) this.#render();
  }

  relabel() {
    if (this.data) this.#render();
  }

  #render() {
    const families = this.data.families ?? [];
    clear(this.root).append(
      h("h2", { text: w("title") }),
      ...(this.data.store && families.length ? families.map(familySection) : [h("p", { text: w("none") })]),
    );
  }
}
