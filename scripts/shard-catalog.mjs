#!/usr/bin/env node
// A catalog too large for one JSON file, as a static sharded index that the browser fetches on
// demand: pagefind's (npm `pagefind`, which ships its indexing binary). Run at the shop's build:
//
//   node scripts/shard-catalog.mjs catalog.json -o public/aisle-index/
//
// and embed with data-catalog-index="/aisle-index/" instead of data-catalog. Each product is one
// pagefind record: its title as the heading (pagefind ranks heading words above body words),
// categories, brand and attribute values, description and translations as its text, and the
// product itself (our catalog JSON) as the record's `product` metadata, so the browser gets
// what it shows from the record it fetched and nothing else. A catalog of more than
// --part-size products becomes several pagefind indexes (part-0/, part-1/, …), which the
// browser searches as one. `aisle-shop.json` holds the shop's name and currency, the product
// count and the parts.
//
// The catalog is read with the same rules as everywhere (`aisle catalog check` first is wise:
// this script skips products without an id or title and says so, and checks nothing else).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const usage = "usage: node scripts/shard-catalog.mjs CATALOG.json -o OUT_DIR [--lang en] [--part-size 200000]";

/** The options of argv: {catalog, out, lang}. */
function args(argv) {
  const opts = { lang: "en", partSize: PART_SIZE };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-o" || a === "--out") opts.out = argv[++i];
    else if (a === "--lang") opts.lang = argv[++i];
    else if (a === "--part-size") opts.partSize = Number(argv[++i]);
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}\n${usage}`);
    else if (!opts.catalog) opts.catalog = a;
    else throw new Error(`one catalog only\n${usage}`);
  }
  if (!opts.catalog || !opts.out) throw new Error(usage);
  if (!/^[a-z]{2}$/.test(opts.lang ?? "")) throw new Error(`--lang takes a two-letter code\n${usage}`);
  if (!Number.isInteger(opts.partSize) || opts.partSize < 1) throw new Error(`--part-size takes a whole number of products\n${usage}`);
  return opts;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Attribute values as text ("black", "13 inch 15 inch"). */
const values = (attributes) =>
  Object.values(attributes ?? {})
    .flat()
    .filter((v) => typeof v === "string" || typeof v === "number")
    .join(" ");

/**
 * One product as the page pagefind indexes: the title in <h1>, the rest in paragraphs, the
 * product JSON as metadata (pagefind stores it in the record's fragment, escaped as HTML
 * attribute text and read back unescaped).
 */
export function productPage(p, lang) {
  const translations = Object.values(p.i18n ?? {}).flatMap((l) => [l?.title, l?.description]).filter(Boolean);
  const body = [(p.categories ?? []).join(" "), values(p.attributes), p.description, ...translations]
    .filter((t) => t && String(t).trim())
    .map((t) => `<p>${escape(t)}</p>`)
    .join("");
  return (
    `<html lang="${lang}"><body><main data-pagefind-body>` +
    `<h1 data-pagefind-meta="title">${escape(p.title)}</h1>${body}` +
    `<span data-pagefind-ignore data-pagefind-meta="product[data-product]" data-product="${escape(JSON.stringify(p))}"></span>` +
    `</main></body></html>`
  );
}

/** Products per pagefind index. pagefind's indexer holds a whole index in memory until it
 * writes it: one index of a million products (about 1 KB of text and JSON each) outgrew a
 * 24 GiB machine. Each part is its own index; the browser merges them (pagefind's mergeIndex). */
export const PART_SIZE = 200_000;

/** Indexes `catalog` (parsed catalog JSON; its `products` may be any iterable) into `out`, as
 * one pagefind index per `partSize` products (`out/part-0/`, `out/part-1/`, …) and
 * `out/aisle-shop.json` naming them; resolves to {products, skipped, parts}. */
export async function shardCatalog(catalog, out, { lang = "en", partSize = PART_SIZE, pagefind } = {}) {
  pagefind ??= await import("pagefind");
  const list = catalog?.products;
  if (!list || typeof list[Symbol.iterator] !== "function" || typeof list === "string") {
    throw new Error('the catalog has no "products" array');
  }
  const skipped = [];
  const parts = [];
  let products = 0;
  let index = null;
  let inPart = 0;
  let batch = [];
  const add = async (ix, p, i) => {
    const r = await ix.addHTMLFile({ url: `/${encodeURIComponent(String(p.id))}`, content: productPage(p, lang) });
    if (r.errors?.length) skipped.push(`product ${i + 1} (${p.id}): ${r.errors.join("; ")}`);
    else products++;
  };
  const finishPart = async () => {
    await Promise.all(batch);
    batch = [];
    const dir = `part-${parts.length}`;
    const written = await index.writeFiles({ outputPath: path.join(out, dir) });
    if (written.errors?.length) throw new Error(`pagefind could not write ${out}/${dir}: ${written.errors.join("; ")}`);
    await index.deleteIndex(); // the service frees the part before the next one
    parts.push(`${dir}/`);
    index = null;
    inPart = 0;
  };
  let i = 0;
  for (const p of list) {
    const n = i++;
    if (!p || (typeof p.id !== "string" && typeof p.id !== "number") || typeof p.title !== "string" || !p.title) {
      skipped.push(`product ${n + 1}: no id or title`);
      continue;
    }
    if (!index) {
      const created = await pagefind.createIndex({ forceLanguage: lang });
      if (!created.index) throw new Error(`pagefind did not start: ${created.errors.join("; ")}`);
      index = created.index;
    }
    // Many records in flight at once: pagefind's service parses them in parallel.
    batch.push(add(index, p, n));
    if (batch.length === 64) {
      await Promise.all(batch);
      batch = [];
    }
    if (++inPart === partSize) await finishPart();
  }
  if (index) await finishPart();
  writeFileSync(path.join(out, "aisle-shop.json"), JSON.stringify({ shop: catalog.shop ?? {}, products, lang, parts }));
  await pagefind.close();
  return { products, skipped, parts };
}

async function main() {
  const opts = args(process.argv.slice(2));
  const catalog = JSON.parse(readFileSync(opts.catalog, "utf8"));
  mkdirSync(opts.out, { recursive: true });
  const t0 = Date.now();
  const { products, skipped, parts } = await shardCatalog(catalog, opts.out, opts);
  for (const s of skipped) console.error(`skipped ${s}`);
  console.error(`${products} products indexed into ${opts.out} (${parts.length} part${parts.length === 1 ? "" : "s"}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
