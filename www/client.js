// Aisle's main-thread API. The model runs in a Web Worker (www/worker.js); this module only
// passes messages, so nothing here can block the page. (Re-exported by www/aisle.js.)
//
//   import { Aisle } from "./www/aisle.js";
//   const aisle = await Aisle.load({ model: url, sha256, onProgress, backend: "auto" });
//   // or, to answer from the catalog while the model downloads:
//   const aisle = Aisle.create({ model: url, sha256, onProgress });
//   await aisle.setShop(catalogJson, policiesJson);   // needs only the wasm (~2 MB)
//   await aisle.quickSuggest(request);              // events, from retrieval alone
//   await aisle.loadModel();                        // the model (~100 MB), once
//   aisle.backend;                                  // "webgpu" or "cpu"
//   aisle.probe;                                    // how "auto" chose on a software adapter
//   for await (const piece of aisle.chat(messages, { maxTokens, temperature, topK, topP, seed, signal })) { … }
//   await aisle.tokenize(text);                     // number[]
//   aisle.dispose();
//
// Several chat() calls may be made at once: each waits for the previous reply to finish
// (or be aborted) before it starts, so replies never interleave.

/** The inference worker; a page may name another (`workerUrl`: a copy hosted elsewhere, or a
 * module that wraps it: it must import this one statically, so that no message arrives before
 * the worker listens). */
const WORKER_URL = new URL("./worker.js", import.meta.url);

let nextId = 1;

/** The worker's error message as an Error with the wasm's stable `name` and `code`. */
function errorOf(m) {
  const e = new Error(m.message);
  if (typeof m.name === "string" && m.name !== "Error") e.name = m.name;
  if (typeof m.code === "string") e.code = m.code;
  return e;
}

export class Aisle {
  #worker;
  #pending = new Map(); // id -> handlers for one request
  #turn = Promise.resolve(); // the chat queue
  #dead = null; // Error once the worker has died
  #info = null; // the worker's "ready" message, once the model is loaded
  #ready = null; // Promise of the model, once loadModel() was called
  #loadHandlers = null; // {resolve, reject} of the model being loaded

  #args; // what create() was given, to load the model and start a replacement worker
  #shop = null; // the last setShop() arguments, replayed into a replacement worker
  #encoder = null; // the last loadEncoder() arguments, replayed likewise
  #restarting = null; // Promise while a replacement worker loads

  constructor(args) {
    this.#args = args;
    this.#attach(this.#spawn());
  }

  #spawn() {
    return new Worker(this.#args.workerUrl, { type: "module" });
  }

