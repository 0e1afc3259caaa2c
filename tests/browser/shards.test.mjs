// A catalog served as a sharded static index (scripts/shard-catalog.mjs: pagefind's index),
// in Chromium: 100,000 products grown from the demo shop's, indexed as a shop's build would,
// served by a static server under the strict CSP. Each request fetches a bounded part of the
// index and answers as the same catalog loaded whole into memory does; the widget embedded with
// data-catalog-index shows cards from the records it fetched.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { serve } from "../../scripts/serve.mjs";
import { shardCatalog } from "../../scripts/shard-catalog.mjs";
import { grown, indexBytesSince, realId } from "../../scripts/bench-catalog.mjs";
import { launch } from "./chromium.mjs";
import { REPO } from "./util.mjs";

const PRODUCTS = 100_000;
/** Bytes one request may fetch from the index: its word lists and the records it ranks. */
const BYTES_PER_QUERY = 256 * 1024;
const REQUESTS = ["a cozy blanket", "headphones for the gym", "eine warme Jacke", "适合露营的帐篷", "a rain jacket under $150", "a ceramic teapot"];

const DIR = mkdtempSync(path.join(tmpdir(), "aisle-shards-"));
const BIG = path.join(DIR, "big");
const SMALL = path.join(DIR, "small");
let server;
let browser;

before(async () => {
  const demo = JSON.parse(readFileSync(path.join(REPO, "demo/catalog.json"), "utf8"));
  const products = [...grown(demo.products, PRODUCTS)];
  // Two parts (two pagefind indexes), as a catalog past PART_SIZE is written, searched as one.
  await shardCatalog({ shop: demo.shop, products }, BIG, { partSize: PRODUCTS / 2 });
  writeFileSync(path.join(BIG, "catalog.json"), JSON.stringify({ shop: demo.shop, products }));
  await shardCatalog(demo, SMALL);
  server = await serve({ port: 0, csp: true, extra: { "/shards/": BIG, "/shards-demo/": SMALL } });
  browser = await launch({ webgpu: false });
}, { timeout: 900_000 });

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(DIR, { recursive: true, force: true });
});


test(`${PRODUCTS} products from a sharded index: each request fetches under ${BYTES_PER_QUERY / 1024} KiB and answers as the whole catalog in memory does`, { timeout: 600_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  await page.evaluate(async () => {
    const { Aisle } = await import("/www/aisle.js");
    window.whole = Aisle.create({ model: "/unused.gguf", backend: "cpu" });
    await window.whole.setShop(await (await fetch("/shards/catalog.json")).text(), null);
    window.sharded = Aisle.create({ model: "/unused.gguf", backend: "cpu" });
    window.count = await window.sharded.setShardedShop("/shards/", null);
  });
  assert.equal(await page.evaluate(() => window.count), PRODUCTS, "the product count comes from the index");
  assert.ok(server.requests.some((q) => q.url.startsWith("/shards/part-1/")), "the second part's index was merged");
  const ids = (events) => events.filter((e) => e.type === "product").map((e) => e.id);
  for (const request of REQUESTS) {
    const start = server.requests.length;
    const sharded = await page.evaluate(async (r) => window.sharded.quickSuggest(r, { events: [] }), request);
    const bytes = indexBytesSince(server, start);
    const whole = await page.evaluate(async (r) => window.whole.quickSuggest(r, { events: [] }), request);
    assert.ok(bytes < BYTES_PER_QUERY, `${request}: ${bytes} bytes fetched`);
    assert.ok(ids(whole).length > 0, `${request}: the whole catalog answers: ${JSON.stringify(whole)}`);
    // Grown products are copies (another colour, series and price) of the real ones: the same
    // real products must be named. Their order may differ where the two rankings' word
    // statistics do (the sharded one weighs words over the candidates it fetched, the whole
    // one over every product).
    const real = (events) => ids(events).map(realId).sort();
    assert.deepEqual(real(sharded), real(whole), `${request}: sharded ${ids(sharded)} vs whole ${ids(whole)}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test("the widget embedded with data-catalog-index answers with cards from the records it fetched, under the strict CSP", { timeout: 300_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${server.url}/tests/browser/pages/shards.html`);
  await page.waitForFunction(() => document.querySelector("aisle-assistant"));
  const r = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const r = await el.ask("a waffle-knit throw", { quick: true });
    return { ...r, cards: [...el.shadowRoot.querySelectorAll(".card")].map((c) => c.textContent) };
  });
  assert.equal(r.products[0], "hom-001", JSON.stringify(r));
  assert.ok(r.cards.some((c) => c.includes("Waffle-Knit Cotton Throw") && c.includes("$59.00")), `a card from the fetched record: ${r.cards}`);
  assert.ok(server.requests.some((q) => q.url.startsWith("/shards-demo/part-0/fragment/")), "records were fetched from the index");
  assert.deepEqual(errors, []);
  await page.close();
});
