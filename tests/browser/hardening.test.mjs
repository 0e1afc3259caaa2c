// Hardening in a real headless Chromium under the strict CSP: hostile model files, a damaged
// cache, the worker crashing, the GPU device lost, privacy over a whole session, XSS payloads
// through catalog, policies and the model's output, and a soak of 200 answers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";
import { REPO, MODEL_URL, MODEL_PATH, MODEL_SHA256, instrument, inspectWidget, PAYLOADS } from "./util.mjs";

let server;
let browser;
const HOSTILE = mkdtempSync(path.join(tmpdir(), "aisle-hostile-"));

/** The first `n` bytes of the real model. */
function head(n) {
  const buf = Buffer.alloc(n);
  const fd = openSync(MODEL_PATH, "r");
  readSync(fd, buf, 0, n, 0);
  closeSync(fd);
  return buf;
}

/** A GGUF v3 header with the given counts, then `rest`. */
function header({ magic = "GGUF", version = 3, tensors = 0n, kvs = 0n } = {}, rest = Buffer.alloc(0)) {
  const h = Buffer.alloc(24);
  h.write(magic, 0, "latin1");
  h.writeUInt32LE(version, 4);
  h.writeBigUInt64LE(tensors, 8);
  h.writeBigUInt64LE(kvs, 16);
  return Buffer.concat([h, rest]);
}

const str = (s) => {
  const b = Buffer.from(s);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
};
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};

/** Each hostile file and the words its refusal must contain. */
const HOSTILE_FILES = {
  "empty.gguf": [Buffer.alloc(0), /truncated/],
  "truncated-header.gguf": [head(10), /truncated/],
  "truncated-metadata.gguf": [head(300_000), /truncated|impossible for a file of 300000 bytes/],
  "truncated-tensors.gguf": [head(4_000_000), /beyond the end of the file|truncated/],
  "wrong-magic.gguf": [Buffer.concat([Buffer.from("GGUX"), head(4096).subarray(4)]), /not a GGUF file/],
  "version-99.gguf": [header({ version: 99 }), /unsupported GGUF version 99/],
  "absurd-tensor-count.gguf": [header({ tensors: 1n << 60n }), /impossible/],
  "absurd-kv-count.gguf": [header({ kvs: 1n << 62n }), /impossible/],
  "huge-string.gguf": [header({ kvs: 1n }, Buffer.concat([u64(2n ** 40n), Buffer.from("key")])), /truncated|impossible/],
  "unknown-value-type.gguf": [header({ kvs: 1n }, Buffer.concat([str("general.x"), u32(99), u64(0)])), /unknown value type 99/],
  "dims-overflow.gguf": [
    header({ tensors: 1n }, Buffer.concat([str("t"), u32(4), u64(2n ** 32n), u64(2n ** 32n), u64(2n ** 32n), u64(16), u32(0), u64(0)])),
    /bad shape|overflow|beyond/,
  ],
  "offset-beyond-end.gguf": [header({ tensors: 1n }, Buffer.concat([str("t"), u32(1), u64(32), u32(0), u64(1n << 40n)])), /beyond the end/],
  "misaligned.gguf": [header({ tensors: 1n }, Buffer.concat([str("t"), u32(1), u64(1), u32(0), u64(3)])), /alignment/],
  "unknown-tensor-type.gguf": [header({ tensors: 1n }, Buffer.concat([str("t"), u32(1), u64(32), u32(77), u64(0)])), /unknown ggml type id 77/],
  "other-architecture.gguf": [header({ kvs: 1n }, Buffer.concat([str("general.architecture"), u32(8), str("mamba")])), /mamba|architecture|missing/],
};

before(async () => {
  for (const [name, [bytes]] of Object.entries(HOSTILE_FILES)) writeFileSync(path.join(HOSTILE, name), bytes);
  server = await serve({ port: 0, csp: true, extra: { "/hostile/": HOSTILE } });
  browser = await launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(HOSTILE, { recursive: true, force: true });
});

