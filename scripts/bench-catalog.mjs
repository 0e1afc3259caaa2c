// `make bench`, catalog section: large catalogs in memory, in Chromium (CPU backend, no model).
//
// Synthetic catalogs of 10,000 and 100,000 products grown from the demo shop's real ones: each
// copy keeps a product's words, category and attributes, with its own id, a series word in the
// title, another colour and a price within ±20 % (a fixed seed, so every run reads the same
// bytes). For each: the bytes a shop's server sends (raw and brotli), the time from the
// catalog's text arriving to the shop being ready (parse and index in the worker's wasm), wasm
// memory after it, and the time to the first quick answer (retrieval only, as a first visit
// answers before the model has arrived) for requests in en, de and zh.

import { readFileSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants } from "node:zlib";

import { launch } from "../tests/browser/chromium.mjs";

const SERIES = ["Classic", "Pro", "Lite", "Max", "Trail", "City", "Studio", "Nordic", "Compact", "Select"];
const COLOURS = ["black", "white", "navy", "red", "green", "grey", "blue", "sand", "olive", "orange"];
export const CATALOG_REQUESTS = ["a cozy blanket", "headphones for the gym", "eine warme Jacke", "适合露营的帐篷", "a gift for a 10 year old under $50"];

/** A deterministic generator (mulberry32), so the synthetic catalog is the same each run. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` products: the real ones first, then copies of them as described above. */
export function syntheticCatalog(repo, n) {
  const real = JSON.parse(readFileSync(path.join(repo, "demo/catalog.json"), "utf8"));
  const rnd = random(n);
  const products = real.products.slice(0, n);
  for (let i = products.length; i < n; i++) {
    const p = real.products[i % real.products.length];
    const copy = Math.floor(i / real.products.length);
    const colour = COLOURS[Math.floor(rnd() * COLOURS.length)];
    const { i18n: _i18n, ...rest } = p;
    products.push({
      ...rest,
      id: `${p.id}-s${copy}`,
      title: `${p.title} ${SERIES[copy % SERIES.length]} ${copy}`,
      price: p.price == null ? p.price : Math.round(p.price * (0.8 + 0.4 * rnd()) * 100) / 100,
      attributes: { ...p.attributes, color: colour },
    });
  }
  return JSON.stringify({ shop: real.shop, products });
}

/** The catalog section's rows, one per size. */
export async function catalogBench(server, repo, sizes = [10_000, 100_000]) {
  const { context, close } = await launch({ webgpu: false });
  const rows = [];
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/tests/browser/blank.html`);
    for (const n of sizes) {
      const text = syntheticCatalog(repo, n);
      const brotli = brotliCompressSync(text, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }).length;
      const url = `${server.url}/bench-catalog-${n}.json`;
      await page.route(url, (route) => route.fulfill({ body: text, contentType: "application/json" }));
      console.error(`[bench] catalog of ${n} products in chromium`);
      const r = await page.evaluate(
        async ({ url, requests }) => {
          const { Aisle } = await import("/www/aisle.js");
          const a = Aisle.create({ model: "/unused.gguf", backend: "cpu" });
          // The worker and its wasm started, as on a page that embeds us.
          await a.setShop(JSON.stringify({ products: [{ id: "w", title: "warm up" }] }), null);
          const t0 = performance.now();
          const text = await (await fetch(url)).text();
          const t1 = performance.now();
          const count = await a.setShop(text, null);
          const t2 = performance.now();
          const answers = [];
          for (const request of requests) {
            const s = performance.now();
            const events = await a.quickSuggest(request, { events: [] });
            answers.push({ request, ms: performance.now() - s, products: events.filter((e) => e.type === "product").map((e) => e.id) });
          }
          const memory = await a.memory();
          a.dispose();
          return { count, fetch_ms: t1 - t0, shop_ready_ms: t2 - t1, answers, wasm_bytes: memory.wasmBytes };
        },
        { url, requests: CATALOG_REQUESTS },
      );
      await page.unroute(url);
      const firstAnswer = r.answers.map((x) => r.shop_ready_ms + x.ms);
      rows.push({ products: r.count, bytes: text.length, bytes_brotli: brotli, ...r, first_answer_after_arrival_ms: { median: median(firstAnswer), worst: Math.max(...firstAnswer) } });
    }
  } finally {
    await close();
  }
  return rows;
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export function printCatalog(rows) {
  console.log(`\ncatalog (synthetic, grown from the demo shop's products; Chromium, CPU backend, no model; target: first answer <= 1000 ms after the catalog arrives)`);
  console.log(`| products | bytes | brotli | parse + index ms | wasm memory MiB | quick answer ms (median / worst) | first answer after arrival ms (median / worst) |\n|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const q = r.answers.map((a) => a.ms);
    console.log(
      `| ${r.products} | ${r.bytes} | ${r.bytes_brotli} | ${r.shop_ready_ms.toFixed(0)} | ${(r.wasm_bytes / 1048576).toFixed(0)} | ${median(q).toFixed(0)} / ${Math.max(...q).toFixed(0)} | ${r.first_answer_after_arrival_ms.median.toFixed(0)} / ${r.first_answer_after_arrival_ms.worst.toFixed(0)} |`,
    );
  }
}
