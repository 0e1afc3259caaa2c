// The inference worker: owns the wasm instance and the GPU device, so the page never janks.
//
// Messages in:  {type:"load", model, sha256, backend, maxContext}
//               {type:"chat", id, messages, options}   {type:"abort", id}
//               {type:"suggest", id, request, options}  {type:"answer", id, question, options}
//               {type:"shop", id, catalog, policies}  {type:"route"|"explain", id, ...}
//               {type:"shop", id, index, policies}  (a sharded catalog: the URL of its folder)
//               {type:"quick-suggest", id, request, options}  {type:"quick-answer", id, question, options}
//                 (shop, route, explain and the quick answers need only the wasm and the
//                 catalog: they work while the model is still downloading)
//               {type:"converse", id, text}  (the session's conversation reads a message: its step)
//               {type:"quick-suggest-turn"|"suggest-turn", id, options}  (run that step's search)
//               {type:"converse-shown", id, products}  {type:"converse-answered"|"converse-reset", id}
//               {type:"reviews"|"summary", id, text}
//               {type:"encoder", id, url, sha256}  (the sentence encoder: retrieval by meaning)
//               {type:"tokenize", id, text, special}  {type:"memory", id}
// Messages out: {type:"started"}  (every module imported: the worker runs)
//               {type:"progress", phase, loaded, total}  {type:"note", text}
//               {type:"lost", message}  (the GPU device was lost: the client restarts us on the CPU)
//               {type:"ready", backend, adapter, weightBytes, loadMs, cached, probe}
//                 (probe: {cpuMs, webgpuMs, ms, remembered} when "auto" judged a software adapter)
//               {type:"piece", id, text | event}  {type:"done", id, stats, aborted}
//               {type:"result", id, value}  {type:"error", id?, message, name, code}
//               {type:"products", products}  (a sharded catalog grew by these, for the cards)

import init, { Conversation, ModelLoader, Shop, probeBackends } from "../pkg/aisle.js";
import { openCached, storeInCache, dropCached } from "./weights.js";
import { resolveBackend } from "./backend.js";

let assistant = null;
let shop = null; // the wasm Shop: catalog, policies and their index (the model not needed)
let conversation = null; // the session's conversation over that shop (created on first use)
let encoder = null; // the sentence encoder's {url, sha256}: a new catalog is embedded with it too
let wasm = null; // the instance's exports (its memory, for the soak test's figures)
let instantiating = null;
/** The wasm instance, instantiated once, by whichever message needs it first. */
const initWasm = () =>
  (instantiating ??= init().then(
    (exports) => (wasm = exports),
    (e) => {
      instantiating = null; // the next message tries again
      throw new Error(`cannot load the assistant's wasm: ${e.message}`);
    },
  ));
// Fetched and compiled at once, while the page fetches the catalog: the quick answers need
// both, the model neither. A failure surfaces in the first message that needs the instance.
initWasm().catch(() => {});
const aborted = new Set();

const post = (msg) => self.postMessage(msg);

// Every GPU device wgpu opens, watched for loss (a driver reset, another tab taking the GPU):
// the wasm side cannot recover a lost device, so we tell the client, which starts a fresh
// worker on the CPU.
let devicesOpened = 0;
/** The backend being loaded or run; a device lost under the CPU backend (the one "auto"'s
 * probe opened) concerns no one. */
let activeBackend = null;
let markLost;
const deviceLost = new Promise((r) => (markLost = r));
if (self.GPUAdapter && self.GPUDevice) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    devicesOpened++;
    device.lost.then((info) => {
      if (activeBackend === "cpu") return;
      markLost();
      post({ type: "lost", message: info.message || info.reason || "device lost" });
    });
    return device;
  };
}

/** Whether a lost GPU device could be behind error `e`: a device is running the model, and the
 * error's code is not one that names another cause (a damaged file, a file we cannot read). */
function mayBeDeviceLoss(e) {
  return devicesOpened > 0 && activeBackend === "webgpu" && e?.code !== "integrity" && e?.code !== "model-format";
}

// Yields to the worker's event loop so that an "abort" message can arrive between tokens even
// when a token's work finished synchronously (the CPU backend).
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