/** A page of our origin (strict CSP) that records violations and script errors. */
/** The worker with the tests' fault hooks (tests/browser/fault-worker.js); the product never loads it. */
const FAULT_WORKER = "/tests/browser/fault-worker.js";

async function blankPage(sink) {
  const page = await browser.context.newPage();
  await instrument(page, sink);
  await page.goto(`${server.url}/tests/browser/blank.html`);
  return page;
}

/** Adds an <aisle-assistant> with `attrs` to the page and opens it. */
function addWidget(page, attrs) {
  return page.evaluate(async (attrs) => {
    await import("/www/aisle.js");
    const el = document.createElement("aisle-assistant");
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    document.body.append(el);
    el.open();
  }, attrs);
}

const errorPanel = (page) =>
  page.evaluate(() => {
    const e = document.querySelector("aisle-assistant").shadowRoot.querySelector(".error");
    return e.hidden ? null : e.textContent;
  });

test("hostile model files are refused with a specific error, in JS and in the widget", { timeout: 600_000 }, async () => {
  const errors = [];
  const page = await blankPage(errors);
  for (const [name, [bytes, want]] of Object.entries(HOSTILE_FILES)) {
    const t0 = Date.now();
    const failure = await page.evaluate(async (url) => {
      const { Aisle } = await import("/www/aisle.js");
      try {
        await Aisle.load({ model: url, backend: "cpu" });
        return null;
      } catch (e) {
        return e instanceof Error ? { message: e.message, name: e.name, code: e.code } : { message: `not an Error: ${String(e)}` };
      }
    }, `/hostile/${name}`);
    assert.ok(failure, `${name} (${bytes.length} bytes) must be refused`);
    const { message } = failure;
    assert.match(message, want, `${name}: ${message}`);
    // The page branches on a stable code, not on the wording.
    assert.deepEqual([failure.name, failure.code], ["ModelFormatError", "model-format"], `${name}: ${JSON.stringify(failure)}`);
    assert.ok(Date.now() - t0 < 60_000, `${name}: refused promptly`);
  }
  // The widget shows the reason in its panel, readable, with Retry.
  await addWidget(page, { "data-model": "/hostile/wrong-magic.gguf", "data-backend": "cpu" });
  await page.waitForFunction(() => !document.querySelector("aisle-assistant").shadowRoot.querySelector(".error").hidden);
  assert.match(await errorPanel(page), /not a GGUF file.*Retry/s);
  // A worker that cannot start (its file missing) is named in the error.
  const noWorker = await page.evaluate(async () => {
    const { Aisle } = await import("/www/aisle.js");
    const a = Aisle.create({ model: "/models/none.gguf", workerUrl: "/www/missing-worker.js" });
    return a.setShop('{"products":[]}', null).then(() => null, (e) => e.message);
  });
  assert.match(noWorker || "", /worker failed to start: .*\/www\/missing-worker\.js/);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
  console.log(`# ${Object.keys(HOSTILE_FILES).length} hostile model files refused`);
});

