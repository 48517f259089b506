// Muzhang one-screen page: sign-in with a key, the tabs and which view shows, the language switch.
// Each view is its own module (view-*.js); every call to the API goes through api.js.

import * as api from "./api.js";
import { clear } from "./dom.js";
import { GridPanel } from "./grid-panel.js";
import { applyI18n, getLang, monthLabel, numberFormat, setLang, t } from "./i18n.js";
import { CountyMap } from "./map.js";
import { GridSearch } from "./search.js";
import { HealthView } from "./view-health.js";
import { MapView } from "./view-map.js";
import { MarketView } from "./view-market.js";
import { MonitoringView } from "./view-monitoring.js";
import { RotationView } from "./view-rotation.js";
import { QualityView } from "./view-quality.js";
import { ReportView } from "./view-report.js";
import { WatchlistView } from "./view-watchlist.js";
import { errorLine } from "./widgets.js";

const $ = (id) => document.getElementById(id);
const LANG_NAME = "muzhang.lang";
const state = {
  view: "map",
  layer: "pressure",
  season: "warm",
  mapData: null,
  views: new Set(), // the tabs this key may use (see ``viewsFor``)
  asOf: null, // the last month of county data every answer uses ("YYYY-MM-DD"), shown in the header
  source: null, // where the county's data comes from: "store" or "directory" (unknown to a reporter key)
  generation: 0,
};
// Tabs in their order on the page; a key sees only those ``viewsFor`` gives it.
const VIEW_ORDER = ["map", "rotation", "market", "watch", "health", "report", "quality", "monitoring"];
const MAP_VIEWS = ["map", "rotation", "watch", "quality"]; // views that draw the county map

const map = new CountyMap($("map"), { onSelect: selectGrid, hoverLines });
const panel = new GridPanel($("panel-grid"), { gridInfo, townshipName });
const mapView = new MapView({ map, panel, legend: $("legend"), setStatus });
const rotation = new RotationView({ root: $("panel-rotation"), legend: $("legend"), map, gridName: (id) => gridInfo(id).name, setStatus });
const watch = new WatchlistView($("panel-watch"), { onPick: selectGrid, townshipName });
const search = new GridSearch({
  form: $("grid-search-form"),
  input: $("grid-search"),
  datalist: $("grid-options"),
  results: $("grid-results"),
  onPick: (id) => {
    map.zoomTo(id, 3);
    selectGrid(id, { focus: true });
  },
  gridInfo,
  townshipName,
});
const market = new MarketView($("view-market"));
const health = new HealthView($("view-health"));
const monitoring = new MonitoringView($("view-monitoring"));
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
    monitoring.reset();
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

// --- sign in and out ------------------------------------------------------------------------------------
const isStatus = (err, code) => err instanceof api.ApiError && err.status === code;

/** The views a key may use, from what the service says it may use (``api.access``): nothing else is shown. */
export function viewsFor(access) {
  const families = new Set(access.families);
  const views = new Set();
  if (families.has("grazing") || families.has("dispute")) views.add("map");
  if (families.has("grazing")) views.add("rotation");
  if (families.has("market")) views.add("market");
  if (families.has("dispute")) views.add("watch");
  if (families.has("disease")) views.add("health");
  if (access.reports) views.add("report");
  if (access.data_quality) views.add("quality");
  if (["data_scientist", "admin"].includes(access.role)) views.add("monitoring"); // api.monitoring: those two roles
  return views;
}

function showTabs() {
  for (const tab of document.querySelectorAll("#tabs [data-view]")) tab.hidden = !state.views.has(tab.dataset.view);
}

/** Back to the sign-in screen saying why (``err``: the refusal of the key). */
function refuse(err) {
  api.clearKey();
  state.mapData = null;
  const text = isStatus(err, 401) ? t("err_401") : isStatus(err, 403) ? t("err_403_nothing") : `${t("error")}${t("colon")}${err.message}`;
  setStatus(text, "error");
  $("key-input").focus();
}

