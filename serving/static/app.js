// Muzhang one-screen page: sign-in with a key, views, map layers and their legend.

import { api, ApiError, batched, clearKey, getKey, setKey } from "./api.js";
import { clear, h, NO_DATA, PURPLES, s, swatch, YL_OR_RD } from "./dom.js";
import { errorLine, GridPanel } from "./grid-panel.js";
import { HealthView } from "./health.js";
import { applyI18n, getLang, numberFormat, percent, setLang, t } from "./i18n.js";
import { CountyMap } from "./map.js";
import { MarketView, ROTATION_COLOURS, showRotation, showWatchlist } from "./views.js";

const $ = (id) => document.getElementById(id);
const LANG_NAME = "muzhang.lang";
const STATUS_COLOURS = { under: "#74add1", balanced: "#fee090", over: "#d73027" };
const ACTION_COLOURS = { graze: "#4575b4", rotate: "#fdae61", rest: "#a50026" };
const PRESSURE_MAX = 2;
// Batch answers in slices, two at a time: the map fills in while the rest is computed (one per core).
const SLICES = { chunk: 100, parallel: 2 };

// A layer: where its value comes from, how it is coloured, and how the legend and tooltip read it.
const LAYERS = {
  pressure: {
    source: "grazing",
    value: (a) => a.pressure,
    colour: (v) => YL_OR_RD(v / PRESSURE_MAX),
    text: (v) => numberFormat(v, 2),
    scale: { max: PRESSURE_MAX, ramp: YL_OR_RD, ticks: [0, 0.5, 1, 1.5, 2], format: (v) => (v >= PRESSURE_MAX ? `≥${v}` : String(v)), unit: "unit_pressure" },
  },
  status: { source: "grazing", value: (a) => a.status, colour: (v) => STATUS_COLOURS[v], text: (v) => t(`status_${v}`), categories: STATUS_COLOURS, prefix: "status" },
  advice: { source: "grazing", value: (a) => a.advice.action, colour: (v) => ACTION_COLOURS[v], text: (v) => t(`action_${v}`), categories: ACTION_COLOURS, prefix: "action" },
  dispute: {
    source: "dispute",
    value: (r) => r.probability,
    colour: (v, max) => PURPLES(v / max),
    text: (v) => percent(v),
    scale: { ramp: PURPLES, format: (v) => `${numberFormat(100 * v)}%`, unit: "unit_dispute" },
  },
};

const state = {
  view: "map",
  layer: "pressure",
  season: "warm",
  mapData: null,
  grazing: new Map(), // season -> Map(grid_id -> assessment), filled as batch answers arrive
  dispute: null, // Map(grid_id -> risk)
  rotation: new Map(), // season -> plan
  planningAllowed: true,
  generation: 0,
};

const map = new CountyMap($("map"), { onSelect: selectGrid, hoverLines });
const panel = new GridPanel($("panel-grid"), { gridInfo, townshipName });
const market = new MarketView($("view-market"));
const health = new HealthView($("view-health"));

function gridInfo(id) {
  const p = map.grids.get(id)?.props ?? {};
  return { ...p, name: (getLang() === "zh" ? p.grid_name_zh : p.grid_name) ?? id };
}

function townshipName(id) {
  const tw = state.mapData?.townships.find((x) => x.township_id === id);
  if (!tw) return id;
  return getLang() === "zh" ? tw.township_name_zh : tw.township_name;
}

function setStatus(text, kind = "info") {
  const el = $("status");
  el.textContent = text ?? "";
  el.className = `status ${kind}`;
  el.hidden = !text;
}

// --- sign in and out ------------------------------------------------------------------------------
async function signIn(key) {
  setKey(key);
  setStatus(t("loading"));
  try {
    await api("/v1/models");
    state.mapData = await api("/v1/county/map", { query: { lang: null } });
  } catch (err) {
    clearKey();
    setStatus(err instanceof ApiError && err.status === 401 ? t("err_401") : `${t("error")}: ${err.message}`, "error");
    return;
  }
  $("key-input").value = "";
  document.body.classList.add("signed-in");
  map.load(state.mapData);
  map.label((tw) => townshipName(tw.township_id));
  $("grid-count").textContent = t("grids_count", { n: map.size });
  setStatus("");
  panel.reset();
  await showView(state.view);
}