test("a damaged cached model is dropped and downloaded again", { timeout: 600_000 }, async () => {
  const errors = [];
  const page = await blankPage(errors);
  const r = await page.evaluate(
    async ({ model, sha256, size }) => {
      const { Aisle } = await import("/www/aisle.js");
      (await Aisle.load({ model, sha256, backend: "cpu" })).dispose(); // caches it
      // Damage the entry: same key, same length, one byte in the weights flipped.
      const cache = await caches.open("aisle-weights-v1");
      const key = `https://aisle.invalid/weights/${sha256}`;
      const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
      bytes[bytes.length - 1000] ^= 0xff;
      await cache.put(key, new Response(bytes, { headers: { "content-length": String(bytes.length) } }));
      const notes = [];
      const phases = new Set();
      const a = await Aisle.load({ model, sha256, backend: "cpu", onNote: (t) => notes.push(t), onProgress: (p) => phases.add(p.phase) });
      const ids = await a.tokenize("hello");
      a.dispose();
      const healed = new Uint8Array(await (await cache.match(key)).arrayBuffer());
      let same = healed.length === size;
      // The entry is whole again: a third load reads it from the cache without a note.
      const notes3 = [];
      const phases3 = new Set();
      (await Aisle.load({ model, sha256, backend: "cpu", onNote: (t) => notes3.push(t), onProgress: (p) => phases3.add(p.phase) })).dispose();
      return { notes, phases: [...phases], ids, same, notes3, phases3: [...phases3] };
    },
    { model: MODEL_URL, sha256: MODEL_SHA256, size: statSync(MODEL_PATH).size },
  );
  assert.ok(r.notes.some((n) => /damaged/.test(n)), JSON.stringify(r.notes));
  assert.ok(r.phases.includes("download"), "fetched again");
  assert.ok(r.ids.length > 0);
  assert.ok(r.same, "the cache holds the whole file again");
  assert.deepEqual(r.notes3, []);
  assert.ok(r.phases3.includes("cache") && !r.phases3.includes("download"), JSON.stringify(r.phases3));
  assert.deepEqual(errors, []);
  await page.close();
});

test("the worker crashing mid-answer: the widget shows an error, and Retry brings it back", { timeout: 900_000 }, async () => {
  const errors = [];
  const page = await blankPage(errors);
  await addWidget(page, {
    "data-worker": FAULT_WORKER,
    "data-model": MODEL_URL,
    "data-sha256": MODEL_SHA256,
    "data-catalog": "/demo/catalog.json",
    "data-policies": "/demo/policies.json",
    "data-backend": "cpu",
  });
  await page.waitForFunction(() => document.querySelector("aisle-assistant").assistant !== null, null, { timeout: 300_000 });
  const failed = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    new BroadcastChannel("aisle-test").postMessage({ fault: "crash-mid-answer" }); // the worker dies as the answer starts streaming
    return el.ask("a warm blanket").then(
      () => null,
      (e) => e.message,
    );
  });
  assert.match(failed || "", /worker failed.*injected fault/);
  assert.match(await errorPanel(page), /worker failed.*Retry/s);
  await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".retry").click());
  await page.waitForFunction(() => document.querySelector("aisle-assistant").assistant !== null, null, { timeout: 300_000 });
  const r = await page.evaluate(() => document.querySelector("aisle-assistant").ask("a warm blanket"));
  assert.ok(r.products.length >= 1, "answers again after Retry");
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  // The injected crash is reported by the browser as an uncaught worker error; nothing else.
  assert.deepEqual(errors.filter((e) => !/injected fault/.test(e)), []);
  await page.close();
});