/**
 * A new session with ``key``: ask what it may use (a 403 there is a herder chief's key, which reads only its
 * report form), draw the map if one of its views needs it, show its tabs, and move the focus to them.
 */
async function signIn(key) {
  api.setKey(key);
  setStatus(t("loading"));
  let access = null;
  let form = null;
  try {
    access = await api.access();
  } catch (err) {
    if (api.isStale(err)) return;
    if (!isStatus(err, 403)) return refuse(err);
    try {
      form = await api.reportForm();
    } catch (err2) {
      if (!api.isStale(err2)) refuse(err2);
      return;
    }
  }
  const views = access ? viewsFor(access) : new Set(["report"]);
  if (!views.size) return refuse(new api.ApiError(403, ""));
  let mapData = null;
  if (MAP_VIEWS.some((v) => views.has(v))) {
    if (views.has("map")) mapView.summary(state.season).catch(() => null); // fetched beside the polygons
    try {
      mapData = await api.countyMap();
    } catch (err) {
      if (!api.isStale(err)) refuse(err);
      return;
    }
  }
  Object.assign(state, { views, mapData, access });
  if (!views.has(state.view)) state.view = VIEW_ORDER.find((v) => views.has(v));
  $("key-input").value = "";
  document.body.classList.add("signed-in");
  document.body.classList.toggle("reporter-only", !access);
  document.body.classList.toggle("no-map", !mapData);
  showTabs();
  if (mapData) {
    map.load(mapData);
    map.label((tw) => townshipName(tw.township_id));
    search.load(mapData);
    $("grid-count").textContent = t("grids_count", { n: map.size });
  }
  setStatus("");
  showAsOf(access?.data_as_of ?? form?.as_of, access?.data_source ?? null);
  panel.reset();
  health.cutoffs = access?.risk_bands?.disease ?? null;
  health.conditions = access?.condition_bands?.disease ?? null;
  quality.fields = [];
  // Keys that may report may close months too (planner, admin); the county's data month is the last closed one.
  quality.asOf = views.has("report") ? (access?.data_as_of ?? null) : null;
  quality.staff = views.has("report"); // uploads files and follows up flagged values
  if (form) report.form = form;
  const shown = showView(state.view);
  if (views.size > 1) document.querySelector("#tabs [aria-selected=true]")?.focus();
  if (access?.reports) {
    // Not needed to draw the map: fetched after it, then reports left on this device while offline are sent.
    api.reportForm().then(
      (f) => {
        report.form = f;
        quality.fields = f.fields ?? [];
        quality.asOf = f.as_of ?? quality.asOf;
        report.flush();
      },
      () => null,
    );
  } else if (form) report.flush();
  await shown;
  // One view and no tab row (health staff, a herder chief): the focus goes to the view's heading.
  if (views.size === 1) {
    const heading = [...document.querySelectorAll("#view h2")].find((el) => el.offsetParent !== null);
    heading?.setAttribute("tabindex", "-1");
    heading?.focus();
  }
}

