// The model in a real headless Chromium: WebGPU (SwiftShader) and the CPU path, in a worker,
// streamed to the page, checked against the native CLI.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";
import { MODEL_URL, MODEL_SHA256, referenceChats, nativeReply, nativeTokenize } from "./util.mjs";

const TOKENS = 32;
let server;
let browser;
const errors = [];
const requests = [];

/// A page with `window.aisle` loaded on `backend`.
async function openPage(backend) {
  const page = await browser.context.newPage();
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => requests.push(r.url()));
  page.on("worker", (w) => w.on("console", (m) => m.type() === "error" && errors.push(`worker: ${m.text()}`)));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const info = await page.evaluate(
    async ({ model, sha256, backend }) => {
      const { Aisle } = await import("/www/aisle.js");
      const progress = [];
      window.aisle = await Aisle.load({ model, sha256, backend, onProgress: (p) => progress.push(p) });
      window.collect = async (messages, opts) => {
        const pieces = [];
        for await (const p of window.aisle.chat(messages, opts)) pieces.push(p);
        return { pieces, stats: window.aisle.stats };
      };
      return { backend: window.aisle.backend, progress, loadMs: window.aisle.loadMs };
    },
    { model: MODEL_URL, sha256: MODEL_SHA256, backend },
  );
  return { page, info };
}