test("the GPU device lost mid-answer: the assistant restarts on the CPU, says so, and answers; GPU buffers do not leak", { timeout: 900_000 }, async () => {
  const errors = [];
  const page = await blankPage(errors);
  const r = await page.evaluate(async ({ model, sha256, workerUrl }) => {
    const { Aisle } = await import("/www/aisle.js");
    const notes = [];
    const a = await Aisle.load({ model, sha256, backend: "webgpu", workerUrl, onNote: (t) => notes.push(t) });
    // The test worker's hooks, on their own channel.
    const channel = new BroadcastChannel("aisle-test");
    const gpu = () =>
      new Promise((resolve) => {
        const id = Math.random();
        const onReply = ({ data }) => data.id === id && (channel.removeEventListener("message", onReply), resolve(data.value));
        channel.addEventListener("message", onReply);
        channel.postMessage({ probe: "gpu", id });
      });
    const backend0 = a.backend;
    const chat = async (text, n) => {
      let out = "";
      for await (const piece of a.chat([{ role: "user", content: text }], { maxTokens: n })) out += piece;
      return out;
    };
    // Live GPU buffers after two rounds of replies, then after the same round twice more: the
    // pool reuses its buffers, so the count must not grow. (The first round starts cold and
    // runs each prompt whole; from the second on, each prompt's start is reused from the last
    // reply's cache and shorter runs meet the pool, so the steady state begins there.)
    const round = async () => {
      for (const q of ["Hi", "Name a fruit.", "What is a tent?"]) await chat(q, 3);
    };
    await round();
    await round();
    const warm = await gpu();
    await round();
    await round();
    const later = await gpu();
    let failure = null;
    try {
      let first = true;
      for await (const _ of a.chat([{ role: "user", content: "Tell me about tents." }], { maxTokens: 40 })) {
        if (first) channel.postMessage({ fault: "device-lost" });
        first = false;
      }
    } catch (e) {
      failure = e.message;
    }
    const reply = await chat("Hi", 4);
    return { backend0, backend1: a.backend, notes, failure, reply, warm, later };
  }, { model: MODEL_URL, sha256: MODEL_SHA256, workerUrl: FAULT_WORKER });
  assert.equal(r.backend0, "webgpu");
  assert.ok(r.warm.devices >= 1 && r.warm.liveBuffers > 0, JSON.stringify(r.warm));
  assert.equal(r.later.liveBuffers, r.warm.liveBuffers, `GPU buffers: ${r.warm.liveBuffers} after two rounds of replies, ${r.later.liveBuffers} after two more`);
  assert.match(r.failure || "", /GPU device was lost/);
  assert.equal(r.backend1, "cpu");
  assert.ok(r.notes.some((n) => /graphics device was lost.*CPU/.test(n)), JSON.stringify(r.notes));
  assert.ok(r.reply.length > 0, "answers on the CPU");
  assert.deepEqual(errors, []);
  await page.close();
  console.log(`# GPU buffers live: ${r.warm.liveBuffers} after two rounds of 3 replies, ${r.later.liveBuffers} after two more rounds`);
});

test("privacy over a whole session: only same-origin GETs of static files, profile under our key, forget me erases it", { timeout: 1_200_000 }, async () => {
  const { context, close } = await launch({ webgpu: false });
  try {
    const requests = [];
    context.on("request", (req) => requests.push({ url: req.url(), method: req.method(), body: req.postData() }));
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.querySelector("aisle-assistant"));
    // Profile updates: product views, a cart add, a search.
    await page.evaluate(() => {
      for (const id of ["out-001", "out-002", "kit-001"]) document.dispatchEvent(new CustomEvent("aisle:view", { detail: { id } }));
      document.dispatchEvent(new CustomEvent("aisle:cart", { detail: { id: "out-001" } }));
      document.dispatchEvent(new CustomEvent("aisle:search", { detail: { text: "secret-search-words tent" } }));
    });
    const questions = [
      "a tent for two people under 300",
      "secret-question-words waterproof hiking boots",
      "How long does shipping take?",
      "a gift for a coffee lover",
      "Can I return an opened item?",
      "red running shoes size 42",
      "Do you ship to Canada?",
      "Wasserdichte Jacke unter 100 Euro",
      "送给孩子的礼物",
      "What is your warranty on electronics?",
    ];
    const answers = [];
    for (const q of questions) answers.push(await page.evaluate((q) => document.querySelector("aisle-assistant").ask(q), q));
    assert.equal(answers.length, 10);
    const storage = await page.evaluate(() => Object.keys(localStorage));
    assert.deepEqual(storage.filter((k) => !k.startsWith("aisle:")), [], `storage keys outside our namespace: ${storage}`);
    assert.ok(storage.includes("aisle:profile:v1"));
    await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".forget").click());
    assert.equal(await page.evaluate(() => localStorage.getItem("aisle:profile:v1")), null, "forget me erases the profile");

    const origin = new URL(server.url).origin;
    assert.ok(requests.length > 5);
    for (const r of requests) {
      const u = new URL(r.url);
      assert.equal(u.origin, origin, `third-party or other-origin request: ${r.url}`);
      assert.equal(r.method, "GET", `${r.method} ${r.url}`);
      assert.equal(u.search, "", `query string: ${r.url}`);
      assert.equal(r.body, null, `request body: ${r.url}`);
      const file = path.join(REPO, decodeURIComponent(u.pathname === "/" ? "/index.html" : u.pathname));
      assert.ok(existsSync(file), `not a static file of the shop: ${r.url}`);
      for (const secret of ["secret-question", "secret-search", "tent", "shipping"]) assert.ok(!r.url.toLowerCase().includes(secret) || u.pathname.startsWith("/demo/img/"), `shopper text in ${r.url}`);
    }
    assert.deepEqual(errors, []);
    console.log(`# privacy: ${requests.length} requests over load + 10 questions, all same-origin static GETs`);
  } finally {
    await close();
  }
});