/**
 * Forget the key and everything fetched with it, patient data first; back to the sign-in screen. Every
 * request of the session is aborted, and an answer still on its way is dropped (api.js).
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
  Object.assign(state, { mapData: null, access: null, views: new Set(), view: "map", layer: "pressure", season: "warm" });
  showTabs();
  document.body.classList.remove("reporter-only", "no-map");
  $("layer").value = state.layer;
  $("season").value = state.season;
  mapView.reset();
  rotation.reset();
  market.reset();
  monitoring.reset();
  watch.reset();
  search.reset();
  panel.reset();
  for (const id of ["map", "legend", "panel-rotation", "panel-watch", "grid-count"]) clear($(id));
  document.body.classList.remove("signed-in");
  setStatus("");
  $("key-input").focus();
}

// A key refused in the middle of a session (revoked, or the service's keys changed): back to sign-in.
api.whenUnauthorized(() => {
  if (!document.body.classList.contains("signed-in")) return;
  signOut();
  setStatus(t("err_session_ended"), "error");
});

// --- views ----------------------------------------------------------------------------------------
async function showView(view) {
  if (!state.views.has(view)) return;
  state.view = view;
  for (const tab of document.querySelectorAll("#tabs [data-view]")) {
    const selected = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1; // one tab stop for the tab list; arrow keys move between tabs
  }
  $("view").setAttribute("aria-labelledby", `tab-${view}`);
  document.body.dataset.view = view;
  const generation = ++state.generation;
  const current = () => generation === state.generation;
  setStatus(""); // a message belongs to the view that showed it
  if (view !== "rotation") map.clearArrows();
  try {
    if (view === "health") await health.open();
    else if (view === "report") await report.open();
    else if (view === "quality") await quality.show(current);
    else if (view === "map") await mapView.show(state.layer, state.season, current);
    else if (view === "rotation") await rotation.show(state.season, current);
    else if (view === "watch") await Promise.all([mapView.show("dispute", state.season, current), watch.list ? null : watch.show(state.mapData.townships)]);
    else if (view === "market") await market.render(state.mapData.townships, townshipName);
    else if (view === "monitoring") await monitoring.show(current);
  } catch (err) {
    if (api.isStale(err) || !current()) return;
    setStatus("");
    $("status").append(errorLine(err));
    $("status").hidden = false;
  }
}

/**
 * Open grid ``id``: outlined on the map, its panel opened. From the watch-list the list stays with its focus
 * and the grid's dispute risk opens under it (the map keeps the dispute layer); elsewhere the map view shows
 * it, and ``focus`` moves the focus to the panel's heading (a grid found by search).
 */
function selectGrid(id, { focus = false } = {}) {
  map.select(id);
  if (state.view === "watch") {
    map.zoomTo(id, 2);
    panel.open(id, state.season, { disputeFirst: true });
    $("panel-grid").scrollIntoView({ block: "start", behavior: "smooth" }); // the risk in view; the focus stays
    return;
  }
  if (state.view !== "map") showView("map");
  panel.open(id, state.season, { focus });
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
  lines.push(mapView.hoverLine(id, state.view === "watch" ? "dispute" : state.layer));
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
  // Names and sentences come from the API in the chosen language: the views that show them fetch them again.
  // The map's numbers carry no language: they stay, and are only painted again with the new words.
  if (state.view === "health") health.relabel();
  if (state.view === "monitoring") monitoring.relabel();
  else if (state.view === "report") report.relabel();
  if (!state.mapData) return;
  rotation.reset();
  watch.reset();
  map.label((tw) => townshipName(tw.township_id));
  search.relabel();
  $("grid-count").textContent = t("grids_count", { n: map.size });
  if (state.view === "quality") quality.relabel();
  else if (!["health", "report"].includes(state.view)) showView(state.view);
  if (panel.current) panel.open(panel.current.gridId, state.season, { disputeFirst: panel.current.disputeFirst });
}

/** The tabs follow the ARIA tabs pattern: arrow keys, Home and End move to a tab and show its view. */
function onTabKey(e) {
  const tabs = [...document.querySelectorAll("#tabs [role=tab]:not([hidden])")];
  const at = tabs.indexOf(e.target);
  if (at < 0) return;
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (next === undefined) return;
  e.preventDefault();
  const tab = tabs[(next + tabs.length) % tabs.length];
  tab.focus();
  showView(tab.dataset.view);
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
$("tabs").addEventListener("keydown", onTabKey);
$("layer").addEventListener("change", (e) => {
  state.layer = e.target.value;
  showView("map");
});
$("season").addEventListener("change", (e) => {
  state.season = e.target.value;
  showView(state.view === "rotation" ? "rotation" : "map");
  if (panel.current) panel.open(panel.current.gridId, state.season, { disputeFirst: panel.current.disputeFirst });
});

setLang(sessionStorage.getItem(LANG_NAME) ?? "zh");
relabel();
if (api.getKey()) signIn(api.getKey());
else $("key-input").focus();