/** Forget the key and everything fetched with it, patient data first; back to the sign-in screen. */
function signOut() {
  health.reset();
  clearKey();
  state.generation++;
  Object.assign(state, { mapData: null, dispute: null, planningAllowed: true, view: "map", layer: "pressure", season: "warm" });
  $("layer").value = state.layer;
  $("season").value = state.season;
  state.grazing.clear();
  state.rotation.clear();
  market.reset();
  panel.reset();
  for (const id of ["map", "legend", "panel-rotation", "panel-watch", "grid-count"]) clear($(id));
  document.body.classList.remove("signed-in");
  setStatus("");
  $("key-input").focus();
}

// --- views ----------------------------------------------------------------------------------------
async function showView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll("#tabs [data-view]")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  document.body.dataset.view = view;
  const generation = ++state.generation;
  setStatus(""); // a message belongs to the view that showed it
  if (view !== "rotation") map.clearArrows();
  if (view === "health") return health.open();
  if (!state.planningAllowed) {
    setStatus(t("err_403_planning"), "error");
    return;
  }
  try {
    if (view === "map") await paintLayer(generation);
    else if (view === "rotation") await showPlan(generation);
    else if (view === "watch") {
      const watch = showWatchlist($("panel-watch"), selectGrid, townshipName);
      await Promise.all([paintLayer(generation, "dispute"), watch]);
    } else if (view === "market") await market.render(state.mapData.townships, townshipName);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      // A key without planning rights (health staff): their view is the health one.
      state.planningAllowed = false;
      if (generation === state.generation) return showView("health");
      return;
    }
    if (generation === state.generation) {
      setStatus("");
      $("status").append(errorLine(err));
      $("status").hidden = false;
    }
  }
}

async function showPlan(generation) {
  setStatus(t("loading"));
  let plan = state.rotation.get(state.season);
  if (!plan) {
    plan = await api("/v1/grazing/rotation-plan", { query: { season: state.season } });
    state.rotation.set(state.season, plan);
  }
  if (generation !== state.generation) return;
  setStatus("");
  showRotation(plan, $("panel-rotation"), map, (id) => gridInfo(id).name);
  legendRotation();
}

function selectGrid(id) {
  map.select(id);
  if (state.view !== "map") showView("map");
  panel.open(id, state.season);
  if (window.matchMedia("(max-width: 900px)").matches) $("side").scrollIntoView({ behavior: "smooth" });
}

// --- layers ---------------------------------------------------------------------------------------
function layerData(source, season) {
  return source === "dispute" ? state.dispute : state.grazing.get(season);
}

/** Fetch what the layer needs (once per season) and paint the map, slice by slice as answers arrive. */
async function paintLayer(generation, name = state.layer) {
  const layer = LAYERS[name];
  const season = state.season;
  const painted = layer.source === "dispute" ? name : `${name}-${season}`;
  let data = layerData(layer.source, season);
  const paint = (done) => {
    if (generation !== state.generation) return;
    const values = layerData(layer.source, season);
    const max = Math.max(0.05, ...[...values.values()].map(layer.value));
    map.paint((id) => {
      const item = values.get(id);
      const v = item ? layer.value(item) : null;
      return v === null || v === undefined || Number.isNaN(v) ? NO_DATA : layer.colour(v, max);
    }, done ? painted : `${painted}-partial`);
    legend(name, max);
  };
  if (!data?.complete) {
    setStatus(t("loading_layer"));
    if (!data) {
      data = new Map();
      if (layer.source === "dispute") state.dispute = data;
      else state.grazing.set(season, data);
      const ids = map.ids();
      const store = (items) => {
        for (const item of items) data.set(item.grid_id, item);
        paint(false);
      };
      data.loading =
        layer.source === "dispute"
          ? batched("/v1/dispute/batch", ids, (slice) => ({ grid_ids: slice }), (r) => r.items, store, SLICES)
          : batched("/v1/grazing/batch", ids.map((id) => ({ grid_id: id, season })), (slice) => ({ items: slice }), (r) => r.items, store, SLICES);
      data.loading.then(
        () => (data.complete = true),
        () => (layer.source === "dispute" ? (state.dispute = null) : state.grazing.delete(season)),
      );
    }
    await data.loading;
    if (generation === state.generation) setStatus("");
  }
  paint(true);
  if (layer.source === "grazing" && !panel.current && generation === state.generation) panel.overview([...data.values()], season);
}