before(async () => {
  server = await serve({ port: 0 });
  browser = await launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

for (const backend of ["webgpu", "cpu"]) {
  test(`${backend}: greedy replies equal the native CLI's on the reference chats, streamed`, { timeout: 1_200_000 }, async () => {
    const { page, info } = await openPage(backend);
    assert.equal(info.backend, backend);
    // The first load downloads; later ones in this browser read the weights from its cache.
    const phases = info.progress.map((p) => p.phase);
    const source = phases.includes("download") ? "download" : "cache";
    assert.ok(phases.includes(source) && phases.includes("prepare") && phases.at(-1) === "ready", phases.join(","));
    const last = info.progress.filter((p) => p.phase === source).at(-1);
    assert.equal(last.loaded, last.total, `${source} progress reaches the file size`);
    console.log(`${backend}: loaded in ${info.loadMs.toFixed(0)} ms`);

    let same = 0;
    for (const chat of referenceChats()) {
      const native = nativeReply(chat.messages, TOKENS);
      const { pieces, stats } = await page.evaluate(({ messages, n }) => window.collect(messages, { maxTokens: n }), { messages: chat.messages, n: TOKENS });
      const text = pieces.join("");
      const equal = text === native.text;
      same += equal;
      console.log(`${backend} ${chat.id}: ${pieces.length} pieces, ${equal ? "same" : "DIFFERENT"}; prefill ${stats.prefillTps.toFixed(1)} tok/s, decode ${stats.decodeTps.toFixed(1)} tok/s`);
      if (!equal) console.log(`  browser: ${JSON.stringify(text)}\n  native:  ${JSON.stringify(native.text)}`);
      assert.ok(pieces.length >= 5, `${chat.id}: only ${pieces.length} pieces`);
      assert.ok(!text.includes("\uFFFD"), `${chat.id}: a broken character in ${JSON.stringify(text)}`);
      if (chat.id === "phone_case_zh") {
        assert.ok(/[\u4e00-\u9fff]/.test(text), "the Chinese chat answers with Chinese characters");
        for (const p of pieces) assert.ok(!p.includes("\uFFFD"), `broken piece ${JSON.stringify(p)}`);
      }
    }
    assert.ok(same >= 7, `${backend}: only ${same}/8 replies equal the native CLI's`);
    await page.close();
  });
}

test("abort stops within one token; the next chat works; calls queue", { timeout: 600_000 }, async () => {
  const { page } = await openPage("webgpu");
  const r = await page.evaluate(async () => {
    const controller = new AbortController();
    const pieces = [];
    for await (const p of window.aisle.chat([{ role: "user", content: "Write a long story about a shop." }], { maxTokens: 200, signal: controller.signal })) {
      pieces.push(p);
      if (pieces.length === 3) controller.abort();
    }
    const afterAbort = window.aisle.stats;
    // Two calls at once: the second waits for the first.
    const order = [];
    const run = async (tag, content) => {
      const out = [];
      for await (const p of window.aisle.chat([{ role: "user", content }], { maxTokens: 6 })) {
        order.push(tag);
        out.push(p);
      }
      return out.join("");
    };
    const [a, b] = await Promise.all([run("a", "Name a color."), run("b", "Name a fruit.")]);
    return { pieces, afterAbort, order, a, b };
  });
  assert.equal(r.pieces.length, 3, "no piece is yielded after abort");
  assert.ok(r.afterAbort.generatedTokens <= 4, `the worker generated ${r.afterAbort.generatedTokens} tokens for 3 pieces`);
  assert.ok(r.a.length > 0 && r.b.length > 0);
  const firstB = r.order.indexOf("b");
  assert.ok(firstB > r.order.lastIndexOf("a"), `replies interleaved: ${r.order.join("")}`);
  assert.equal(r.a, nativeReply([{ role: "user", content: "Name a color." }], 6).text);
  await page.close();
});

test("webgpu: sampling on the device is seeded: the same seed repeats, another seed differs", { timeout: 600_000 }, async () => {
  const { page } = await openPage("webgpu");
  const r = await page.evaluate(async () => {
    const messages = [{ role: "user", content: "Describe a good coffee mug in one sentence." }];
    const run = async (seed) => {
      let text = "";
      const opts = { maxTokens: 12, temperature: 1.5, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed };
      for await (const p of window.aisle.chat(messages, opts)) text += p;
      return text;
    };
    return { a: await run(7), again: await run(7), b: await run(8) };
  });
  console.log(`webgpu sampled: seed 7 ${JSON.stringify(r.a)}; seed 8 ${JSON.stringify(r.b)}`);
  assert.ok(r.a.length > 0);
  assert.equal(r.again, r.a, "the same seed gives the same reply");
  assert.notEqual(r.b, r.a, "another seed gives another reply");
  await page.close();
});

test("tokenize agrees with the native tokenizer", { timeout: 300_000 }, async () => {
  const { page } = await openPage("cpu");
  const text = "Hello <|im_start|> 12 € 我想";
  const [plain, special] = await page.evaluate(async (t) => [await window.aisle.tokenize(t), await window.aisle.tokenize(t, { special: true })], text);
  assert.deepEqual(plain, nativeTokenize(text, false));
  assert.deepEqual(special, nativeTokenize(text, true));
  await page.close();
});

test("a wrong sha256 is refused with a clear error", { timeout: 300_000 }, async () => {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const message = await page.evaluate(async (model) => {
    const { Aisle } = await import("/www/aisle.js");
    try {
      await Aisle.load({ model, sha256: "00".repeat(32), backend: "cpu" });
      return "loaded";
    } catch (e) {
      return e instanceof Error ? e.message : `not an Error: ${e}`;
    }
  }, MODEL_URL);
  assert.match(message, /sha256 is b179c952.*expected 0000/);
  await page.close();
});

test("on a software adapter (SwiftShader), auto measures both backends and takes the faster", { timeout: 300_000 }, async () => {
  const page = await browser.context.newPage();
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const r = await page.evaluate(
    async ({ model, sha256 }) => {
      const { Aisle } = await import("/www/aisle.js");
      const adapter = await navigator.gpu.requestAdapter();
      const fallback = !!(adapter.info?.isFallbackAdapter || adapter.isFallbackAdapter);
      await caches.delete("aisle-probe-v1");
      const a = await Aisle.load({ model, sha256, backend: "auto" });
      let text = "";
      for await (const p of a.chat([{ role: "user", content: "Hi" }], { maxTokens: 4 })) text += p;
      const out = { fallback, backend: a.backend, probe: a.probe, text };
      a.dispose();
      // The next load recalls the verdict instead of measuring again.
      const b = await Aisle.load({ model, sha256, backend: "auto" });
      out.again = { backend: b.backend, probe: b.probe };
      b.dispose();
      return out;
    },
    { model: MODEL_URL, sha256: MODEL_SHA256 },
  );
  assert.equal(r.fallback, true, "SwiftShader reports itself as a fallback adapter");
  const { cpuMs, webgpuMs, ms } = r.probe;
  console.log(`auto: probe cpu ${cpuMs.toFixed(3)} ms, webgpu ${webgpuMs.toFixed(3)} ms per product (probe took ${ms.toFixed(0)} ms) -> ${r.backend}`);
  assert.ok(cpuMs > 0 && webgpuMs > 0, JSON.stringify(r.probe));
  assert.equal(r.backend, webgpuMs < cpuMs ? "webgpu" : "cpu");
  assert.equal(r.probe.remembered, false);
  assert.ok(r.text.length > 0);
  console.log(`auto again: remembered ${r.again.probe.remembered} in ${r.again.probe.ms.toFixed(1)} ms -> ${r.again.backend}`);
  assert.equal(r.again.probe.remembered, true);
  assert.equal(r.again.backend, r.backend);
  assert.equal(r.again.probe.cpuMs, cpuMs);
  await page.close();
});

test("without WebGPU, backend webgpu fails clearly and auto falls back to the CPU", { timeout: 300_000 }, async () => {
  const plain = await launch({ webgpu: false });
  try {
    const page = await plain.context.newPage();
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${server.url}/tests/browser/blank.html`);
    const r = await page.evaluate(async (model) => {
      const { Aisle } = await import("/www/aisle.js");
      const hasAdapter = !!(navigator.gpu && (await navigator.gpu.requestAdapter()));
      let message = "loaded";
      const t0 = performance.now();
      try {
        await Aisle.load({ model, backend: "webgpu" });
      } catch (e) {
        message = e.message;
      }
      const failMs = performance.now() - t0;
      const auto = await Aisle.load({ model, backend: "auto" });
      let text = "";
      for await (const p of auto.chat([{ role: "user", content: "Hi" }], { maxTokens: 4 })) text += p;
      return { hasAdapter, message, failMs, autoBackend: auto.backend, text };
    }, MODEL_URL);
    assert.equal(r.hasAdapter, false, "this browser has no WebGPU adapter");
    assert.match(r.message, /WebGPU is not available/);
    assert.equal(r.autoBackend, "cpu");
    assert.ok(r.text.length > 0);
  } finally {
    await plain.close();
  }
});

test("no request left 127.0.0.1 and no error reached the page", () => {
  assert.ok(requests.length > 0);
  const origin = new URL(server.url).origin;
  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
});
