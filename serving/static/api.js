// Calls to the /v1 API of the same app, with the key the user entered (kept in sessionStorage only).

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

/**
 * One API call. ``body`` is sent as JSON, ``form`` (FormData) as multipart; ``lang`` is added unless
 * ``query.lang`` is null. Resolves to the JSON answer; rejects with an ApiError (status 0: no answer).
 */
export async function api(path, { method = "GET", query = {}, body, form, signal } = {}) {
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
 * answers arrive (``onPart``) while the rest is computed. A 413 names the service's cap: the slice is
 * split to fit it and sent again.
 */
export async function batched(path, items, makeBody, pick, onPart, { chunk = items.length, parallel = 1 } = {}) {
  const size = Math.max(1, chunk);
  const queue = [];
  for (let i = 0; i < items.length; i += size) queue.push(items.slice(i, i + size));
  const out = [];
  const send = async (slice) => {
    try {
      const part = pick(await api(path, { method: "POST", body: makeBody(slice) }));
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