test("XSS: 24 payloads in catalog fields, policy text and the model's chosen sentences render inert under the strict CSP", { timeout: 900_000 }, async () => {
  const catalog = {
    shop: { name: `${PAYLOADS[0]} Shop` },
    products: PAYLOADS.map((p, i) => ({
      id: `mug-${i}`,
      title: `Ceramic mug ${i} ${p}`,
      description: `A sturdy ceramic mug for coffee. ${p} Holds 300 ml of coffee.`,
      categories: ["kitchen", p],
      price: 10 + i,
      currency: "USD",
      attributes: { color: `blue ${p}`, [p]: "x" },
      url: i % 2 ? `javascript:window.__xss='url-${i}'` : `/demo/product.html#mug-${i}`,
      image: i % 3 ? `data:text/html,${encodeURIComponent(p)}` : `/demo/img/kitchen.svg`,
      in_stock: true,
    })),
  };
  const policies = {
    shop: "Evil",
    passages: PAYLOADS.map((p, i) => ({
      id: `returns-${i}`,
      topic: "returns",
      title: `Returns ${p}`,
      text: `You can return any mug within 30 days for a refund. ${p} Returns are free of charge.`,
    })),
  };
  writeFileSync(path.join(HOSTILE, "payload-catalog.json"), JSON.stringify(catalog));
  writeFileSync(path.join(HOSTILE, "payload-policies.json"), JSON.stringify(policies));
  const errors = [];
  const page = await blankPage(errors);
  page.on("dialog", (d) => {
    errors.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  await addWidget(page, {
    "data-model": MODEL_URL,
    "data-sha256": MODEL_SHA256,
    "data-catalog": "/hostile/payload-catalog.json",
    "data-policies": "/hostile/payload-policies.json",
    "data-backend": "cpu",
  });
  const asked = [];
  for (const q of ["a ceramic coffee mug", "blue mug for coffee", "Can I return a mug for a refund?", "How do returns work, are they free?"]) {
    asked.push(await page.evaluate((q) => document.querySelector("aisle-assistant").ask(q), q));
  }
  const inspect = await inspectWidget(page);
  const suggested = asked[0].products.length + asked[1].products.length;
  assert.ok(suggested >= 2, "cards from the hostile catalog still show");
  // The model's own output (the sentences it chose) carried payloads, shown as text.
  const modelText = asked.map((a) => a.text).join("\n");
  assert.ok(PAYLOADS.some((p) => modelText.includes(p.slice(0, 12))), `model output carried no payload: ${modelText.slice(0, 400)}`);
  assert.ok(PAYLOADS.some((p) => inspect.text.includes(p)), "payload text is shown as text");
  assert.equal(inspect.xss, null, "no payload ran");
  assert.deepEqual(inspect.bad, [], "no element was injected");
  assert.equal(inspect.handlers, 0, "no event-handler attribute was injected");
  for (const href of inspect.links) assert.match(href, /^https?:\/\/127\.0\.0\.1/, `only same-origin http(s) links: ${href}`);
  for (const src of inspect.imgs) assert.match(src, /^https?:\/\/127\.0\.0\.1/, `only same-origin images: ${src}`);
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__xss ?? null), null);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
  console.log(`# ${PAYLOADS.length} payloads in every catalog field and policy passage: inert, 0 CSP violations`);
});

