// The device's outbox of monthly reports not yet answered by the service: kept in localStorage so that a
// herder chief out of signal can send now and the page delivers later (on the `online` event and on load).
// Resending is safe: each report carries the id made once on this device (the service answers a known id
// with "duplicate" and changes nothing).
//
// This is the only place the page writes anything that outlives the tab, and it holds grid reports only
// (herd counts, pasture, disputes of a grid area): never a key, never health records. Signing out clears
// the key but not this outbox: the reports belong to the device's chief, who signs in again to send them.

const NAME = "muzhang.outbox";

/** A submission id made once per report: a UUID where the browser has one, else 128 random bits. */
export function newSubmissionId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return `r-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled by the browser: the outbox lives in memory for this tab only
  }
}

let memory = [];

/** Every queued report, oldest first: [{submission_id, body}]. */
export function queued() {
  const store = storage();
  if (!store) return [...memory];
  try {
    const items = JSON.parse(store.getItem(NAME) ?? "[]");
    return Array.isArray(items) ? items.filter((x) => x && typeof x.submission_id === "string" && x.body) : [];
  } catch {
    return [];
  }
}

function save(items) {
  const store = storage();
  if (!store) {
    memory = items;
    return;
  }
  if (items.length) store.setItem(NAME, JSON.stringify(items));
  else store.removeItem(NAME);
}

/** Keep ``body`` (which holds its ``submission_id``) until the service answers it. */
export function enqueue(body) {
  const items = queued().filter((x) => x.submission_id !== body.submission_id);
  items.push({ submission_id: body.submission_id, body });
  save(items);
}

/** The service answered this report (accepted, duplicate or refused): it leaves the outbox. */
export function remove(submissionId) {
  save(queued().filter((x) => x.submission_id !== submissionId));
}

export function count() {
  return queued().length;
}
