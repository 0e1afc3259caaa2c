// The demo shop's service worker: precaches the pages, the assistant (JS, wasm) and the shop's
// data, then serves them network-first so that a reload without a network still works. The
// model weights are not duplicated here: the assistant keeps them in Cache Storage under their
// sha256 and reads them from there.

const VERSION = "aisle-demo-v3";
const ROOT = new URL("../", self.location).href;

async function shellFiles() {
  const files = [
    "", "index.html", "demo/product.html", "demo/policies.html", "demo/cart.html", "demo/shop.js", "demo/shop.css",
    "demo/favicon.svg", "demo/catalog.json", "demo/policies.json", "demo/reviews.html", "demo/reviews.js",
    "demo/reviews.json",
    "www/aisle.js", "www/client.js", "www/widget.js", "www/widget.css", "www/worker.js", "www/weights.js",
    "www/profile.js", "www/backend.js", "www/links.js", "www/share.js", "www/handoff.js", "pkg/aisle.js", "pkg/aisle_bg.wasm",
  ];
  const catalog = await (await fetch(ROOT + "demo/catalog.json")).json();
  for (const p of catalog.products) if (typeof p.image === "string" && p.image.startsWith("demo/")) files.push(p.image);
  return files.map((f) => ROOT + f);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(VERSION);
      await cache.addAll(await shellFiles());
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith("aisle-demo-") && key !== VERSION) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.endsWith(".gguf")) return;
  event.respondWith(
    (async () => {
      try {
        const res = await fetch(event.request);
        if (res.ok) (await caches.open(VERSION)).put(event.request, res.clone());
        return res;
      } catch (e) {
        const cached = await caches.match(event.request, { ignoreSearch: event.request.mode === "navigate" });
        if (cached) return cached;
        throw e;
      }
    })(),
  );
});
