// The demo's service worker precaches what its pages load, found from the module graph rather
// than trusted to a hand-written list: every static import, worker, stylesheet and wasm that the
// pages' scripts reach (from `import … from`, `new URL("…", import.meta.url)`) must be in
// demo/sw.js's list, or an offline reload fails once the HTTP cache no longer holds the file.
// Dynamic imports are left out: the only one loads the product-feed reader, which the demo
// (whose catalog is our JSON) never needs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { REPO } from "./util.mjs";

/** Files the pages load as modules, and the static module graph from them. */
function reached(entries) {
  const seen = new Set();
  const todo = [...entries];
  while (todo.length) {
    const file = todo.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith(".js")) continue;
    const text = readFileSync(path.join(REPO, file), "utf8").replace(/^\s*\/\/.*$/gm, "");
    const refs = [
      ...[...text.matchAll(/^\s*import\s[^;]*?from\s*["']([^"']+)["']/gms)].map((m) => m[1]),
      ...[...text.matchAll(/new URL\(\s*["']([^"'`]+)["']\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[1]),
    ];
    for (const ref of refs) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref));
      if (target.endsWith("/") || !existsSync(path.join(REPO, target))) continue; // a base URL, not a file
      todo.push(target);
    }
  }
  return seen;
}

test("the demo's service worker precaches every file its pages' scripts load", () => {
  const sw = readFileSync(path.join(REPO, "demo/sw.js"), "utf8");
  const list = sw.slice(sw.indexOf("const files = ["), sw.indexOf("];", sw.indexOf("const files = [")));
  const precached = new Set([...list.matchAll(/"([^"]*)"/g)].map((m) => m[1]));
  const pages = ["index.html", ...readdirSync(path.join(REPO, "demo")).filter((f) => f.endsWith(".html")).map((f) => `demo/${f}`)];
  assert.deepEqual(pages.filter((p) => !precached.has(p)), [], "pages demo/sw.js does not precache");
  const entries = pages.flatMap((p) => [...readFileSync(path.join(REPO, p), "utf8").matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(p), m[1]))));
  assert.ok(entries.includes("www/aisle.js"), `the pages embed the assistant: ${entries}`);
  const missing = [...reached(entries)].filter((f) => !precached.has(f));
  assert.deepEqual(missing, [], "files the pages load but demo/sw.js does not precache");
});
