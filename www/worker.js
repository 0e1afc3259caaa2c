// The inference worker: owns the wasm instance and the GPU device, so the page never janks.
//
// Messages in:  {type:"load", model, sha256, backend, maxContext}
//               {type:"chat", id, messages, options}   {type:"abort", id}
//               {type:"tokenize", id, text, special}
// Messages out: {type:"progress", phase, loaded, total}
//               {type:"ready", backend, adapter, weightBytes, loadMs}
//               {type:"piece", id, text}  {type:"done", id, stats, aborted}
//               {type:"result", id, value}  {type:"error", id?, message}

import init, { ModelLoader } from "../pkg/aisle.js";

let assistant = null;
const aborted = new Set();

const post = (msg) => self.postMessage(msg);

// Yields to the worker's event loop so that an "abort" message can arrive between tokens even
// when a token's work finished synchronously (the CPU backend).
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

async function fetchModel(url, total0, onProgress) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`cannot download the model from ${url}: ${e.message}`);
  }
  if (!res.ok || !res.body) throw new Error(`cannot download the model from ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length")) || total0 || 0;
  const loader = new ModelLoader(total || undefined);
  const reader = res.body.getReader();
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
      onProgress({ phase: "download", loaded, total });
    }
  }
  onProgress({ phase: "download", loaded, total: total || loaded });
  return loader;
}

async function load(msg) {
  const t0 = performance.now();
  await init();
  const progress = (p) => post({ type: "progress", ...p });
  const loader = await fetchModel(msg.model, 0, progress);
  progress({ phase: "prepare", loaded: loader.length, total: loader.length });
  assistant = await loader.finish({ backend: msg.backend || "auto", sha256: msg.sha256 || undefined, maxContext: msg.maxContext });
  post({
    type: "ready",
    backend: assistant.backend,
    adapter: assistant.adapter,
    weightBytes: assistant.weightBytes,
    loadMs: performance.now() - t0,
  });
}

async function chat({ id, messages, options }) {
  if (!assistant) throw new Error("the model is not loaded");
  assistant.start(messages, options || {});
  let wasAborted = false;
  for (;;) {
    if (aborted.has(id)) {
      assistant.abort();
      wasAborted = true;
      break;
    }
    const piece = await assistant.next();
    if (piece === null) break;
    if (piece.text) post({ type: "piece", id, text: piece.text });
    if (piece.done) break;
    await yieldToEvents();
  }
  aborted.delete(id);
  post({ type: "done", id, stats: assistant.stats(), aborted: wasAborted });
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  try {
    switch (msg.type) {
      case "load":
        await load(msg);
        break;
      case "chat":
        await chat(msg);
        break;
      case "abort":
        aborted.add(msg.id);
        break;
      case "tokenize":
        if (!assistant) throw new Error("the model is not loaded");
        post({ type: "result", id: msg.id, value: Array.from(assistant.tokenize(msg.text, !!msg.special)) });
        break;
      default:
        throw new Error(`unknown message ${JSON.stringify(msg.type)}`);
    }
  } catch (e) {
    aborted.delete(msg.id);
    post({ type: "error", id: msg.id, message: e && e.message ? e.message : String(e) });
  }
};