test("soak: 200 answers in one page; wasm memory and JS heap grow < 5 % after warm-up, no slowdown", { timeout: 1_800_000 }, async () => {
  const errors = [];
  const page = await blankPage(errors);
  const cdp = await page.context().newCDPSession(page);
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return (await cdp.send("Runtime.getHeapUsage")).usedSize;
  };
  await page.evaluate(async ({ model, sha256 }) => {
    const { Aisle } = await import("/www/aisle.js");
    const a = await Aisle.load({ model, sha256, backend: "cpu" });
    await a.setShop(await (await fetch("/demo/catalog.json")).text(), await (await fetch("/demo/policies.json")).text());
    window.__a = a;
    window.__times = [];
    // One answer: mostly short chats, every tenth a grounded policy answer.
    window.__one = async (i) => {
      const t0 = performance.now();
      if (i % 10 === 9) {
        for await (const _ of a.answer("How long does shipping take?")) void _;
      } else {
        for await (const _ of a.chat([{ role: "user", content: `Suggest a gift idea number ${i}.` }], { maxTokens: 8 })) void _;
      }
      window.__times.push(performance.now() - t0);
    };
    window.__run = async (from, to) => {
      for (let i = from; i < to; i++) await window.__one(i);
    };
  }, { model: MODEL_URL, sha256: MODEL_SHA256 });
  const WARM = 100;
  const TOTAL = 200;
  // Two evaluations only (each compiles a script the inspector keeps): warm-up, then the rest.
  await page.evaluate((n) => window.__run(0, n), WARM);
  const base = { wasm: (await page.evaluate(() => window.__a.memory())).wasmBytes, heap: await heap() };
  await page.evaluate(([a, b]) => window.__run(a, b), [WARM, TOTAL]);
  const end = { wasm: (await page.evaluate(() => window.__a.memory())).wasmBytes, heap: await heap() };
  const times = await page.evaluate(() => window.__times);
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const early = median(times.slice(WARM, WARM + 30));
  const late = median(times.slice(-30));
  const wasmGrowth = end.wasm / base.wasm - 1;
  const heapGrowth = end.heap / base.heap - 1;
  console.log(
    `# soak: wasm ${base.wasm} -> ${end.wasm} bytes (${(100 * wasmGrowth).toFixed(1)} %), page heap ${base.heap} -> ${end.heap} (${(100 * heapGrowth).toFixed(1)} %), median answer ${early.toFixed(0)} -> ${late.toFixed(0)} ms`,
  );
  assert.equal(times.length, TOTAL);
  assert.ok(wasmGrowth < 0.05, `wasm memory grew ${(100 * wasmGrowth).toFixed(1)} %`);
  // The page's heap is under 1 MB, so 5 % is ~42 KB. What grows (12-36 KB steps) was traced
  // with a heap snapshot diff to V8's number-to-string cache (the `smi_string_cache` root),
  // which fills as distinct numbers are stringified (message ids, "${i}" in the prompts) and
  // is bounded; so the bound is 5 % or 96 KB. Keeping a reply per answer (> 1 KB) fails both.
  assert.ok(heapGrowth < 0.05 || end.heap - base.heap < 96 * 1024, `JS heap grew ${(100 * heapGrowth).toFixed(1)} %, ${end.heap - base.heap} bytes`);
  assert.ok(late < early * 1.5, `answers slowed from ${early} to ${late} ms`);
  assert.deepEqual(errors, []);
  await page.evaluate(() => window.__a.dispose());
  await page.close();
});
