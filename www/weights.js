// The weights cache: Cache Storage, keyed by the file's sha256, so a shop's visitors download
// the model once. Entries are verified on every read (the wasm loader hashes what it parses);
// a damaged entry is dropped and fetched again. Without quota, loading goes on from memory.

const CACHE = "aisle-weights-v1";
const keyFor = (sha256) => new Request(`https://aisle.invalid/weights/${sha256.toLowerCase()}`);

/** The cached body and size for `sha256`, or null. */
export async function openCached(sha256) {
  if (!self.caches) return null;
  try {
    const cache = await caches.open(CACHE);
    const res = await cache.match(keyFor(sha256));
    if (!res || !res.body) return null;
    return { body: res.body, size: Number(res.headers.get("content-length")) || 0 };
  } catch {
    return null; // storage disabled (private mode...): behave as a miss
  }
}

/** Stores a response under `sha256`; resolves `{ok}` or `{ok: false, reason}`, never rejects. */
export async function storeInCache(sha256, response) {
  if (!self.caches) return { ok: false, reason: "This browser has no Cache Storage: the model will be downloaded again next time." };
  try {
    const cache = await caches.open(CACHE);
    const headers = new Headers({ "content-type": "application/octet-stream" });
    const len = response.headers.get("content-length");
    if (len) headers.set("content-length", len);
    await cache.put(keyFor(sha256), new Response(response.body, { headers }));
    return { ok: true };
  } catch (e) {
    const quota = e && (e.name === "QuotaExceededError" || /quota/i.test(e.message));
    return {
      ok: false,
      reason: quota
        ? "Not enough storage to keep the model: it runs from memory and will be downloaded again next time."
        : `The model could not be cached (${e && e.message}): it will be downloaded again next time.`,
    };
  }
}

export async function dropCached(sha256) {
  try {
    const cache = await caches.open(CACHE);
    await cache.delete(keyFor(sha256));
  } catch {
    // nothing to drop
  }
}