function hoverLines(id) {
  const info = gridInfo(id);
  const lines = [info.name, `${townshipName(info.township_id)} · ${numberFormat(info.area_km2, 1)} ${t("km2")}`];
  if (state.view === "rotation") {
    const g = state.rotation.get(state.season)?.grids.find((x) => x.grid_id === id);
    if (g) lines.push(`${t(`rot_${g.action}`)} · ${numberFormat(g.su_before)} → ${numberFormat(g.su_after)} ${t("su")}`);
    return lines;
  }
  const name = state.view === "watch" ? "dispute" : state.layer;
  const layer = LAYERS[name];
  const item = layerData(layer.source, state.season)?.get(id);
  lines.push(`${t(`layer_${name}`)}: ${item ? layer.text(layer.value(item)) : t("no_data")}`);
  return lines;
}

function legend(name, max) {
  const layer = LAYERS[name];
  const root = clear($("legend"));
  root.append(h("strong", { text: t(`layer_${name}`) }));
  if (layer.categories) {
    root.append(
      h(
        "ul",
        { class: "legend-list" },
        Object.entries(layer.categories).map(([k, colour]) => h("li", {}, swatch(colour), ` ${t(`${layer.prefix}_${k}`)}`)),
      ),
    );
    return;
  }
  const sc = layer.scale;
  const top = sc.max ?? max;
  const tickValues = sc.ticks ?? [0, top / 4, top / 2, (3 * top) / 4, top];
  const W = 260;
  const stops = Array.from({ length: 11 }, (_, i) => s("stop", { offset: `${i * 10}%`, "stop-color": sc.ramp(i / 10) }));
  root.append(
    s(
      "svg",
      { class: "legend-scale", viewBox: `0 0 ${W + 20} 34`, role: "img", "aria-label": t(sc.unit) },
      s("defs", {}, s("linearGradient", { id: `ramp-${name}` }, stops)),
      s("rect", { x: 10, y: 2, width: W, height: 12, fill: `url(#ramp-${name})`, class: "ramp" }),
      tickValues.map((v) =>
        s(
          "g",
          {},
          s("line", { x1: 10 + (v / top) * W, x2: 10 + (v / top) * W, y1: 14, y2: 18, class: "tick-line" }),
          s("text", { x: 10 + (v / top) * W, y: 30, "text-anchor": "middle", text: sc.format(v) }),
        ),
      ),
    ),
    h("span", { class: "unit", text: t(sc.unit) }),
    h("span", { class: "unit" }, swatch(NO_DATA), ` ${t("no_data")}`),
  );
}

function legendRotation() {
  const root = clear($("legend"));
  root.append(
    h("strong", { text: t("tab_rotation") }),
    h("ul", { class: "legend-list" }, Object.entries(ROTATION_COLOURS).map(([k, colour]) => h("li", {}, swatch(colour), ` ${t(`rot_${k}`)}`))),
  );
}

// --- wiring ---------------------------------------------------------------------------------------
function relabel() {
  applyI18n();
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
  for (const opt of $("layer").options) opt.textContent = t(`layer_${opt.value}`);
  for (const opt of $("season").options) opt.textContent = t(`season_${opt.value}`);
}

function switchLang(lang) {
  setLang(lang);
  sessionStorage.setItem(LANG_NAME, getLang());
  relabel();
  if (!document.body.classList.contains("signed-in")) return;
  // Names and sentences come from the API in the chosen language: fetch them again.
  state.grazing.clear();
  state.rotation.clear();
  state.dispute = null;
  map.label((tw) => townshipName(tw.township_id));
  $("grid-count").textContent = t("grids_count", { n: map.size });
  if (state.view === "health") health.relabel();
  else showView(state.view);
  if (panel.current) panel.open(panel.current.gridId, state.season);
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("key-input").value.trim();
  if (key) signIn(key);
});
$("logout").addEventListener("click", signOut);
for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => switchLang(b.dataset.lang));
for (const tab of document.querySelectorAll("#tabs [data-view]")) tab.addEventListener("click", () => showView(tab.dataset.view));
$("layer").addEventListener("change", (e) => {
  state.layer = e.target.value;
  showView("map");
});
$("season").addEventListener("change", (e) => {
  state.season = e.target.value;
  showView(state.view === "rotation" ? "rotation" : "map");
  if (panel.current) panel.open(panel.current.gridId, state.season);
});

setLang(sessionStorage.getItem(LANG_NAME) ?? "zh");
relabel();
if (getKey()) signIn(getKey());
else $("key-input").focus();
