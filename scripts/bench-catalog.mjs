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

/** `n` products grown from `real` (an array): the real ones first, then copies of them as
 * described above (a copy's id is `<real id>-s<copy>`), one at a time. */
export function* grown(real, n) {
  const rnd = random(n);
  for (let i = 0; i < n; i++) {
    const p = real[i % real.length];
    if (i < real.length) {
      yield p;
      continue;
    }
    const copy = Math.floor(i / real.length);
    const colour = COLOURS[Math.floor(rnd() * COLOURS.length)];
    const { i18n: _i18n, ...rest } = p;
    yield {
      ...rest,
      id: `${p.id}-s${copy}`,
      title: `${p.title} ${SERIES[copy % SERIES.length]} ${copy}`,
      price: p.price == null ? p.price : Math.round(p.price * (0.8 + 0.4 * rnd()) * 100) / 100,
      attributes: { ...p.attributes, color: colour },
    };
  }
}

/** The real product a grown one was copied from. */
export const realId = (id) => String(id).replace(/-s\d+$/, "");

/** `n` products grown from the demo shop's, as catalog JSON. */
export function syntheticCatalog(repo, n) {
  const real = JSON.parse(readFileSync(path.join(repo, "demo/catalog.json"), "utf8"));
  return JSON.stringify({ shop: real.shop, products: [...grown(real.products, n)] });
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

// The sharded-index part: a catalog of a million products that no browser should download
// whole, grown the same way from Vendure's sample catalog (a third party's, whose labelled
// requests tests/eval/vendure_eval.json holds), indexed at "build time" by
// scripts/shard-catalog.mjs with pagefind, and served as static files. For each labelled
// request, in Chromium: our path (the worker looks the request's words up in pagefind's index,
// fetches the best candidates' records and ranks them as any catalog) against pagefind's own
// ranking of the request as typed (its top three records), each with the bytes it fetched
// and its time, and hit@3 where a product or a copy of it counts (a copy is the same product in
// another colour or series).

/** The index folder for `n` products grown from `real`, built once and kept in `cacheDir`
 * (keyed by what decides its bytes: the generator, the indexer, the real catalog). */
export async function shardedIndex(cacheDir, real, n) {
  const { createHash } = await import("node:crypto");
  const { existsSync, mkdirSync, rmSync } = await import("node:fs");
  const here = path.dirname(new URL(import.meta.url).pathname);
  const key = createHash("sha256")
    .update(grown.toString())
    .update(readFileSync(path.join(here, "shard-catalog.mjs")))
    .update(JSON.stringify(real))
    .digest("hex")
    .slice(0, 12);
  const dir = path.join(cacheDir, `shards-${n}-${key}`);
  if (existsSync(path.join(dir, "aisle-shop.json"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { shardCatalog } = await import("./shard-catalog.mjs");
  const t0 = Date.now();
  console.error(`[bench] indexing ${n} products with pagefind into ${dir} (once; cached)`);
  await shardCatalog({ shop: { name: "Vendure sample, grown" }, products: grown(real, n) }, dir);
  console.error(`[bench] indexed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return dir;
}

/** Bytes `server` sent since its request `start` that a query costs, for the index under
 * `/shards/`: its word lists and records (pagefind.js, its wasm and its page list are fetched
 * once per visit, not per query). */
export function indexBytesSince(server, start) {
  return server.requests
    .slice(start)
    .filter((r) => /^\/shards\/part-\d+\/(index|fragment)\//.test(r.url))
    .reduce((sum, r) => sum + r.bytes, 0);
}

/** Runs the labelled `requests` against the index at `${server.url}/shards/` both ways. */
export async function shardedBench(server, requests) {
  const { context, close } = await launch({ webgpu: false });
  const bytesSince = (start) => server.requests.slice(start).reduce((sum, r) => sum + r.bytes, 0);
  const out = { ours: [], pagefind: [] };
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/tests/browser/blank.html`);
    await page.evaluate(async () => {
      const { Aisle } = await import("/www/aisle.js");
      window.aisle = Aisle.create({ model: "/unused.gguf", backend: "cpu" });
      await window.aisle.setShop('{"products":[{"id":"w","title":"warm up"}]}', null); // the worker and its wasm started
    });
    let start = server.requests.length;
    let t = Date.now();
    const count = await page.evaluate(() => window.aisle.setShardedShop("/shards/", null));
    out.ours_init = { bytes: bytesSince(start), ms: Date.now() - t, products: count };
    for (const r of requests) {
      start = server.requests.length;
      const res = await page.evaluate(async (text) => {
        const t0 = performance.now();
        const events = await window.aisle.quickSuggest(text, { events: [] });
        return { ms: performance.now() - t0, ids: events.filter((e) => e.type === "product").map((e) => e.id) };
      }, r.text);
      out.ours.push({ ...res, bytes: bytesSince(start), query_bytes: indexBytesSince(server, start) });
    }
    start = server.requests.length;
    t = Date.now();
    await page.evaluate(async () => {
      const { parts } = await (await fetch("/shards/aisle-shop.json")).json();
      window.pf = await import(`/shards/${parts[0]}pagefind.js`);
      await window.pf.options({ basePath: `/shards/${parts[0]}`, excerptLength: 0 });
      await window.pf.init();
      for (const part of parts.slice(1)) await window.pf.mergeIndex(`/shards/${part}`);
    });
    out.pagefind_init = { bytes: bytesSince(start), ms: Date.now() - t };
    for (const r of requests) {
      start = server.requests.length;
      const res = await page.evaluate(async (text) => {
        const t0 = performance.now();
        const found = await window.pf.search(text);
        const top = await Promise.all((found?.results ?? []).slice(0, 3).map((x) => x.data()));
        return { ms: performance.now() - t0, ids: top.map((d) => JSON.parse(d.meta.product).id) };
      }, r.text);
      out.pagefind.push({ ...res, bytes: bytesSince(start), query_bytes: indexBytesSince(server, start) });
    }
  } finally {
    await close();
  }
  return out;
}

/** hit@3 (served requests), honest "nothing" (absent ones), bytes and time of one ranker's rows. */
export function shardedFigures(requests, rows) {
  const served = requests.map((r, i) => [r, rows[i]]).filter(([r]) => !r.absent);
  const absent = requests.map((r, i) => [r, rows[i]]).filter(([r]) => r.absent);
  const hit = served.filter(([r, row]) => row.ids.slice(0, 3).some((id) => r.relevant.includes(realId(id)))).length;
  const bytes = rows.map((r) => r.query_bytes);
  const ms = rows.map((r) => r.ms);
  return {
    hit3: hit / served.length,
    served: served.length,
    honest_absent: absent.filter(([, row]) => row.ids.length === 0).length,
    absent: absent.length,
    bytes: { median: median(bytes), worst: Math.max(...bytes), mean: bytes.reduce((a, b) => a + b, 0) / bytes.length },
    first_query_bytes: rows[0].bytes,
    first_query_ms: rows[0].ms,
    ms: { median: median(ms), worst: Math.max(...ms) },
  };
}

export function printSharded(s) {
  const kb = (b) => (b / 1024).toFixed(0);
  console.log(`\ncatalog, sharded static index (${s.products} products grown from Vendure's sample catalog, ${s.parts} pagefind index${s.parts === 1 ? "" : "es"}; pagefind ${s.pagefind_version}; Chromium, CPU backend, no model; ${s.requests} labelled requests of tests/eval/vendure_eval.json)`);
  console.log(`| ranking | hit@3 | honest "nothing" on absent | index KiB per query (median / mean / worst) | ms to the result (median / worst) | a visit's first query: KiB / ms |\n|---|---|---|---|---|---|`);
  for (const [name, f] of [["ours (pagefind finds, we rank)", s.ours], ["pagefind's own, the request as typed", s.pagefind]]) {
    console.log(
      `| ${name} | ${(100 * f.hit3).toFixed(1)} % of ${f.served} | ${f.honest_absent} of ${f.absent} | ${kb(f.bytes.median)} / ${kb(f.bytes.mean)} / ${kb(f.bytes.worst)} | ${f.ms.median.toFixed(0)} / ${f.ms.worst.toFixed(0)} | ${kb(f.first_query_bytes)} / ${f.first_query_ms.toFixed(0)} |`,
    );
  }
  console.log(`(index KiB: its word lists and records; a visit's first query also fetches pagefind's wasm and its list of pages, once)`);
  console.log(`ratios (ours / pagefind's): hit@3 ${(s.ours.hit3 / s.pagefind.hit3).toFixed(2)}x, index bytes per query ${(s.ours.bytes.mean / s.pagefind.bytes.mean).toFixed(2)}x (mean)`);
}

/** The sharded section, whole: `n` products (1,000,000 unless BENCH_SHARDS says otherwise). */
export async function shardedSection(repo, cacheDir, n = Number(process.env.BENCH_SHARDS || 1_000_000)) {
  const { serve } = await import("./serve.mjs");
  const evalCache = process.env.EVAL_CACHE || path.join(cacheDir, "eval");
  const catalogFile = path.join(evalCache, "vendure-catalog.json");
  let real;
  try {
    real = JSON.parse(readFileSync(catalogFile, "utf8")).products;
  } catch (e) {
    throw new Error(`the sharded bench grows Vendure's catalog from ${catalogFile} (scripts/eval_catalogs.py writes it): ${e.message}`);
  }
  const requests = JSON.parse(readFileSync(path.join(repo, "tests/eval/vendure_eval.json"), "utf8")).requests;
  const dir = await shardedIndex(cacheDir, real, n);
  const server = await serve({ port: 0, extra: { "/shards/": dir } });
  try {
    const rows = await shardedBench(server, requests);
    const { parts } = JSON.parse(readFileSync(path.join(dir, "aisle-shop.json"), "utf8"));
    const version = JSON.parse(readFileSync(path.join(dir, parts[0], "pagefind-entry.json"), "utf8")).version;
    return {
      products: n,
      parts: parts.length,
      requests: requests.length,
      pagefind_version: version,
      ours: shardedFigures(requests, rows.ours),
      pagefind: shardedFigures(requests, rows.pagefind),
      ours_init: rows.ours_init,
      pagefind_init: rows.pagefind_init,
      rows,
    };
  } finally {
    await server.close();
  }
}