// SubtleCrypto (secure contexts: https, localhost) hashes the finished file far faster than
// sha2 in wasm; elsewhere the loader hashes each chunk itself.
const subtle = self.isSecureContext ? self.crypto?.subtle : undefined;

/** Verifies (sha256, hashed by the browser when it can) and loads what `loader` holds. */
async function finish(loader, options) {
  let digest;
  if (subtle) {
    const d = new Uint8Array(await subtle.digest("SHA-256", loader.view())); // copies the view at once
    digest = hex(d);
  }
  return loader.finish({ ...options, digest });
}

/** Streams `body` (a ReadableStream) into a new ModelLoader, reporting progress. */
async function readInto(body, total, phase, onProgress) {
  const loader = new ModelLoader(total || undefined, !subtle);
  const reader = body.getReader();
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loader.push(value);
    loaded += value.length;
    const now = performance.now();
    if (now - lastReport > 50) {
      lastReport = now;
      onProgress({ phase, loaded, total });
    }
  }
  onProgress({ phase, loaded, total: total || loaded });
  return loader;
}

async function download(url, sha256, onProgress) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`cannot download the model from ${url}: ${e.message}`);
  }
  if (!res.ok || !res.body) throw new Error(`cannot download the model from ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length")) || 0;
  const stored = sha256 ? storeInCache(sha256, res.clone()) : Promise.resolve({ ok: false });
  const loader = await readInto(res.body, total, "download", onProgress);
  return { loader, stored };
}

async function load(msg) {
  const t0 = performance.now();
  await initWasm();
  const progress = (p) => post({ type: "progress", ...p });
  const { backend, probe } = await resolveBackend(msg.backend || "auto", probeBackends);
  activeBackend = backend;
  const options = { backend, sha256: msg.sha256 || undefined, maxContext: msg.maxContext };
  let cached = false;
  let loaded = null;
  const hit = msg.sha256 ? await openCached(msg.sha256) : null;
  if (hit) {
    try {
      const loader = await readInto(hit.body, hit.size, "cache", progress);
      progress({ phase: "prepare", loaded: loader.length, total: loader.length });
      loaded = await finish(loader, options); // a corrupt entry fails its sha256 here
      cached = true;
    } catch (e) {
      if (e?.code !== "integrity") throw e; // the wasm's IntegrityError: the entry is damaged
      await dropCached(msg.sha256);
      post({ type: "note", text: "The cached model was damaged and has been downloaded again." });
    }
  }
  if (!loaded) {
    const { loader, stored } = await download(msg.model, msg.sha256, progress);
    progress({ phase: "prepare", loaded: loader.length, total: loader.length });
    const s = await stored;
    try {
      loaded = await finish(loader, options);
    } catch (e) {
      if (msg.sha256) await dropCached(msg.sha256); // never keep bytes that failed verification
      throw e;
    }
    if (msg.sha256 && !s.ok) post({ type: "note", text: s.reason });
  }
  assistant = loaded;
  if (shop) assistant.useShop(shop);
  post({
    type: "ready",
    backend: assistant.backend,
    adapter: assistant.adapter,
    weightBytes: assistant.weightBytes,
    loadMs: performance.now() - t0,
    cached,
    probe,
  });
}

/**
 * The sentence encoder for retrieval by meaning: downloaded (or read from the weights cache,
 * keyed and verified by its sha256 like the model), then every product of the shop embedded.
 * Resolves to {ms (embedding), loadMs, cached}.
 */
async function useEncoder(msg) {
  const t0 = performance.now();
  const target = loadedShop();
  // Meaning needs every product embedded; a sharded catalog is searched by its words.
  if (sharded) return { ms: 0, loadMs: 0, cached: false, sharded: true };
  const sha256 = msg.sha256 || undefined;
  let bytes = null;
  let cached = false;
  const hit = sha256 ? await openCached(sha256) : null;
  if (hit) {
    bytes = new Uint8Array(await new Response(hit.body).arrayBuffer());
    cached = true;
  } else {
    let res;
    try {
      res = await fetch(msg.url);
    } catch (e) {
      throw new Error(`cannot download the sentence encoder from ${msg.url}: ${e.message}`);
    }
    if (!res.ok) throw new Error(`cannot download the sentence encoder from ${msg.url}: HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  const digest = subtle ? hex(new Uint8Array(await subtle.digest("SHA-256", bytes))) : undefined;
  const t1 = performance.now();
  try {
    target.useEncoder(bytes, sha256, digest);
  } catch (e) {
    if (cached && e?.code === "integrity") {
      await dropCached(sha256); // a damaged entry: the next load downloads it again
      return useEncoder(msg);
    }
    throw e;
  }
  if (sha256 && !cached) {
    const s = await storeInCache(sha256, new Response(bytes));
    if (!s.ok) post({ type: "note", text: s.reason });
  }
  encoder = { url: msg.url, sha256: msg.sha256 };
  bytes = null;
  // One text a step (a product, its title and first sentences, ~0.3 s; a policy passage about
  // as much), so that requests in between wait little; words answer meanwhile.
  while (target.encodeStep(1) > 0) {
    await yieldToEvents();
    if (target !== shop) return { ms: 0, loadMs: performance.now() - t0, cached, replaced: true };
  }
  return { ms: performance.now() - t1, loadMs: performance.now() - t0, cached };
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Runs the task `start()` began, posting each item, until it ends or is aborted. */
async function stream(id, asEvent) {
  let wasAborted = false;
  for (;;) {
    if (aborted.has(id)) {
      assistant.abort();
      wasAborted = true;
      break;
    }
    const item = await assistant.next();
    if (item === null) break;
    if (asEvent) post({ type: "piece", id, event: item });
    else if (item.text) post({ type: "piece", id, text: item.text });
    if (!asEvent && item.done) break;
    await yieldToEvents();
  }
  aborted.delete(id);
  post({ type: "done", id, stats: assistant.stats(), aborted: wasAborted });
}

function ready() {
  if (!assistant) throw new Error("the model is not loaded");
  return assistant;
}

/** The session's conversation: what was shown and the constraints in force, until reset. */
function talk() {
  conversation ??= new Conversation(loadedShop(), undefined);
  return conversation;
}

function loadedShop() {
  if (!shop) throw new Error("no catalog loaded: send the shop first");
  return shop;
}

/** Makes `next` the shop that everything answers from (the assistant and the conversation too). */
function useShop(next) {
  shop?.free(); // the assistant holds its own reference to the shop it used
  shop = next;
  assistant?.useShop(shop);
}

/** Parses the catalog and policies into a new Shop (the assistant, when loaded, shares it). */
async function setShop(catalog, policies, currency) {
  await initWasm();
  let next;
  let imported = null;
  try {
    next = new Shop(catalog, policies ?? undefined);
  } catch (e) {
    if (catalogParses(catalog)) throw e; // the policies are at fault
    imported = await importFeed(catalog, currency, e);
    next = new Shop(imported.catalog, policies ?? undefined);
  }
  conversation?.free(); // a conversation about the old catalog ends with it
  conversation = null;
  sharded = null;
  useShop(next);
  if (encoder) await useEncoder(encoder); // from the weights cache when it has a sha256
  return { products: shop.products, imported: imported?.catalog ?? null, report: imported?.report ?? [] };
}

/**
 * A catalog too large to load, served as a sharded static index (scripts/shard-catalog.mjs
 * writes it with pagefind): pagefind's own client, from the index's folder, fetches the parts
 * of the index that a request's words need and the records of the products they find. Those
 * products are this worker's catalog, grown request by request (kept in the order they came,
 * so the conversation's "the second one" still means what it meant); our ranking, constraints
 * and answers run on it as on any catalog.
 */
let sharded = null; // {pagefind, header, products: [...], ids: Set, fetched: Set, policies}
/** How many of the products an index lookup finds are fetched and ranked per request. */
const SHARD_CANDIDATES = 24;
/** At most this many of them score alike for every word (variants of one text, most likely:
 * twenty copies of one product in other colours would crowd out every other product). */
const SHARD_ALIKE = 3;

async function setShardedShop(base, policies) {
  await initWasm();
  let header;
  let pagefind;
  try {
    const res = await fetch(new URL("aisle-shop.json", base));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    header = await res.json();
  } catch (e) {
    throw new Error(`cannot read the sharded catalog's aisle-shop.json under ${base}: ${e.message}`);
  }
  // One pagefind index per part of the catalog (scripts/shard-catalog.mjs), searched as one.
  const parts = Array.isArray(header.parts) && header.parts.length ? header.parts.map((p) => new URL(p, base).href) : [base];
  try {
    pagefind = await import(new URL("pagefind.js", parts[0]).href);
    await pagefind.options({ basePath: parts[0], excerptLength: 0 });
    await pagefind.init();
    for (const part of parts.slice(1)) await pagefind.mergeIndex(part);
  } catch (e) {
    throw new Error(`cannot load the sharded catalog's index (pagefind.js) under ${base}: ${e.message}`);
  }
  const next = { pagefind, header, products: [], ids: new Set(), fetched: new Set(), policies: policies ?? undefined };
  const nextShop = shardShop(next);
  conversation?.free();
  conversation = null;
  sharded = next;
  useShop(nextShop);
  return { products: Number(header.products) || 0, imported: null, report: [], shop: header.shop ?? {} };
}

/** The Shop of the products a sharded catalog has fetched so far. */
const shardShop = (s) => new Shop(JSON.stringify({ shop: s.header.shop ?? {}, products: s.products }), s.policies);

/**
 * Looks `request` up in the sharded index, when the catalog is one: each of its words (by any
 * of its spellings, Shop.lookupWords) is one pagefind search; a product scores 1 for each core
 * word it has and 0.5 for each context word (pagefind's own scores break ties), and the best
 * SHARD_CANDIDATES (not yet here) are fetched and added to the catalog. Resolves once they are.
 */
async function lookUp(request) {
  if (!sharded || !request) return;
  const s = sharded;
  const found = new Map(); // pagefind result id -> {points, score, scores, result}
  const groups = Shop.lookupWords(request);
  // Every word's search at once (their index chunks download side by side), read in order.
  const searched = await Promise.all(groups.map(({ words }) => Promise.all(words.map((w) => s.pagefind.search(w)))));
  for (const [g, { role }] of groups.entries()) {
    const points = role === "core" ? 1 : 0.5;
    const hits = new Map();
    for (const r of searched[g]) {
      for (const result of r?.results ?? []) if (!hits.has(result.id)) hits.set(result.id, result);
    }
    for (const [id, result] of hits) {
      const f = found.get(id) ?? { points: 0, score: 0, scores: "", result };
      f.points += points;
      f.score += result.score ?? 0;
      f.scores += `${points}:${result.score};`;
      found.set(id, f);
    }
  }
  const best = [...found.values()].sort((a, b) => b.points - a.points || b.score - a.score);
  const chosen = [];
  const alike = new Map(); // the same scores for every word: most likely the same text
  for (const f of best) {
    if (chosen.length === SHARD_CANDIDATES) break;
    const n = alike.get(f.scores) ?? 0;
    if (n >= SHARD_ALIKE) continue;
    alike.set(f.scores, n + 1);
    chosen.push(f);
  }
  const fresh = chosen.filter((f) => !s.fetched.has(f.result.id));
  const records = await Promise.all(fresh.map((f) => f.result.data()));
  const added = [];
  for (const [i, record] of records.entries()) {
    s.fetched.add(fresh[i].result.id);
    let product;
    try {
      product = JSON.parse(record?.meta?.product ?? "");
    } catch {
      continue; // a record this index's writer did not make: not ours to show
    }
    if (product && product.id != null && !s.ids.has(String(product.id))) {
      s.ids.add(String(product.id));
      s.products.push(product);
      added.push(product);
    }
  }
  if (sharded !== s || !added.length) return;
  useShop(shardShop(s));
  conversation?.useShop(shop);
  post({ type: "products", products: added });
}

function catalogParses(catalog) {
  try {
    new Shop(catalog, undefined).free();
    return true;
  } catch {
    return false;
  }
}

/**
 * A catalog that is not our JSON, read as a product feed by the feed importers' own wasm
 * (pkg/feed/: loaded the first time a page's catalog is a feed, never otherwise). Text that is
 * no feed either fails with the catalog's error when it looks like JSON, else with the feed's.
 */
let feedWasm = null;
async function importFeed(text, currency, catalogError) {
  const json = /^\s*[[{]/.test(text);
  let m;
  try {
    feedWasm ??= import("../pkg/feed/aisle_feed.js").then(async (m) => {
      await m.default();
      return m;
    });
    m = await feedWasm;
  } catch (e) {
    feedWasm = null; // the next catalog tries again
    throw json ? catalogError : new Error(`the catalog is not Aisle's catalog JSON, and the product-feed reader (pkg/feed/) did not load: ${e.message}`);
  }
  try {
    return m.importFeed(text, currency ?? undefined);
  } catch (e) {
    throw json ? catalogError : e;
  }
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  const result = (value) => post({ type: "result", id: msg.id, value });
  try {
    switch (msg.type) {
      case "load":
        await load(msg);
        break;
      case "chat":
        ready().start(msg.messages, msg.options || {});
        await stream(msg.id, false);
        break;
      case "suggest":
        await lookUp(msg.request);
        ready().startSuggest(msg.request, msg.options || {});
        await stream(msg.id, true);
        break;
      case "answer":
        ready().startAnswer(msg.question, msg.options || {});
        await stream(msg.id, true);
        break;
      case "reviews":
        result(ready().analyzeReviews(msg.text));
        break;
      case "summary":
        ready().startReviewSummary(msg.text);
        await stream(msg.id, true);
        break;
      case "bench":
        result(await ready().benchmark(Uint32Array.from(msg.ids), msg.n));
        break;
      case "abort":
        aborted.add(msg.id);
        break;
      case "memory":
        result({ wasmBytes: wasm ? wasm.memory.buffer.byteLength : 0, gpuDevices: devicesOpened });
        break;
      case "tokenize":
        result(Array.from(ready().tokenize(msg.text, !!msg.special)));
        break;
      case "shop":
        result(msg.index ? await setShardedShop(msg.index, msg.policies) : await setShop(msg.catalog, msg.policies, msg.currency));
        break;
      case "encoder":
        result(await useEncoder(msg));
        break;
      case "route":
        await lookUp(msg.text);
        result(loadedShop().route(msg.text));
        break;
      case "explain":
        await lookUp(msg.request);
        result(loadedShop().explain(msg.request, msg.options || {}));
        break;
      case "quick-suggest":
        await lookUp(msg.request);
        result(loadedShop().quickSuggest(msg.request, msg.options || {}));
        break;
      case "converse": {
        // A sharded catalog holds only what earlier requests found: the message's own products
        // come first, so that the conversation reads it against them.
        await lookUp(msg.text);
        const step = talk().respond(msg.text);
        if (step.step === "suggest" && step.request !== msg.text) await lookUp(step.request);
        result(step);
        break;
      }
      case "converse-reset":
        conversation?.free();
        conversation = null;
        result(null);
        break;
      case "converse-shown":
        talk().shown(msg.products);
        result(null);
        break;
      case "converse-answered":
        talk().answered();
        result(null);
        break;
      case "quick-suggest-turn":
        result(loadedShop().quickSuggestTurn(talk(), msg.options || {}));
        break;
      case "suggest-turn":
        ready().startSuggestTurn(talk(), msg.options || {});
        await stream(msg.id, true);
        break;
      case "quick-answer":
        result(loadedShop().quickAnswer(msg.question, msg.options || {}));
        break;
      default:
        throw new Error(`unknown message ${JSON.stringify(msg.type)}`);
    }
  } catch (e) {
    aborted.delete(msg.id);
    // A failure caused by a lost GPU device is reported as the loss (the client restarts us),
    // not as this request's own error; the loss may be signalled just after the failure, so
    // a failure that a lost device could have caused (the model running on WebGPU, an error
    // without one of the codes that name another cause) waits a moment for it.
    if (mayBeDeviceLoss(e) && (await Promise.race([deviceLost.then(() => true), new Promise((r) => setTimeout(() => r(false), 250))]))) return;
    // name and code (the wasm's stable ones: "integrity", "model-format", "device", "failed")
    // travel with the message, so that the page branches on the code, never on the wording.
    post({ type: "error", id: msg.id, message: e && e.message ? e.message : String(e), name: e?.name, code: e?.code });
  }
};

// Every module this worker imports has loaded and run: the client can tell a worker that
// failed to start (a missing file) from one that failed later.
post({ type: "started" });
