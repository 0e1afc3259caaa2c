// The shopper's profile: on-page events (products viewed, added to cart, searches) and the
// products they saved, kept in this browser only, under our own `aisle:` localStorage keys. It
// is sent nowhere; the model sees the events only as a ranking hint inside the worker.
// `forget()` erases every `aisle:` key.
//
// A shop reports events by dispatching DOM events, or by marking product pages:
//   document.dispatchEvent(new CustomEvent("aisle:view", { detail: { id } }))   // also aisle:cart
//   document.dispatchEvent(new CustomEvent("aisle:search", { detail: { text } }))
//   <main data-aisle-view="kit-001">  (a product page: recorded once on load)

export const STORAGE_KEY = "aisle:profile:v1";
export const SAVED_KEY = "aisle:saved:v1";
const MAX_EVENTS = 200;
const MAX_SAVED = 100;
const validId = (id) => typeof id === "string" && id.length > 0 && id.length <= 128;

function read() {
  try {
    const v = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(v) ? v.filter(valid) : [];
  } catch {
    return [];
  }
}

function valid(e) {
  if (!e || typeof e !== "object") return false;
  if (e.type === "view" || e.type === "cart") return typeof e.id === "string" && e.id.length <= 128;
  if (e.type === "search") return typeof e.text === "string" && e.text.length <= 300;
  return false;
}

function write(events) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(events.slice(-MAX_EVENTS)));
  } catch {
    // storage full or disabled: the profile simply stays short
  }
}

export const profile = {
  events: read,
  record(e) {
    if (!valid(e)) return;
    const events = read();
    const last = events.at(-1);
    if (last && last.type === e.type && last.id === e.id && last.text === e.text) return; // no repeats on reload
    events.push(e.type === "search" ? { type: "search", text: e.text } : { type: e.type, id: e.id });
    write(events);
  },
  /** The saved product ids, the latest last. */
  saved() {
    try {
      const v = JSON.parse(localStorage.getItem(SAVED_KEY) || "[]");
      return Array.isArray(v) ? v.filter(validId).slice(-MAX_SAVED) : [];
    } catch {
      return [];
    }
  },
  /** Saves `id`, or unsaves it when saved; returns whether it is saved now. */
  toggleSaved(id) {
    if (!validId(id)) return false;
    const saved = this.saved();
    const now = !saved.includes(id);
    const next = now ? [...saved, id].slice(-MAX_SAVED) : saved.filter((s) => s !== id);
    try {
      localStorage.setItem(SAVED_KEY, JSON.stringify(next));
    } catch {
      return false; // storage full or disabled: nothing was saved
    }
    return now;
  },
  /** Erases everything Aisle keeps in this browser's storage (every `aisle:` key). */
  forget() {
    try {
      for (const k of Object.keys(localStorage)) if (k.startsWith("aisle:")) localStorage.removeItem(k);
    } catch {
      // nothing stored
    }
  },
};

let listening = false;

/** Starts recording the page's events (once per page). */
export function listen() {
  if (listening) return;
  listening = true;
  document.addEventListener("aisle:view", (ev) => profile.record({ type: "view", id: ev.detail?.id }));
  document.addEventListener("aisle:cart", (ev) => profile.record({ type: "cart", id: ev.detail?.id }));
  document.addEventListener("aisle:search", (ev) => profile.record({ type: "search", text: ev.detail?.text }));
  const mark = () => {
    for (const el of document.querySelectorAll("[data-aisle-view]")) profile.record({ type: "view", id: el.getAttribute("data-aisle-view") });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark, { once: true });
  else mark();
}