  #attach(worker) {
    this.#worker = worker;
    let started = false;
    worker.onmessage = (ev) => {
      if (ev.data?.type === "started") started = true;
      else this.#dispatch(ev.data);
    };
    // A module worker that cannot start reports no message: say which file it was.
    worker.onerror = (ev) =>
      this.#die(
        new Error(
          started
            ? `the assistant's worker failed: ${ev.message || "unknown error"}`
            : `the assistant's worker failed to start: ${ev.message || `${this.#args.workerUrl} or a module it imports could not be loaded`}`,
        ),
      );
  }

  /** True once the worker has died (crashed or disposed): load a new Aisle to go on. */
  get dead() {
    return this.#dead !== null;
  }

  /** True once the model is loaded (suggest, answer and chat run without waiting for it). */
  get modelReady() {
    return this.#info !== null;
  }

  /**
   * The GPU device was lost: what was running fails with a clear error, and a fresh worker
   * loads the same model on the CPU (from the weights cache when there is a sha256), with the
   * shop replayed into it. Calls made meanwhile wait for it.
   */
  #deviceLost(message) {
    if (this.#restarting || this.#dead) return;
    const error = new Error(`the GPU device was lost (${message}); the assistant is restarting on the CPU`);
    for (const h of this.#pending.values()) h.error?.(error);
    this.#pending.clear();
    this.#worker.onmessage = null;
    this.#worker.onerror = null;
    this.#worker.terminate();
    this.#restarting = (async () => {
      try {
        this.#attach(this.#spawn());
        if (this.#shop) await this.#request(this.#shopMessage(), true);
        if (this.#shop && this.#encoder) await this.#request({ type: "encoder", ...this.#encoder }, true);
        this.#info = null;
        this.#ready = this.#startLoad({ ...this.#args, backend: "cpu" });
        await this.#ready;
        this.#args.onNote?.("The graphics device was lost: the assistant now runs on the CPU.");
      } catch (e) {
        this.#die(new Error(`the GPU device was lost and the CPU restart failed: ${e.message}`));
      } finally {
        this.#restarting = null;
      }
    })();
  }

  /** Worker memory figures: wasm linear memory bytes, GPU devices opened. */
  memory() {
    return this.#request({ type: "memory" });
  }

  /**
   * Downloads (with progress), verifies and loads a GGUF model in a new worker. With `sha256`
   * the weights are cached (Cache Storage, keyed by the hash, verified on every read), so later
   * visits load them from disk; `onNote` hears about degraded caching (e.g. no quota).
   */
  static async load(args = {}) {
    const aisle = Aisle.create(args);
    try {
      await aisle.loadModel();
    } catch (e) {
      aisle.dispose();
      throw e;
    }
    return aisle;
  }

  /**
   * A new worker, the model not yet loading: the shop (setShop), routing, explain and the
   * quick answers work as soon as the wasm has arrived; loadModel() starts the download.
   */
  static create({ model, sha256, onProgress, onNote, onProducts, backend = "auto", maxContext, workerUrl = WORKER_URL } = {}) {
    if (!model) throw new Error("Aisle needs a model URL");
    if (!["auto", "webgpu", "cpu"].includes(backend)) {
      throw new Error(`unknown backend ${JSON.stringify(backend)} (expected auto, webgpu or cpu)`);
    }
    const args = { model: new URL(model, document.baseURI).href, sha256, backend, maxContext, onProgress, onNote, onProducts, workerUrl: new URL(workerUrl, document.baseURI).href };
    return new Aisle(args);
  }

  /**
   * Downloads (or reads from the cache), verifies and loads the model; resolves once it is
   * ready. Called again, returns the same promise; after a failure, tries again.
   */
  loadModel() {
    if (this.#dead) return Promise.reject(this.#dead);
    this.#ready ??= this.#startLoad(this.#args).catch((e) => {
      this.#ready = null;
      throw e;
    });
    return this.#ready;
  }

  #startLoad({ model, sha256, backend, maxContext }) {
    return new Promise((resolve, reject) => {
      this.#loadHandlers = { resolve, reject };
      this.#worker.postMessage({ type: "load", model, sha256, backend, maxContext });
    });
  }

  /** Waits for the model (which loadModel() must have been asked for). */
  async #model() {
    if (this.#restarting) await this.#restarting;
    if (this.#dead) throw this.#dead;
    if (!this.#ready) throw new Error("the model is not loaded: call loadModel() first");
    await this.#ready;
  }

  /** "webgpu" or "cpu". */
  get backend() {
    return this.#info?.backend ?? null;
  }

  /**
   * How "auto" chose on a software GPU adapter: `{cpuMs, webgpuMs, ms, remembered}` (one
   * decode-sized product on each side; the time the choice took; whether it was this
   * adapter's remembered verdict rather than a new measurement); otherwise null.
   */
  get probe() {
    return this.#info?.probe ?? null;
  }

  /** The GPU adapter's name, or "cpu". */
  get adapter() {
    return this.#info?.adapter ?? null;
  }

  /** Bytes of weights on the device. */
  get weightBytes() {
    return this.#info?.weightBytes ?? null;
  }

  /** Milliseconds from load() to ready. */
  get loadMs() {
    return this.#info?.loadMs ?? null;
  }

  /**
   * Streams the reply to `messages` ([{role, content}]) as text pieces that never split a
   * character. `signal` (an AbortSignal) stops it within one token. Resolves `stats` on the
   * returned iterator's `stats` property once finished.
   */
  chat(messages, { maxTokens, temperature, topK, topP, repetitionPenalty, seed, signal } = {}) {
    const options = { maxTokens, temperature, topK, topP, repetitionPenalty, seed };
    return this.#chatStream(messages, options, signal);
  }

  async *#chatStream(messages, options, signal) {
    const previous = this.#turn;
    let release;
    this.#turn = new Promise((r) => (release = r));
    try {
      await previous;
      if (this.#dead) throw this.#dead;
      if (signal?.aborted) return;
      yield* this.#run(messages, options, signal);
    } finally {
      release();
    }
  }

  async *#run(messages, options, signal, task = null) {
    await this.#model();
    const id = nextId++;
    const queue = [];
    let wake = null;
    let finished = false;
    let failure = null;
    const notify = () => {
      if (wake) wake();
      wake = null;
    };
    this.#pending.set(id, {
      piece: (item) => {
        queue.push(item);
        notify();
      },
      done: (m) => {
        this.stats = m.stats;
        finished = true;
        notify();
      },
      error: (e) => {
        failure = e;
        notify();
      },
    });
    const onAbort = () => {
      this.#worker.postMessage({ type: "abort", id });
      finished = true; // stop yielding now; the worker stops within one token
      notify();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) {
      // Aborted while the model was awaited: the listener came too late to hear it.
      signal.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
      return;
    }
    this.#worker.postMessage(task ? { ...task, id } : { type: "chat", id, messages, options });
    try {
      for (;;) {
        if (failure) throw failure;
        if (queue.length) {
          yield queue.shift();
          continue;
        }
        if (finished) break;
        await new Promise((r) => (wake = r));
      }
      if (signal?.aborted) await this.#settled(id);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (!finished) this.#worker.postMessage({ type: "abort", id }); // the caller stopped iterating
      if (!signal?.aborted) this.#pending.delete(id);
    }
  }

  /** Waits until the worker confirms request `id` ended (so the next chat starts cleanly). */
  #settled(id) {
    const h = this.#pending.get(id);
    if (!h) return Promise.resolve();
    return new Promise((resolve) => {
      h.done = (m) => {
        this.stats = m.stats;
        this.#pending.delete(id);
        resolve();
      };
      h.error = () => {
        this.#pending.delete(id);
        resolve();
      };
    });
  }

  /** Token ids of `text` (special-token text parsed only with `special: true`). */
  async tokenize(text, { special = false } = {}) {
    await this.#model();
    return this.#request({ type: "tokenize", text, special });
  }

  /**
   * Loads the shop's catalog and policies (JSON text); resolves to the product count. The
   * catalog may also be a product feed (Merchant Center XML or TSV, Shopify's products.json, a
   * WooCommerce CSV export, a page with JSON-LD): then `importedCatalog` holds the catalog JSON
   * it was read into (null otherwise) and `importReport` what the import kept and skipped.
   * `currency` (ISO 4217) is for feeds that carry none: Shopify's and WooCommerce's.
   */
  async setShop(catalogText, policiesText, { currency } = {}) {
    this.#shop = [catalogText, policiesText ?? null, { currency }];
    const r = await this.#request(this.#shopMessage());
    this.importedCatalog = r.imported;
    this.importReport = r.report;
    return r.products;
  }

  /**
   * Loads a catalog too large for one file, served as a sharded static index (the folder that
   * `node scripts/shard-catalog.mjs catalog.json -o DIR` wrote, at `indexUrl`): each request
   * fetches the part of the index its words need and the products it finds, and answers from
   * them. `onProducts` (given to create()) hears each product as it arrives, for the cards.
   * Resolves to the catalog's product count.
   */
  async setShardedShop(indexUrl, policiesText) {
    const index = new URL(indexUrl.endsWith("/") ? indexUrl : `${indexUrl}/`, document.baseURI).href;
    this.#shop = [null, policiesText ?? null, { index }];
    const r = await this.#request(this.#shopMessage());
    this.importedCatalog = null;
    this.importReport = [];
    this.shardedShop = r.shop ?? null;
    return r.products;
  }

  /** The worker's message that loads the shop last given (replayed into a restarted worker). */
  #shopMessage() {
    const [catalog, policies, { currency, index }] = this.#shop;
    return index ? { type: "shop", index, policies } : { type: "shop", catalog, policies, currency: currency ?? null };
  }

  /**
   * Retrieval by meaning as well as words: downloads the sentence encoder (`url`; with `sha256`
   * it is verified and kept in the weights cache like the model) and embeds the shop's products
   * with it (after setShop; a later catalog is embedded with it too). Resolves to
   * `{ms, loadMs, cached}`: the embedding's and the whole load's milliseconds.
   */
  async loadEncoder({ url, sha256 } = {}) {
    if (!url) throw new Error("loadEncoder needs the encoder's url");
    this.#encoder = { url: new URL(url, document.baseURI).href, sha256 };
    return this.#request({ type: "encoder", ...this.#encoder });
  }

  /** The catalog JSON that the last setShop()'s feed was read into, or null. */
  importedCatalog = null;
  /** What that import kept and skipped, line by line (empty without a feed). */
  importReport = [];

  /**
   * Grounded suggestions for `request`: yields `{type: "text", text}` and `{type: "product", id}`
   * events (ids are catalog ids; render cards from the catalog). `events` is the shopper's
   * on-page history (see www/profile.js).
   */
  suggest(request, { events, lang, signal } = {}) {
    return this.#taskStream({ type: "suggest", request, options: { events, lang } }, signal);
  }

  /** A service answer from the policies: `{type: "passage", id}`, then `{type: "text"}` events. */
  answer(question, { lang, signal } = {}) {
    return this.#taskStream({ type: "answer", question, options: { lang } }, signal);
  }

  /** The review analysis of a JSON or CSV reviews file (sentiment, themes, complaints). */
  async analyzeReviews(text) {
    await this.#model();
    return this.#request({ type: "reviews", text });
  }

  /** A written summary of a reviews file, streamed as `{type: "text"}` events. */
  summarizeReviews(text, { signal } = {}) {
    return this.#taskStream({ type: "summary", text }, signal);
  }

  /** Speed on this device: prefill of `ids`, then `n` greedy tokens -> {prefillTps, decodeTps}. */
  async benchmark(ids, n) {
    await this.#model();
    return this.#request({ type: "bench", ids, n });
  }

  /**
   * A conversation (one per page session; `reset()` starts another): each `ask(text)` is an
   * async iterator of the reply's events, read as a follow-up of what came before ("something
   * cheaper", "the second one", "how much does it weigh?", "compare them"). Besides the
   * `text`, `product` and `passage` events of suggest() and answer(), a turn may yield
   * `{type: "compare", products, rows: [{name, values}]}` (values as the catalog has them, null
   * where a product lacks one), `{type: "chips", chips}` (follow-ups the shopper may send as
   * they are) and `{type: "cart", id}` (the shopper asked to add a product shown to the cart). `quick: true` answers from the catalog alone while the model is not ready.
   * Every product, value and sentence comes from the catalog or the policies.
   */
  session() {
    const client = this;
    return {
      /** What to do with `text` (`{step: "suggest"|"answer"|"said", …}`); `ask` runs it. */
      respond: (text) => client.#request({ type: "converse", text }),
      /** Runs a step from respond(): the events of its reply. */
      run: (step, { events, quick = false, signal } = {}) => client.#runTurn(step, { events, quick, signal }),
      /** Tells the conversation that `products` are on screen (a shared list): "the second one" is among them. */
      shown: (products) => client.#request({ type: "converse-shown", products }),
      async *ask(text, options = {}) {
        yield* await client.#runTurn(await this.respond(text), options);
      },
      reset: () => client.#request({ type: "converse-reset" }),
    };
  }

  /** The events of one conversation turn; the conversation hears what was shown or answered. */
  async #runTurn(step, { events, quick, signal }) {
    const client = this;
    if (step.step === "said") {
      return (async function* () {
        if (step.text) yield { type: "text", text: step.text };
        if (step.kind === "compare") yield { type: "compare", products: step.products, rows: step.rows };
        else for (const id of step.products) yield { type: "product", id };
        // "Add the second one to my cart": the page adds them as its own "Add to cart" would.
        if (step.kind === "cart") for (const id of step.products) yield { type: "cart", id };
        if (step.chips.length) yield { type: "chips", chips: step.chips };
      })();
    }
    const suggest = step.step === "suggest";
    const inner = quick
      ? await (suggest ? this.#request({ type: "quick-suggest-turn", options: { events, turn: step.turn } }) : this.quickAnswer(step.question, { lang: step.lang }))
      : suggest
        ? this.#taskStream({ type: "suggest-turn", options: { events, turn: step.turn } }, signal)
        : this.answer(step.question, { lang: step.lang, signal });
    return (async function* () {
      const products = [];
      for await (const ev of inner) {
        if (ev.type === "product") products.push(ev.id);
        yield ev;
      }
      await client.#request(suggest ? { type: "converse-shown", products } : { type: "converse-answered" });
    })();
  }

  /** Which job a request is for: "suggest" or "answer". */
  route(text) {
    return this.#request({ type: "route", text });
  }

  /**
   * The quick answer to a shopping request, from retrieval alone (the model need not be
   * loaded): resolves to the events suggest() would yield, with the same products and each
   * description's first sentence as its reason.
   */
  quickSuggest(request, { events, lang } = {}) {
    return this.#request({ type: "quick-suggest", request, options: { events, lang } });
  }

  /** The quick answer to a service question: the best-matching policy sentence, then its passage. */
  quickAnswer(question, { lang } = {}) {
    return this.#request({ type: "quick-answer", question, options: { lang } });
  }

  /** What suggestions for `request` would be based on (candidates, constraints, profile). */
  explain(request, { events, lang } = {}) {
    return this.#request({ type: "explain", request, options: { events, lang } });
  }

  async #request(msg, duringRestart = false) {
    if (this.#restarting && !duringRestart) await this.#restarting;
    if (this.#dead) throw this.#dead;
    const id = nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { result: resolve, error: reject });
      this.#worker.postMessage({ ...msg, id });
    });
  }

  /** Any streaming task, queued behind the ones before it like chat(). */
  async *#taskStream(msg, signal) {
    const previous = this.#turn;
    let release;
    this.#turn = new Promise((r) => (release = r));
    try {
      await previous;
      if (this.#dead) throw this.#dead;
      if (signal?.aborted) return;
      yield* this.#run(null, null, signal, msg);
    } finally {
      release();
    }
  }

  /** Frees the model and ends the worker. */
  dispose() {
    this.#die(new Error("the assistant was disposed")); // terminating the worker frees wasm memory and the GPU device
  }

  #dispatch(m) {
    const h = this.#pending.get(m.id);
    if (m.type === "lost") return this.#deviceLost(m.message);
    if (m.type === "progress") return this.#args.onProgress?.({ phase: m.phase, loaded: m.loaded, total: m.total });
    if (m.type === "note") return this.#args.onNote?.(m.text);
    if (m.type === "products") return this.#args.onProducts?.(m.products);
    if (m.type === "ready") {
      this.#info = m;
      this.#args.onProgress?.({ phase: "ready", loaded: 1, total: 1 });
      this.#loadHandlers?.resolve();
      this.#loadHandlers = null;
      return;
    }
    if (m.type === "error" && m.id == null && this.#loadHandlers) {
      this.#loadHandlers.reject(errorOf(m));
      this.#loadHandlers = null;
      return;
    }
    if (m.type === "error" && !h) {
      console.error("aisle worker:", m.message);
      return;
    }
    if (!h) return;
    if (m.type === "piece") h.piece?.(m.event ?? m.text);
    else if (m.type === "done") h.done?.(m);
    else if (m.type === "result") {
      this.#pending.delete(m.id);
      h.result?.(m.value);
    } else if (m.type === "error") {
      this.#pending.delete(m.id);
      h.error?.(errorOf(m));
    }
  }

  #die(error) {
    if (this.#dead) return;
    this.#dead = error;
    this.#loadHandlers?.reject(error);
    this.#loadHandlers = null;
    for (const h of this.#pending.values()) h.error?.(error);
    this.#pending.clear();
    this.#worker.terminate();
  }
}
