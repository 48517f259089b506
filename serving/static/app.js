// Muzhang one-screen page: sign-in with a key, the tabs and which view shows, the language switch.
// Each view is its own module (view-*.js); every call to the API goes through api.js.

import * as api from "./api.js";
import { clear } from "./dom.js";
import { GridPanel } from "./grid-panel.js";
import { applyI18n, getLang, monthLabel, numberFormat, setLang, t } from "./i18n.js";
import { CountyMap } from "./map.js";
import { HealthView } from "./view-health.js";
import { MapView } from "./view-map.js";
import { MarketView } from "./view-market.js";
import { RotationView } from "./view-rotation.js";
import { QualityView } from "./view-quality.js";
import { ReportView } from "./view-report.js";
import { showWatchlist } from "./view-watchlist.js";
import { errorLine } from "./widgets.js";

const $ = (id) => document.getElementById(id);
const LANG_NAME = "muzhang.lang";
const state = {
  view: "map",
  layer: "pressure",
  season: "warm",
  mapData: null,
  planningAllowed: true,
  views: new Set(), // the tabs this key may use (see ``allowedViews``)
  asOf: null, // the last month of county data every answer uses ("YYYY-MM-DD"), shown in the header
  source: null, // where the county's data comes from: "store" or "directory" (unknown to a reporter key)
  generation: 0,
};
const PLANNING_VIEWS = ["map", "rotation", "market", "watch", "health"];

const map = new CountyMap($("map"), { onSelect: selectGrid, hoverLines });
const panel = new GridPanel($("panel-grid"), { gridInfo, townshipName });
const mapView = new MapView({ map, panel, legend: $("legend"), setStatus });
const rotation = new RotationView({ root: $("panel-rotation"), legend: $("legend"), map, gridName: (id) => gridInfo(id).name, setStatus });
const market = new MarketView($("view-market"));
const health = new HealthView($("view-health"));
const report = new ReportView($("view-report"), { gridName: (id) => (map.grids.has(id) ? gridInfo(id).name : id) });
const quality = new QualityView({
  root: $("panel-quality"),
  map,
  legend: $("legend"),
  gridName: (id) => (map.grids.has(id) ? gridInfo(id).name : id),
  townshipName,
  onClosed: (answer) => {
    // Every answer moved to the new month: what was fetched for the old one is stale.
    showAsOf(answer.as_of, state.source);
    mapView.reset();
    rotation.reset();
    market.reset();
    report.form = null;
  },
});

function gridInfo(id) {
  const p = map.grids.get(id)?.props ?? {};
  return { ...p, name: (getLang() === "zh" ? p.grid_name_zh : p.grid_name) ?? id };
}

function townshipName(id) {
  const tw = state.mapData?.townships.find((x) => x.township_id === id);
  if (!tw) return id;
  return getLang() === "zh" ? tw.township_name_zh : tw.township_name;
}

/** "Data as of <month>" in the header (``iso`` null: nothing shown), with where the data comes from as its title. */
function showAsOf(iso, source = null) {
  state.asOf = iso ?? null;
  state.source = source ?? null;
  const el = $("data-as-of");
  el.textContent = state.asOf ? t("header_as_of", { month: monthLabel(state.asOf) }) : "";
  el.dataset.month = state.asOf ?? "";
  el.title = state.source ? t("header_as_of_source", { source: t(`source_${state.source}`) }) : "";
  el.hidden = !state.asOf;
}

function setStatus(text, kind = "info") {
  const el = $("status");
  el.textContent = text ?? "";
  el.className = `status ${kind}`;
  el.hidden = !text;
}

// --- sign in and out ------------------------------------------------------------------------------
const isStatus = (err, code) => err instanceof api.ApiError && err.status === code;

/**
 * Which views the key may use, asking the service (there is no "who am I" route). A key that may read no
 * model is a herder chief's: the report view only, nothing else is fetched. Others: the planning views as
 * before, plus the report view and the data-quality view when the service answers them (both need the
 * county store: a 503 means this service reads a county directory).
 */
async function allowedViews() {
  let models;
  try {
    models = await api.models();
  } catch (err) {
    if (!isStatus(err, 403)) throw err;
    const form = await api.reportForm(); // a 403 here too: a key for nothing this page shows
    return { views: new Set(["report"]), form, start: "report", asOf: form.as_of, source: null };
  }
  state.mapData = await api.countyMap();
  const [form, dq] = await Promise.allSettled([api.reportForm(), api.dataQuality()]);
  const views = new Set(PLANNING_VIEWS);
  const store = !(dq.status === "rejected" && isStatus(dq.reason, 503));
  if (form.status === "fulfilled" && store) views.add("report");
  if (dq.status === "fulfilled") views.add("quality");
  return { views, form: form.value ?? null, quality: dq.value ?? null, start: null, asOf: models.data_as_of, source: models.data_source };
}

function showTabs() {
  for (const tab of document.querySelectorAll("#tabs [data-view]")) tab.hidden = !state.views.has(tab.dataset.view);
}

