// The /v1 API of the same app, one function per endpoint, with the key the user entered (kept in
// sessionStorage only). The only module that knows URL paths, query parameter names and request bodies.

import { getLang } from "./i18n.js";

const KEY_NAME = "muzhang.key";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

/** Raised in place of an answer that belongs to a session that has ended (log out, or another key). */
export class StaleSession extends Error {
  constructor() {
    super("stale session");
    this.name = "AbortError";
  }
}

/** An error the user need not see: a request aborted or answered after its session ended. */
export const isStale = (err) => err?.name === "AbortError";

// One session per key entered: its requests carry its key and its AbortController's signal, and an answer
// that arrives after the session ended is dropped (a stale 403 or 401 can never mark the next session).
let session = { key: sessionStorage.getItem(KEY_NAME), controller: new AbortController() };
let onUnauthorized = () => {};

export function getKey() {
  return session.key;
}

/** Start a new session with ``key``: every request of the previous one is aborted. */
export function setKey(key) {
  session.controller.abort();
  session = { key, controller: new AbortController() };
  sessionStorage.setItem(KEY_NAME, key);
}

/** End the session: its requests are aborted, the key forgotten. */
export function clearKey() {
  session.controller.abort();
  session = { key: null, controller: new AbortController() };
  sessionStorage.removeItem(KEY_NAME);
}

/** ``handler(err)`` runs when the current session's key is refused (401): a key revoked mid-session. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

// --- endpoints ------------------------------------------------------------------------------------
// Sentences and names come in the page's language (``lang``) unless the endpoint has none.

/** The served models (any valid key but a reporter's): ``data_as_of``, ``data_source``, and each model's
 *  ``added_fields`` (the health form's inputs for measurements the disease model added). */
export const models = () => request("/v1/models");

/** What this key may use: role, families, reports, data quality, data as of, band cut-offs (any key but a reporter's). */
export const access = () => request("/v1/county/access", { query: { lang: null } });

/** Models in the world (data scientists): live metrics beside test, drift, champion history, retraining. */
export const monitoring = () => request("/v1/monitoring", { query: { lang: null } });

/** Every grid's pressure, status, advice for ``season`` and dispute risk next month: numbers only, no reasons. */
export const countySummary = (season) => request("/v1/county/summary", { query: { season, lang: null } });

/** Grid polygons, townships and bounds of the county (no language: both names are in it). */
export const countyMap = () => request("/v1/county/map", { query: { lang: null } });

/** One grid area's assessment for a season, with its explanation. */
export const grazingAssessment = (gridId, season) =>
  request(`/v1/grazing/assessment/${encodeURIComponent(gridId)}`, { query: { season } });

/** The same assessment with changes: ``addHead`` {species: head}, ``rest`` and ``drought`` booleans. */
export const grazingWhatIf = (gridId, season, { addHead, rest, drought }) =>
  request("/v1/grazing/what-if", { method: "POST", body: { grid_id: gridId, season, add_head: addHead, rest, drought } });

/** The county rotation plan for a season. */
export const rotationPlan = (season) => request("/v1/grazing/rotation-plan", { query: { season } });

/** One grid area's dispute risk next month, with its explanation. */
export const disputeRisk = (gridId) => request(`/v1/dispute/risk/${encodeURIComponent(gridId)}`);

/** The ``top`` grids by dispute risk (of one township when ``townshipId`` is given). */
export const watchlist = (top, townshipId = null) =>
  request("/v1/dispute/watchlist", { query: { top, township_id: townshipId } });

/** Head sold and price forecasts of one township and species. */
export const marketForecast = (townshipId, species) =>
  request("/v1/market/forecast", { query: { township_id: townshipId, species } });

/** The last ``months`` of recorded head sold and price (numbers only: no language). */
export const marketHistory = (townshipId, species, months) =>
  request("/v1/market/history", { query: { township_id: townshipId, species, months, lang: null } });

/** Disease risks of health-check records (health keys only; ``[]`` answers 422 and checks the role). */
export const diseaseScore = (records) => request("/v1/disease/score", { method: "POST", body: { records } });

/** Disease risks of the records of a CSV file (a File or Blob, sent as ``filename``). */
export function diseaseScoreCsv(file, filename) {
  const form = new FormData();
  form.append("file", file, filename);
  return request("/v1/disease/score-csv", { method: "POST", form });
}

/** What a monthly grid report holds (items, units, bounds), the grids this key may report for, the latest month. */
export const reportForm = () => request("/v1/reports/form");

/** One grid-month report ``{submission_id, grid_id, month, <item>: value}``: outcome, refusals and flags. */
export const sendReport = (body) => request("/v1/reports", { method: "POST", body });

/** A township's file of reports (CSV or XLSX, a File sent as ``filename``): counts, rows, refused rows, flags. */
export function uploadReports(file, filename) {
  const form = new FormData();
  form.append("file", file, filename);
  return request("/v1/reports/upload", { method: "POST", form });
}

/** Follow up a flagged value: ``status`` "confirmed" or "corrected", with a ``reason``; resolves to the flag. */
export const resolveFlag = (id, status, reason) =>
  request(`/v1/flags/${encodeURIComponent(id)}`, { method: "POST", body: { status, reason } });

/** A month's reporting and on-time rates, missing and late grids, flagged values (``month`` YYYY-MM or null). */
export const dataQuality = (month = null) => request("/v1/data-quality", { query: { month } });

/** Close a month (YYYY-MM): every answer moves to it; resolves to its new ``as_of``. */
export const closeMonth = (month) => request(`/v1/months/${encodeURIComponent(month)}/close`, { method: "POST" });

// --- transport ------------------------------------------------------------------------------------

/**
 * One API call of the current session. ``body`` is sent as JSON, ``form`` (FormData) as multipart; ``lang`` is
 * added unless ``query.lang`` is null. Resolves to the JSON answer; rejects with an ApiError (status 0: no
 * answer), or a StaleSession when the session ended before the answer came (drop it: ``isStale``).
 */
async function request(path, { method = "GET", query = {}, body, form } = {}) {
  const own = session;
  if (own.controller.signal.aborted) throw new StaleSession();
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ lang: getLang(), ...query })) {
    if (v !== null && v !== undefined) params.set(k, v);
  }
  const headers = { Authorization: `Bearer ${own.key ?? ""}` };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (form !== undefined) {
    payload = form;
  }
  let response;
  try {
    response = await fetch(`${path}?${params}`, { method, headers, body: payload, signal: own.controller.signal, cache: "no-store" });
  } catch (err) {
    if (own !== session || err.name === "AbortError") throw new StaleSession();
    throw new ApiError(0, err.message);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (own !== session) throw new StaleSession(); // the user signed out or in with another key meanwhile
  if (response.status === 401 && own.key) onUnauthorized(new ApiError(401, data?.detail ?? response.statusText));
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText);
  return data;
}
