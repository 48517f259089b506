// Hand-written SVG chart of the market view: history and forecast of one series as a fan chart.

import { h, s, ticks } from "./dom.js";
import { monthLabel, numberFormat, t } from "./i18n.js";

function monthIndex(iso) {
  const [y, m] = iso.split("-").map(Number);
  return y * 12 + (m - 1);
}

function isoOf(index) {
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}`;
}

function q(point, label, fallback) {
  return point.quantiles[label] ?? fallback;
}

/** Hovering the chart shows the month under the pointer and its values (history, or median and bands). */
function addReadout(svg, { hist, fc, X, Y, top, bottom, left, right, digits }) {
  const points = [
    ...hist.map((p) => ({ i: p.i, y: p.v, lines: [`${t("history")} ${numberFormat(p.v, digits)}`] })),
    ...fc.map((p) => ({
      i: p.i,
      y: p.med,
      lines: [`${t("median")} ${numberFormat(p.med, digits)}`, `${t("band50")} ${numberFormat(p.lo50, digits)}–${numberFormat(p.hi50, digits)}`, `${t("band95")} ${numberFormat(p.lo95, digits)}–${numberFormat(p.hi95, digits)}`],
    })),
  ];
  if (!points.length) return;
  const line = s("line", { class: "readout-line", y1: top, y2: bottom });
  const dot = s("circle", { class: "readout-dot", r: 4 });
  const box = s("rect", { class: "readout-box", rx: 4 });
  const text = s("text", { class: "readout" });
  const group = s("g", { class: "hover-readout", visibility: "hidden", "aria-hidden": "true" }, line, dot, box, text);
  svg.append(group);
  const show = (event) => {
    const at = new DOMPoint(event.clientX, event.clientY).matrixTransform(svg.getScreenCTM().inverse());
    if (at.x < left || at.x > right) return group.setAttribute("visibility", "hidden");
    const p = points.reduce((best, q) => (Math.abs(X(q.i) - at.x) < Math.abs(X(best.i) - at.x) ? q : best));
    const x = X(p.i);
    for (const [k, v] of Object.entries({ x1: x, x2: x })) line.setAttribute(k, v);
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", Y(p.y));
    const lines = [monthLabel(isoOf(p.i)), ...p.lines];
    const width = 8 + 7.2 * Math.max(...lines.map((l) => l.length));
    const left_ = x + width + 12 > right ? x - width - 8 : x + 8;
    text.replaceChildren(...lines.map((l, k) => s("tspan", { x: left_ + 4, dy: k ? 15 : 0, text: l })));
    text.setAttribute("y", top + 14);
    for (const [k, v] of Object.entries({ x: left_, y: top, width, height: 8 + 15 * lines.length })) box.setAttribute(k, v);
    group.setAttribute("visibility", "visible");
    svg.dataset.readout = isoOf(p.i);
  };
  svg.addEventListener("pointermove", show);
  svg.addEventListener("pointerleave", () => group.setAttribute("visibility", "hidden"));
}

/**
 * History (line) and forecast (median, 50 % and 95 % bands) of one market series.
 * ``history``: [{month, value}], ``forecast``: the API's ForecastPoint list; ``zero``: start the axis at 0.
 */
export function fanChart({ history, forecast, title, sentence, zero = true, digits = 0 }) {
  const W = 560;
  const H = 270;
  const m = { l: 58, r: 14, t: 12, b: 30 };
  const hist = history.map((p) => ({ i: monthIndex(p.month), v: p.value }));
  const fc = forecast.map((p) => ({
    i: monthIndex(p.target_month),
    med: p.median,
    lo95: q(p, "q025", p.median),
    hi95: q(p, "q975", p.median),
    lo50: q(p, "q250", p.median),
    hi50: q(p, "q750", p.median),
  }));
  const xs = [...hist.map((p) => p.i), ...fc.map((p) => p.i)];
  const ys = [...hist.map((p) => p.v), ...fc.flatMap((p) => [p.lo95, p.hi95])];
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const lowest = Math.min(...ys);
  const highest = Math.max(...ys);
  const pad = 0.05 * (highest - lowest || Math.abs(highest) || 1);
  const yt = ticks(zero ? Math.min(0, lowest) : lowest - pad, highest + pad, 5);
  const y0 = Math.min(yt[0], lowest);
  const y1 = Math.max(yt[yt.length - 1], highest);
  const X = (i) => m.l + ((i - x0) / Math.max(1, x1 - x0)) * (W - m.l - m.r);
  const Y = (v) => H - m.b - ((v - y0) / Math.max(1e-9, y1 - y0)) * (H - m.t - m.b);
  const pts = (list) => list.map(([i, v]) => `${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join(" ");
  const last = hist[hist.length - 1];
  const anchor = last ? [{ i: last.i, med: last.v, lo95: last.v, hi95: last.v, lo50: last.v, hi50: last.v }] : [];
  const band = [...anchor, ...fc];
  const area = (lo, hi) => pts([...band.map((p) => [p.i, p[hi]]), ...band.slice().reverse().map((p) => [p.i, p[lo]])]);

  const grid = yt.map((v) =>
    s(
      "g",
      { class: "tick" },
      s("line", { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }),
      s("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end", text: numberFormat(v, digits) }),
    ),
  );
  const xTicks = [];
  for (let i = x0; i <= x1; i++) {
    if (i % 6 !== 0) continue;
    xTicks.push(
      s(
        "g",
        { class: "tick" },
        s("line", { x1: X(i), x2: X(i), y1: H - m.b, y2: H - m.b + 4 }),
        s("text", { x: X(i), y: H - m.b + 17, "text-anchor": "middle", text: isoOf(i) }),
      ),
    );
  }
  const svg = s(
    "svg",
    { class: "fan", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
    grid,
    xTicks,
    s("line", { class: "axis", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }),
    last ? s("line", { class: "origin", x1: X(last.i), x2: X(last.i), y1: m.t, y2: H - m.b }) : null,
    s("polygon", { class: "band95", points: area("lo95", "hi95") }),
    s("polygon", { class: "band50", points: area("lo50", "hi50") }),
    s("polyline", { class: "history", points: pts(hist.map((p) => [p.i, p.v])) }),
    s("polyline", { class: "median", points: pts(band.map((p) => [p.i, p.med])) }),
    fc.map((p) => s("circle", { class: "median-dot", cx: X(p.i), cy: Y(p.med), r: 3 })),
  );
  addReadout(svg, { hist, fc, X, Y, top: m.t, bottom: H - m.b, left: m.l, right: W - m.r, digits });
  const legend = h(
    "p",
    { class: "chart-legend" },
    h("span", { class: "key history" }),
    ` ${t("history")}  `,
    h("span", { class: "key median" }),
    ` ${t("median")}  `,
    h("span", { class: "key band50" }),
    ` ${t("band50")}  `,
    h("span", { class: "key band95" }),
    ` ${t("band95")}`,
  );
  const table = h(
    "table",
    { class: "forecast-table" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", { text: t("month") }), h("th", { text: t("median") }), h("th", { text: t("band50") }), h("th", { text: t("band95") })),
    ),
    h(
      "tbody",
      {},
      fc.map((p) =>
        h(
          "tr",
          {},
          h("td", { text: monthLabel(isoOf(p.i)) }),
          h("td", { class: "num", text: numberFormat(p.med, digits) }),
          h("td", { class: "num", text: `${numberFormat(p.lo50, digits)}–${numberFormat(p.hi50, digits)}` }),
          h("td", { class: "num", text: `${numberFormat(p.lo95, digits)}–${numberFormat(p.hi95, digits)}` }),
        ),
      ),
    ),
  );
  return h(
    "figure",
    { class: "fan-chart" },
    h("figcaption", { text: title }),
    svg,
    legend,
    sentence ? h("p", { class: "sentence", text: sentence }) : null,
    table,
  );
}
