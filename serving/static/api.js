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

export function getKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY_NAME);
}

// --- endpoints ------------------------------------------------------------------------------------
// Sentences and names come in the page's language (``lang``) unless the endpoint has none.

/** The served models (any valid key but a reporter's): used to check the key; ``data_as_of``, ``data_source``. */
export const models = () => request("/v1/models");

/** Grid polygons, townships and bounds of the county (no language: both names are in it). */
export const countyMap = () => request("/v1/county/map", { query: { lang: null } });

/** One grid area's assessment for a season, with its explanation. */
export const grazingAssessment = (gridId, season) =>
  request(`/v1/grazing/assessment/${encodeURIComponent(gridId)}`, { query: { season } });

/** The same assessment with changes: ``addHead`` {species: head}, ``rest`` and ``drought`` booleans. */
export const grazingWhatIf = (gridId, season, { addHead, rest, drought }) =>
  request("/v1/grazing/what-if", { method: "POST", body: { grid_id: gridId, season, add_head: addHead, rest, drought } });

/** Assessments of every grid in ``gridIds`` for one season, in slices (see ``batched``). */
export const grazingBatch = (gridIds, season, onPart, slices) =>
  batched(
    "/v1/grazing/batch",
    gridIds.map((id) => ({ grid_id: id, season })),
    (slice) => ({ items: slice }),
    onPart,
    slices,
  );

/** The county rotation plan for a season. */
export const rotationPlan = (season) => request("/v1/grazing/rotation-plan", { query: { season } });

/** One grid area's dispute risk next month, with its explanation. */
export const disputeRisk = (gridId) => request(`/v1/dispute/risk/${encodeURIComponent(gridId)}`);

/** Dispute risk of every grid in ``gridIds``, in slices (see ``batched``). */
export const disputeBatch = (gridIds, onPart, slices) =>
  batched("/v1/dispute/batch", gridIds, (slice) => ({ grid_ids: slice }), onPart, slices);

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
 * One API call. ``body`` is sent as JSON, ``form`` (FormData) as multipart; ``lang`` is added unless
 * ``query.lang`` is null. Resolves to the JSON answer; rejects with an ApiError (status 0: no answer).
 */
async function request(path, { method = "GET", query = {}, body, form, signal } = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ lang: getLang(), ...query })) {
    if (v !== null && v !== undefined) params.set(k, v);
  }
  const headers = { Authorization: `Bearer ${getKey() ?? ""}` };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (form !== undefined) {
    payload = form;
  }
  let response;
  try {
    response = await fetch(`${path}?${params}`, { method, headers, body: payload, signal, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, err.message);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText);
  return data;
}

/**
 * A batch route called for every item, in slices of ``chunk`` with ``parallel`` requests in flight, so
 * answers arrive (``onPart(items)``) while the rest is computed. Resolves to every answer's ``items``.
 * A 413 names the service's cap: the slice is split to fit it and sent again.
 */
async function batched(path, items, makeBody, onPart, { chunk = items.length, parallel = 1 } = {}) {
  const size = Math.max(1, chunk);
  const queue = [];
  for (let i = 0; i < items.length; i += size) queue.push(items.slice(i, i + size));
  const out = [];
  const send = async (slice) => {
    try {
      const part = (await request(path, { method: "POST", body: makeBody(slice) })).items;
      out.push(...part);
      if (onPart) onPart(part);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 413 || slice.length === 1) throw err;
      const cap = /at most (\d+)/.exec(String(err.message));
      const n = cap ? Math.max(1, Math.min(Number(cap[1]), slice.length - 1)) : Math.ceil(slice.length / 2);
      for (let i = 0; i < slice.length; i += n) await send(slice.slice(i, i + n));
    }
  };
  const worker = async () => {
    while (queue.length) await send(queue.shift());
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return out;
}