async function signIn(key) {
  api.setKey(key);
  setStatus(t("loading"));
  let allowed;
  try {
    allowed = await allowedViews();
  } catch (err) {
    api.clearKey();
    state.mapData = null;
    const text = isStatus(err, 401) ? t("err_401") : isStatus(err, 403) ? t("err_403_nothing") : `${t("error")}: ${err.message}`;
    setStatus(text, "error");
    return;
  }
  state.views = allowed.views;
  if (allowed.start) state.view = allowed.start;
  if (!state.views.has(state.view)) state.view = [...state.views][0];
  $("key-input").value = "";
  document.body.classList.add("signed-in");
  document.body.classList.toggle("reporter-only", !state.mapData);
  showTabs();
  if (state.mapData) {
    map.load(state.mapData);
    map.label((tw) => townshipName(tw.township_id));
    $("grid-count").textContent = t("grids_count", { n: map.size });
  }
  setStatus("");
  showAsOf(allowed.asOf, allowed.source);
  panel.reset();
  quality.data = allowed.quality;
  quality.fields = allowed.form?.fields ?? [];
  // Keys that may report may close months too (planner, admin); the form says the last closed month.
  quality.asOf = state.views.has("report") ? (allowed.form?.as_of ?? null) : null;
  quality.staff = state.views.has("report"); // uploads files and follows up flags
  if (allowed.form && state.views.has("report")) {
    report.form = allowed.form;
    report.flush(); // reports left on this device while offline or signed out
  }
  await showView(state.view);
}

/**
 * Forget the key and everything fetched with it, patient data first; back to the sign-in screen.
 * The outbox of unsent reports is kept on purpose: those reports belong to the device's chief, who signs
 * in again to send them (they hold no key and no health data; see outbox.js).
 */
function signOut() {
  health.reset();
  report.reset();
  quality.reset();
  showAsOf(null);
  api.clearKey();
  state.generation++;
  Object.assign(state, { mapData: null, planningAllowed: true, views: new Set(), view: "map", layer: "pressure", season: "warm" });
  showTabs();
  document.body.classList.remove("reporter-only");
  $("layer").value = state.layer;
  $("season").value = state.season;
  mapView.reset();
  rotation.reset();
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
  const current = () => generation === state.generation;
  setStatus(""); // a message belongs to the view that showed it
  if (view !== "rotation") map.clearArrows();
  if (view === "health") return health.open();
  if (view === "report") return report.open();
  if (view === "quality") return quality.show(current);
  if (!state.planningAllowed) {
    setStatus(t("err_403_planning"), "error");
    return;
  }
  try {
    if (view === "map") await mapView.show(state.layer, state.season, current);
    else if (view === "rotation") await rotation.show(state.season, current);
    else if (view === "watch") {
      const watch = showWatchlist($("panel-watch"), selectGrid, townshipName);
      await Promise.all([mapView.show("dispute", state.season, current), watch]);
    } else if (view === "market") await market.render(state.mapData.townships, townshipName);
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 403) {
      // A key without planning rights (health staff): their view is the health one.
      state.planningAllowed = false;
      if (current()) return showView("health");
      return;
    }
    if (current()) {
      setStatus("");
      $("status").append(errorLine(err));
      $("status").hidden = false;
    }
  }
}

function selectGrid(id) {
  map.select(id);
  if (state.view !== "map") showView("map");
  panel.open(id, state.season);
  if (window.matchMedia("(max-width: 900px)").matches) $("side").scrollIntoView({ behavior: "smooth" });
}

function hoverLines(id) {
  const info = gridInfo(id);
  const lines = [info.name, `${townshipName(info.township_id)} · ${numberFormat(info.area_km2, 1)} ${t("km2")}`];
  if (state.view === "quality") {
    lines.push(quality.hoverLine(id));
    return lines;
  }
  if (state.view === "rotation") {
    const line = rotation.hoverLine(id, state.season);
    if (line) lines.push(line);
    return lines;
  }
  lines.push(mapView.hoverLine(id, state.view === "watch" ? "dispute" : state.layer, state.season));
  return lines;
}

// --- wiring ---------------------------------------------------------------------------------------
function relabel() {
  applyI18n();
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
  for (const opt of $("layer").options) opt.textContent = t(`layer_${opt.value}`);
  for (const opt of $("season").options) opt.textContent = t(`season_${opt.value}`);
  showAsOf(state.asOf, state.source);
}

function switchLang(lang) {
  setLang(lang);
  sessionStorage.setItem(LANG_NAME, getLang());
  relabel();
  if (!document.body.classList.contains("signed-in")) return;
  // Names and sentences come from the API in the chosen language: fetch them again.
  if (!state.mapData) {
    report.relabel(); // a herder chief's key: the report view is all there is
    return;
  }
  mapView.reset();
  rotation.reset();
  map.label((tw) => townshipName(tw.township_id));
  $("grid-count").textContent = t("grids_count", { n: map.size });
  if (state.view === "health") health.relabel();
  else if (state.view === "quality") quality.relabel();
  else if (state.view === "report") report.relabel();
  else showView(state.view);
  if (panel.current) panel.open(panel.current.gridId, state.season);
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("key-input").value.trim();
  if (key) signIn(key);
});
$("logout").addEventListener("click", signOut);
// The network is back: send what waits in the outbox (resending is safe, each report has its own id).
window.addEventListener("online", () => report.flush());
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
if (api.getKey()) signIn(api.getKey());
else $("key-input").focus();
