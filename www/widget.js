// <aisle-assistant>: the shopping assistant a shop embeds. A launcher button and a chat panel
// in Shadow DOM (no CSS leaks either way), streaming answers, product cards drawn from the
// shop's catalog, keyboard-only use, and a scriptable API for checks:
//
//   const { text, products } = await el.ask("a gift for a 10-year-old under $40");
//   el.addEventListener("aisle-token", (e) => e.detail.text);   // each streamed piece
//   el.addEventListener("aisle-done", (e) => e.detail);         // {text, products, quick, refined}
//   el.addEventListener("aisle-shop-ready", …);  el.addEventListener("aisle-ready", …);  // quick answers; the model
//
// A first visit answers before the model has arrived: once the wasm and the catalog are in,
// a question typed in the panel gets a *quick answer* (the cards retrieval ranks, each with its
// description's first sentence, labelled as such); when the model is ready, the latest quick
// answer is replaced by the model's, with the same cards. `el.ask(text)` waits for the model
// unless given `{quick: true}`.
//
// The panel holds a conversation (client.session()): a message is read as a follow-up of the
// ones before ("something cheaper", "the second one", "how much does it weigh?", "compare
// them"), and a reply may carry a comparison table and tappable follow-up chips.
//
// Attributes: data-model, data-sha256, data-encoder + data-encoder-sha256 (the sentence
// encoder: retrieval by meaning), data-catalog (our catalog JSON, or a product feed),
// data-catalog-index instead for a catalog too large for one file (the folder that
// scripts/shard-catalog.mjs wrote: products are fetched as requests find them),
// data-policies, data-lang ("auto", "en", "de", "zh"), data-backend ("auto", "webgpu", "cpu"),
// data-currency (ISO 4217, for a feed that carries none: Shopify's, WooCommerce's),
// data-worker (the inference worker's URL, when not www/worker.js beside this file),
// data-cart-url (a link template for "Add to cart": `{id}`, `{quantity}`; without it the button
// dispatches `aisle:add-to-cart` on document), data-cart-attribution (`ref=aisle`: one pair
// added to cart links), data-contact (a `mailto:` or http(s) contact page: "Contact the shop").
// Theming: --aisle-accent, --aisle-bg, --aisle-fg, --aisle-muted, --aisle-radius, --aisle-font.
//
// Saved products stay in this browser (profile.js); "Share" puts the product ids in a link's
// fragment (share.js), and a page opened with one shows "Shared with you" from this page's own
// catalog, before the model has loaded.
//
// Untrusted text (model output, catalog fields) only ever becomes text nodes; links and images
// on cards come from the catalog and are followed only when http(s) or same-origin relative.

import { Aisle } from "./client.js";
import { profile, listen } from "./profile.js";
import { safeUrl, cartLink, attribution } from "./links.js";
import { shareLink, readShare, isShareFragment, shareText, deliver, oneLine, MAX_QUESTION } from "./share.js";
import { contactTarget, draftMessage, contactLink } from "./handoff.js";

const CSS_URL = new URL("./widget.css", import.meta.url).href;

const STRINGS = {
  en: {
    open: "Ask our shopping assistant",
    title: "Shopping assistant",
    close: "Close",
    placeholder: "Ask about products, shipping, returns…",
    label: "Your question",
    send: "Send",
    stop: "Stop",
    stopped: "Stopped.",
    retry: "Retry",
    forget: "Forget me",
    forgotten: "Your browsing history here has been erased.",
    privacy: "Runs on your device. Nothing you type leaves it.",
    downloading: (a, b) => `Downloading the assistant… ${a} of ${b} MB`,
    fromCache: "Loading the assistant from this device…",
    encoderFailed: (why) => `Searching by meaning is unavailable (${why}); answers come from the catalog's words.`,
    preparing: "Preparing…",
    why: "Why these suggestions?",
    compareHead: "Compared",
    chipCompare: "Compare these",
    chipCheaper: "Something cheaper",
    chipMore: "Show me more",
    chipsLabel: "Suggested follow-ups",
    failed: "Something went wrong",
    policy: "From our policy:",
    you: "You",
    assistant: "Assistant",
    quick: "Quick answer from the catalog while the assistant loads; it will refine it.",
    was: "regular price",
    addToCart: "Add to cart",
    added: "Added",
    save: "Save",
    saved: "Saved",
    savedList: (n) => `Saved (${n})`,
    savedTitle: "Your saved products",
    savedEmpty: "Nothing saved yet. Use “Save” on a product to keep it here; it stays on this device.",
    share: "Share",
    askFriend: "Ask a friend",
    friendLabel: "Your question for your friend (optional)",
    friendSend: "Share with my question",
    sharedVia: "Shared.",
    copied: "Link copied to the clipboard.",
    copyThis: "Copy this link:",
    sharedWithYou: "Shared with you",
    friendAsks: "Your friend asks:",
    skipped: (n) => (n === 1 ? "One shared product is no longer available, so it is not shown." : `${n} shared products are no longer available, so they are not shown.`),
    noneLeft: "None of the shared products is available any more.",
    contact: "Contact the shop",
    contactMail: "Your message to the shop. Edit it as you like: nothing is sent until you send it from your mail app.",
    contactPage: "Your message to the shop. Edit it as you like: nothing is sent until you send it on the shop's contact page.",
    contactLabel: "Message to the shop",
    openMail: "Open in my mail app",
    openPage: "Open the shop's contact page",
  },
  de: {
    open: "Unseren Einkaufsassistenten fragen",
    title: "Einkaufsassistent",
    close: "Schließen",
    placeholder: "Fragen zu Produkten, Versand, Rückgabe…",
    label: "Ihre Frage",
    send: "Senden",
    stop: "Stopp",
    stopped: "Angehalten.",
    retry: "Erneut versuchen",
    forget: "Vergiss mich",
    forgotten: "Ihr Verlauf auf dieser Seite wurde gelöscht.",
    privacy: "Läuft auf Ihrem Gerät. Nichts, was Sie eingeben, verlässt es.",
    downloading: (a, b) => `Assistent wird geladen… ${a} von ${b} MB`,
    fromCache: "Assistent wird von diesem Gerät geladen…",
    encoderFailed: (why) => `Die Suche nach Bedeutung ist nicht verfügbar (${why}); die Antworten kommen aus den Wörtern des Katalogs.`,
    preparing: "Wird vorbereitet…",
    why: "Warum diese Vorschläge?",
    compareHead: "Vergleich",
    chipCompare: "Vergleiche sie",
    chipCheaper: "Etwas Günstigeres",
    chipMore: "Zeig mir mehr",
    chipsLabel: "Vorgeschlagene Rückfragen",
    failed: "Etwas ist schiefgegangen",
    policy: "Aus unseren Richtlinien:",
    you: "Sie",
    assistant: "Assistent",
    quick: "Schnelle Antwort aus dem Katalog, während der Assistent lädt; er verfeinert sie dann.",
    was: "regulärer Preis",
    addToCart: "In den Warenkorb",
    added: "Hinzugefügt",
    save: "Merken",
    saved: "Gemerkt",
    savedList: (n) => `Gemerkt (${n})`,
    savedTitle: "Ihre gemerkten Produkte",
    savedEmpty: "Noch nichts gemerkt. Mit „Merken“ bei einem Produkt behalten Sie es hier; es bleibt auf diesem Gerät.",
    share: "Teilen",
    askFriend: "Freunde fragen",
    friendLabel: "Ihre Frage an Ihre Freundin oder Ihren Freund (optional)",
    friendSend: "Mit meiner Frage teilen",
    sharedVia: "Geteilt.",
    copied: "Link in die Zwischenablage kopiert.",
    copyThis: "Diesen Link kopieren:",
    sharedWithYou: "Mit Ihnen geteilt",
    friendAsks: "Ihre Freundin oder Ihr Freund fragt:",
    skipped: (n) => (n === 1 ? "Ein geteiltes Produkt ist nicht mehr erhältlich und wird nicht gezeigt." : `${n} geteilte Produkte sind nicht mehr erhältlich und werden nicht gezeigt.`),
    noneLeft: "Keines der geteilten Produkte ist noch erhältlich.",
    contact: "Den Shop kontaktieren",
    contactMail: "Ihre Nachricht an den Shop. Ändern Sie sie nach Belieben: Nichts wird gesendet, bevor Sie sie in Ihrem Mailprogramm absenden.",
    contactPage: "Ihre Nachricht an den Shop. Ändern Sie sie nach Belieben: Nichts wird gesendet, bevor Sie sie auf der Kontaktseite des Shops absenden.",
    contactLabel: "Nachricht an den Shop",
    openMail: "In meinem Mailprogramm öffnen",
    openPage: "Kontaktseite des Shops öffnen",
  },
  zh: {
    open: "询问购物助手",
    title: "购物助手",
    close: "关闭",
    placeholder: "询问商品、配送、退货……",
    label: "您的问题",
    send: "发送",
    stop: "停止",
    stopped: "已停止。",
    retry: "重试",
    forget: "忘记我",
    forgotten: "您在本店的浏览记录已删除。",
    privacy: "在您的设备上运行，您输入的内容不会离开设备。",
    downloading: (a, b) => `正在下载助手… ${a} / ${b} MB`,
    fromCache: "正在从本设备加载助手…",
    encoderFailed: (why) => `按语义搜索不可用（${why}）；答案来自商品目录中的词语。`,
    preparing: "准备中…",
    why: "为什么推荐这些？",
    compareHead: "对比",
    chipCompare: "比较一下",
    chipCheaper: "有便宜一点的吗",
    chipMore: "还有其他的吗",
    chipsLabel: "建议的追问",
    failed: "出错了",
    policy: "摘自我们的政策：",
    you: "您",
    assistant: "助手",
    quick: "助手加载期间先根据商品目录快速回答，加载完成后会完善。",
    was: "原价",
    addToCart: "加入购物车",
    added: "已加入",
    save: "收藏",
    saved: "已收藏",
    savedList: (n) => `收藏（${n}）`,
    savedTitle: "您收藏的商品",
    savedEmpty: "还没有收藏。点击商品上的“收藏”即可保存在这里，只保存在本设备上。",
    share: "分享",
    askFriend: "问问朋友",
    friendLabel: "想问朋友的问题（可选）",
    friendSend: "附上我的问题分享",
    sharedVia: "已分享。",
    copied: "链接已复制到剪贴板。",
    copyThis: "复制此链接：",
    sharedWithYou: "朋友分享给您的",
    friendAsks: "您的朋友问：",
    skipped: (n) => `有${n}件分享的商品已无法购买，未显示。`,
    noneLeft: "分享的商品都已无法购买。",
    contact: "联系商店",
    contactMail: "您给商店的留言，可随意修改：只有在您的邮件应用中发送后才会发出。",
    contactPage: "您给商店的留言，可随意修改：只有在商店的联系页面上发送后才会发出。",
    contactLabel: "给商店的留言",
    openMail: "在邮件应用中打开",
    openPage: "打开商店的联系页面",
  },
};

/** `el("p", {class: "x"}, "text", child)`: elements from text only, never HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function pageLang() {
  const l = (document.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase();
  return STRINGS[l] ? l : "en";
}

function priceLabel(amount, currency) {
  if (typeof amount !== "number" || !Number.isFinite(amount)) return "";
  const cur = typeof currency === "string" && /^[A-Z]{3}$/.test(currency) ? currency : "USD";
  try {
    return new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "currency", currency: cur }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${cur}`;
  }
}

/** The price a card shows: the catalog's price, and its regular price struck through when on sale. */
function priceNode(p, t) {
  const node = el("p", { class: "price" }, priceLabel(p.price, p.currency));
  const regular = p.regular_price;
  if (typeof regular === "number" && typeof p.price === "number" && regular > p.price) {
    const was = priceLabel(regular, p.currency);
    node.append(" ", el("s", { class: "was", "aria-label": `${t.was} ${was}` }, was));
  }
  return node;
}

export class AisleAssistant extends HTMLElement {
  #client = null; // the Aisle, once the catalog is loaded into it (quick answers)
  #aisle = null; // the same, once its model is ready
  #shopLoading = null;
  #modelLoading = null;
  #products = new Map(); // id -> catalog entry, for cards
  #passages = new Map(); // id -> policy passage, for quotes
  #controller = null;
  #lastQuick = null; // {bubble, text}: the quick answer the model will replace
  #refining = null; // AbortController of a replacement being written
  #ui = {};
  #t = STRINGS.en;
  #uiLang = "en";
  #shopName = "";
  #last = { question: "", products: [] }; // what "Contact the shop" in the menu starts from

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
  }

  connectedCallback() {
    if (this.#ui.root) return;
    listen();
    this.#uiLang = this.getAttribute("data-lang") && this.getAttribute("data-lang") !== "auto" ? this.getAttribute("data-lang") : pageLang();
    this.#t = STRINGS[this.#uiLang] || STRINGS.en;
    this.#build();
    this.#openShare();
    window.addEventListener("hashchange", () => this.#openShare());
  }

  /** The loaded client, once its model is ready (loads on first use). */
  get aisle() {
    return this.#aisle;
  }

  #build() {
    const t = this.#t;
    const ui = this.#ui;
    ui.root = this.shadowRoot;
    ui.root.append(el("link", { rel: "stylesheet", href: CSS_URL }));
    ui.launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "panel", "aria-label": t.open }, el("span", { class: "launcher-icon", "aria-hidden": "true" }, "✦"), el("span", { class: "launcher-text" }, t.title));
    ui.close = el("button", { class: "close", type: "button", "aria-label": t.close }, "×");
    ui.savedList = el("button", { class: "saved-list", type: "button" }, t.savedList(profile.saved().length));
    ui.statusText = el("p", { class: "status-text" });
    ui.progress = el("progress", { max: "1", value: "0" });
    ui.status = el("div", { class: "status", hidden: true }, ui.statusText, ui.progress);
    ui.errorText = el("p", { class: "error-text" });
    ui.retry = el("button", { type: "button", class: "retry" }, t.retry);
    ui.error = el("div", { class: "error", role: "alert", hidden: true }, ui.errorText, ui.retry);
    ui.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t.title });
    ui.input = el("textarea", { id: "q", rows: "2", placeholder: t.placeholder, autocomplete: "off" });
    ui.send = el("button", { type: "submit", class: "send" }, t.send);
    ui.stop = el("button", { type: "button", class: "stop", hidden: true }, t.stop);
    ui.form = el("form", { class: "composer" }, el("label", { for: "q", class: "sr-only" }, t.label), ui.input, ui.send, ui.stop);
    ui.forget = el("button", { type: "button", class: "forget" }, t.forget);
    ui.contact = el("button", { type: "button", class: "contact", hidden: !this.#contact() }, t.contact);
    ui.note = el("p", { class: "note", hidden: true });
    ui.panel = el(
      "section",
      { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-label": t.title, hidden: true },
      el("header", {}, el("h2", {}, t.title), el("div", { class: "header-actions" }, ui.savedList, ui.close)),
      ui.status,
      ui.error,
      ui.note,
      ui.log,
      ui.form,
      el("footer", {}, el("span", { class: "privacy" }, t.privacy), ui.contact, ui.forget),
    );
    ui.root.append(ui.launcher, ui.panel);

    ui.launcher.addEventListener("click", () => (ui.panel.hidden ? this.open() : this.close()));
    ui.close.addEventListener("click", () => this.close());
    ui.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.close();
      }
    });
    ui.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        ui.form.requestSubmit();
      }
    });
    ui.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = ui.input.value.trim();
      if (!text || this.#controller) return;
      ui.input.value = "";
      this.ask(text, { quick: true }).catch(() => {}); // shown in the panel
    });
    ui.stop.addEventListener("click", () => this.#controller?.abort());
    ui.retry.addEventListener("click", () => {
      ui.error.hidden = true;
      this.#ensureLoaded().catch(() => {});
    });
    ui.forget.addEventListener("click", () => {
      profile.forget();
      this.#updateSaved();
      this.#showNote(this.#t.forgotten);
    });
    ui.savedList.addEventListener("click", () => this.#showSaved().catch(() => {}));
    ui.contact.addEventListener("click", () => {
      const box = this.#contactBox(this.#last.question, this.#last.products);
      if (box) this.#say(box);
    });
  }

  /** An assistant message in the log made here (saved items, a share, a contact form). */
  #say(...children) {
    const bubble = this.#bubble();
    bubble.append(...children);
    bubble.setAttribute("aria-busy", "false");
    const log = this.#ui.log;
    log.append(bubble);
    log.scrollTop = Math.max(0, bubble.offsetTop - log.offsetTop - 8); // its start in view
    return bubble;
  }

  open() {
    const ui = this.#ui;
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.input.focus();
    this.#ensureLoaded().catch(() => {});
  }

  close() {
    const ui = this.#ui;
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  #showNote(text) {
    this.#ui.note.textContent = text;
    this.#ui.note.hidden = false;
  }

  #showStatus(text, fraction) {
    const ui = this.#ui;
    ui.status.hidden = false;
    ui.statusText.textContent = text;
    if (fraction == null) ui.progress.removeAttribute("value");
    else ui.progress.value = fraction;
  }

  #fail(message) {
    const ui = this.#ui;
    ui.status.hidden = true;
    ui.error.hidden = false;
    ui.errorText.textContent = `${this.#t.failed}: ${message}`;
  }

  async #fetchText(attr) {
    const url = this.getAttribute(attr);
    if (!url) return null;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.text();
  }

  /** Loads the catalog and policies into a worker, then (in the background) the model. */
  #ensureLoaded() {
    return this.#ensureShop().then((client) => {
      this.#ensureModel().catch(() => {});
      return client;
    });
  }

  /** The worker with the shop loaded: enough for quick answers (a failure can be retried). */
  #ensureShop() {
    this.#shopLoading ??= this.#loadShop().catch((e) => {
      this.#fail(e.message);
      this.#shopLoading = null;
      throw e;
    });
    return this.#shopLoading;
  }

  async #loadShop() {
    const t = this.#t;
    const model = this.getAttribute("data-model");
    if (!model) throw new Error("the data-model attribute is missing");
    this.#showStatus(t.preparing, null);
    const mb = (n) => (n / 1e6).toFixed(1);
    const client = Aisle.create({
      model,
      sha256: this.getAttribute("data-sha256") || undefined,
      backend: this.getAttribute("data-backend") || "auto",
      workerUrl: this.getAttribute("data-worker") || undefined,
      onNote: (text) => this.#showNote(text),
      // A sharded catalog (data-catalog-index) arrives product by product, as requests find them.
      onProducts: (products) => this.#addProducts(products),
      onProgress: ({ phase, loaded, total }) => {
        if (phase === "download") this.#showStatus(t.downloading(mb(loaded), total ? mb(total) : "?"), total ? loaded / total : null);
        else if (phase === "cache") this.#showStatus(t.fromCache, total ? loaded / total : null);
        else if (phase === "prepare") this.#showStatus(t.preparing, null);
      },
    });
    try {
      const index = this.getAttribute("data-catalog-index");
      const [catalogText, policiesText] = await Promise.all([index ? null : this.#fetchText("data-catalog"), this.#fetchText("data-policies")]);
      // The worker reads a product feed (Merchant Center, Shopify, WooCommerce, JSON-LD) into our
      // catalog; the cards come from what it read.
      const currency = this.getAttribute("data-currency") || undefined;
      this.#products = new Map();
      if (index) {
        await client.setShardedShop(index, policiesText);
        this.#shopName = oneLine(client.shardedShop?.name, 80) || location.hostname;
      } else {
        await client.setShop(catalogText || '{"products":[]}', policiesText, { currency });
        const catalog = JSON.parse(client.importedCatalog ?? (catalogText || '{"products":[]}'));
        this.#shopName = oneLine(catalog.shop?.name, 80) || location.hostname;
        this.#addProducts(catalog.products);
      }
      this.#passages = new Map();
      if (policiesText) for (const p of JSON.parse(policiesText).passages || []) if (p && typeof p.id === "string") this.#passages.set(p.id, p);
    } catch (e) {
      client.dispose();
      throw e;
    }
    this.#client = client;
    this.#loadEncoder(client);
    // Bubbles, so the page can tell (the demo registers its service worker then).
    this.dispatchEvent(new CustomEvent("aisle-shop-ready", { bubbles: true, detail: { products: this.#products.size } }));
    return client;
  }

  /** Catalog entries for cards (untrusted: rendered as text, links checked when shown). */
  #addProducts(products) {
    for (const p of products || []) {
      if (p && (typeof p.id === "string" || typeof p.id === "number")) this.#products.set(String(p.id), p);
    }
  }

  /**
   * The sentence encoder (data-encoder, data-encoder-sha256), when the page names one: from
   * then on retrieval finds products by meaning as well as words. Its failure is a note, not an
   * error: words alone still answer.
   */
  #loadEncoder(client) {
    const url = this.getAttribute("data-encoder");
    if (!url) return;
    this.encoderReady = client
      .loadEncoder({ url, sha256: this.getAttribute("data-encoder-sha256") || undefined })
      .then(
        (r) => {
          this.dispatchEvent(new CustomEvent("aisle-encoder-ready", { bubbles: true, detail: r }));
          return r;
        },
        (e) => {
          this.#showNote(this.#t.encoderFailed(e.message));
          return null;
        },
      );
  }

  /** The model, loaded once the shop is (so its download does not delay the quick answers). */
  #ensureModel() {
    this.#modelLoading ??= this.#ensureShop()
      .then((client) => client.loadModel().then(() => client))
      .then((client) => {
        this.#aisle = client;
        this.#ui.status.hidden = true;
        this.dispatchEvent(new CustomEvent("aisle-ready", { detail: { backend: client.backend, loadMs: client.loadMs } }));
        this.#refine();
        return client;
      })
      .catch((e) => {
        this.#fail(e.message);
        this.#modelLoading = null;
        if (this.#client?.dead) this.#client = this.#shopLoading = null; // Retry starts a new worker
        throw e;
      });
    return this.#modelLoading;
  }

  #lang() {
    const l = this.getAttribute("data-lang");
    return l && l !== "auto" ? l : undefined;
  }

  /**
   * Answers `text` in the panel; resolves to `{text, products, quick}` when complete (or
   * stopped). With `quick: true` (what the panel's own input does), a question asked before
   * the model is ready gets the quick answer from the catalog instead of waiting.
   */
  async ask(text, { quick = false } = {}) {
    const ui = this.#ui;
    const client = await this.#ensureLoaded();
    if (!quick) await this.#ensureModel();
    this.#refining?.abort(); // a newer question matters more than refining an older answer
    ui.log.append(el("div", { class: "msg user" }, el("span", { class: "sr-only" }, `${this.#t.you}: `), text));
    const bubble = this.#bubble();
    ui.log.append(bubble);
    const controller = new AbortController();
    this.#controller = controller;
    ui.stop.hidden = false;
    ui.send.disabled = true;
    let result;
    let step = null;
    try {
      step = await client.session().respond(text);
      result = await this.#write(bubble, client, step, controller.signal, true, text);
    } catch (e) {
      bubble.append(el("p", { class: "error-text" }, `${this.#t.failed}: ${e.message}`));
      if (client.dead) {
        // The worker is gone (it crashed): show the error with Retry, which loads it anew.
        this.#client = this.#aisle = null;
        this.#shopLoading = this.#modelLoading = null;
        this.#fail(e.message);
      }
      throw e;
    } finally {
      bubble.setAttribute("aria-busy", "false");
      this.#controller = null;
      ui.stop.hidden = true;
      ui.send.disabled = false;
    }
    this.#lastQuick = result.quick ? { bubble, step, text } : null;
    this.#last = { question: text, products: result.products };
    this.dispatchEvent(new CustomEvent("aisle-done", { detail: result }));
    if (result.quick && this.#aisle) this.#refine(); // the model arrived while it was written
    return result;
  }

  /** An empty assistant message, busy until written. */
  #bubble() {
    return el("div", { class: "msg assistant", "aria-busy": "true" }, el("span", { class: "sr-only" }, `${this.#t.assistant}: `));
  }

  /**
   * Writes the answer to `step` (the shopper's `question`) into `bubble`: the model's,
   * streamed, once it is ready; before that the quick one. `visible` says whether each piece
   * is announced (aisle-token).
   */
  async #write(bubble, client, step, signal, visible, question) {
    const events = profile.events();
    const lang = this.#lang();
    // A reply the conversation made from the catalog's data needs no model: it is never quick.
    const quick = !client.modelReady && step.step !== "said";
    if (quick) bubble.append(el("p", { class: "quick" }, this.#t.quick));
    const stream = await client.session().run(step, { events, quick, signal }); // the turn carries its language
    const body = el("p", { class: "text" });
    bubble.append(body);
    let full = "";
    const products = [];
    let target = body; // where text goes: the intro paragraph, then each card's reason
    let heading = false; // the text event right after a product repeats its title: the card shows it
    let passages = 0;
    for await (const ev of stream) {
      if (ev.type === "text") {
        full += ev.text;
        if (!heading) target.append(document.createTextNode(ev.text));
        heading = false;
        if (visible) this.dispatchEvent(new CustomEvent("aisle-token", { detail: { text: ev.text } }));
      } else if (ev.type === "product") {
        const card = this.#card(ev.id);
        if (card) {
          products.push(ev.id);
          bubble.append(card.node);
          target = card.reason;
          heading = true;
        }
      } else if (ev.type === "compare") {
        const table = this.#comparison(ev.products, ev.rows);
        if (table) bubble.append(table);
        products.push(...ev.products.filter((id) => this.#products.has(id)));
      } else if (ev.type === "chips") {
        bubble.append(this.#chips(ev.chips));
      } else if (ev.type === "passage") {
        // The answer's text is the passage's own sentences: the quote names where they come
        // from, by the passage's title in the answer's language.
        const p = this.#passages.get(ev.id);
        const l = step.lang || lang;
        const source = (l && p?.i18n?.[l]?.title) || p?.title || p?.text;
        if (p) bubble.append(el("blockquote", { class: "passage", "data-passage-id": ev.id }, el("strong", {}, this.#t.policy + " "), String(source)));
        if (p) passages++;
      } else if (ev.type === "cart") {
        // "Add the second one to my cart": what the card's own button does (a link stays a link to tap).
        const button = [...bubble.querySelectorAll(".card")].find((c) => c.getAttribute("data-product-id") === ev.id)?.querySelector("button.add");
        button?.click();
      }
      if (visible) this.#ui.log.scrollTop = this.#ui.log.scrollHeight;
    }
    const kind = step.step === "said" ? step.kind : step.step;
    if (signal.aborted) bubble.append(el("p", { class: "stopped" }, this.#t.stopped));
    else {
      const next = this.#followUps(step, products);
      if (next.length) bubble.append(this.#chips(next, "follow-ups"));
      if (products.length && (kind === "suggest" || kind === "compare" || kind === "product")) bubble.append(this.#shareRow(products));
      // "I don't know" (nothing sold fits, no policy says, the product's data does not tell): the shop may.
      const unknown = (kind === "suggest" && !products.length) || (kind === "answer" && !passages) || step.unknown === true;
      if (unknown && this.#contact()) bubble.append(this.#contactButton(question, products));
    }
    if (step.step === "suggest" && products.length) {
      const why = el("button", { type: "button", class: "why" }, this.#t.why);
      why.addEventListener("click", async () => {
        const plan = await client.explain(step.request, { events, lang });
        why.replaceWith(el("p", { class: "explain" }, this.#explain(plan)));
      });
      bubble.append(why);
    }
    return { text: full, products, quick, kind };
  }

  /**
   * A comparison table: a column per product (its title from the catalog), a row per attribute
   * the products share, values as the catalog has them ("–" where one lacks it). All text.
   */
  #comparison(ids, rows) {
    const known = ids.map((id) => this.#products.get(id));
    if (known.some((p) => !p)) return null;
    const head = el("tr", {}, el("th", { scope: "col" }, this.#t.compareHead), ...known.map((p) => el("th", { scope: "col" }, String(p.title))));
    const body = rows.map((r) => el("tr", {}, el("th", { scope: "row" }, String(r.name)), ...r.values.map((v) => el("td", {}, v == null ? "–" : String(v)))));
    return el("table", { class: "compare" }, el("thead", {}, head), el("tbody", {}, ...body));
  }

  /**
   * Up to three follow-ups the answer makes useful, each a phrase the conversation reads:
   * compare (two or more shown), something cheaper (only when the catalog has an in-stock
   * product of a shown product's category below the cheapest shown), show me more (after a
   * search). None after a question back, which has its own chips.
   */
  #followUps(step, products) {
    const kind = step.step === "said" ? step.kind : step.step;
    if (!products.length || kind === "clarify" || kind === "answer" || kind === "none" || kind === "cart") return [];
    const t = this.#t;
    const out = [];
    const shown = products.map((id) => this.#products.get(id)).filter(Boolean);
    if (kind === "suggest" && shown.length >= 2) out.push(t.chipCompare);
    const cheapest = Math.min(...shown.map((p) => Number(p.price)).filter(Number.isFinite));
    const cats = new Set(shown.flatMap((p) => (Array.isArray(p.categories) ? p.categories : [])));
    // Without a price shown there is nothing to be cheaper than.
    const cheaper = Number.isFinite(cheapest) && [...this.#products.values()].some(
      (p) => p.in_stock !== false && Number(p.price) < cheapest && (p.categories || []).some((c) => cats.has(c)) && !products.includes(String(p.id)),
    );
    if (cheaper) out.push(t.chipCheaper);
    if (kind === "suggest") out.push(t.chipMore);
    return out.slice(0, 3);
  }

  /** Chips the shopper can send with one tap (or Enter on the focused button). */
  #chips(chips, kind = "question") {
    const row = el("div", { class: `chips ${kind}`, role: "group", "aria-label": this.#t.chipsLabel });
    for (const c of chips) {
      const b = el("button", { type: "button", class: "chip" }, String(c));
      b.addEventListener("click", () => {
        if (!this.#controller) this.ask(String(c), { quick: true }).catch(() => {});
      });
      row.append(b);
    }
    return row;
  }

  /**
   * Once the model is ready, the latest quick answer is replaced by the model's: written off
   * screen and swapped in whole (the same cards, the reasons the model chose), so nothing
   * flickers. A newer question cancels it and the quick answer stays.
   */
  async #refine() {
    const last = this.#lastQuick;
    if (!last || !this.#aisle || this.#controller || !last.bubble.isConnected) return;
    this.#lastQuick = null;
    const controller = new AbortController();
    this.#refining = controller;
    const fresh = this.#bubble();
    try {
      const result = await this.#write(fresh, this.#aisle, last.step, controller.signal, false, last.text);
      if (controller.signal.aborted || !last.bubble.isConnected) return;
      fresh.setAttribute("aria-busy", "false");
      last.bubble.replaceWith(fresh);
      this.dispatchEvent(new CustomEvent("aisle-done", { detail: { ...result, refined: true } }));
    } catch {
      // The quick answer stays as it was.
    } finally {
      if (this.#refining === controller) this.#refining = null;
    }
  }

  /** The loaded Aisle (the API behind the panel), or null before loading and after a crash. */
  get assistant() {
    return this.#aisle ?? null;
  }

  /** Stops the answer being written. */
  stop() {
    this.#controller?.abort();
  }

  /** A product card from the catalog entry `id` (null for an id the catalog lacks). */
  #card(id) {
    const p = this.#products.get(id);
    if (!p) return null;
    const title = this.#title(p);
    const href = safeUrl(p.url);
    const src = safeUrl(p.image);
    const img = el("img", { alt: "", loading: "lazy", width: "64", height: "64" });
    if (src) img.src = src;
    const heading = el("h3", {}, href ? el("a", { href, rel: "noopener" }, title) : title);
    const reason = el("p", { class: "reason" });
    const actions = el("div", { class: "actions" }, this.#cartControl(id, title), this.#saveControl(id, title));
    const body = el("div", { class: "card-body" }, heading, priceNode(p, this.#t), reason, actions);
    const node = el("article", { class: "card", "data-product-id": id }, img, body);
    return { node, reason };
  }

  /**
   * "Add to cart" on a card. With `data-cart-url` (a template with `{id}` and `{quantity}`, for
   * example Shopify's `/cart/{id}:{quantity}`) it is a link, followed only when http(s) or
   * same-origin like every card link; otherwise a button that dispatches `aisle:add-to-cart` on
   * `document` with `{id, quantity: 1, source: "assistant"}`, for the shop's own cart code.
   */
  #cartControl(id, title) {
    const t = this.#t;
    const label = `${t.addToCart}: ${title}`;
    const template = this.getAttribute("data-cart-url");
    if (template) {
      const href = cartLink(template, id, 1, attribution(this.getAttribute("data-cart-attribution")));
      return href ? el("a", { class: "add", href, "aria-label": label }, t.addToCart) : "";
    }
    const button = el("button", { type: "button", class: "add", "aria-label": label }, t.addToCart);
    button.addEventListener("click", () => {
      document.dispatchEvent(new CustomEvent("aisle:add-to-cart", { bubbles: true, composed: true, detail: { id, quantity: 1, source: "assistant" } }));
      button.textContent = t.added;
    });
    return button;
  }

  /** A product's title in the shopper's language, from the catalog. */
  #title(p) {
    return String(this.#uiLang !== "en" && p.i18n?.[this.#uiLang]?.title ? p.i18n[this.#uiLang].title : p.title ?? p.id);
  }

  /** "Save" on a card: keeps the product id on this device (pressed again, forgets it). */
  #saveControl(id, title) {
    const t = this.#t;
    const button = el("button", { type: "button", class: "save", "aria-label": `${t.save}: ${title}` });
    const show = (on) => {
      button.textContent = on ? t.saved : t.save;
      button.setAttribute("aria-pressed", String(on));
    };
    show(profile.saved().includes(id));
    button.addEventListener("click", () => {
      show(profile.toggleSaved(id));
      this.#updateSaved();
    });
    return button;
  }

  #updateSaved() {
    this.#ui.savedList.textContent = this.#t.savedList(profile.saved().length);
  }

  /** The saved products as cards (those this catalog still has), with Share. */
  async #showSaved() {
    await this.#ensureShop();
    const t = this.#t;
    const ids = profile.saved().filter((id) => this.#products.has(id));
    const cards = ids.map((id) => this.#card(id).node);
    const bubble = this.#say(el("p", { class: "text saved-head" }, ids.length ? t.savedTitle : t.savedEmpty), ...cards);
    bubble.classList.add("saved");
    if (ids.length) bubble.append(this.#shareRow(ids));
    this.#last = { question: "", products: ids };
  }

  /** "Share" and "Ask a friend" under products: a link with their ids in its fragment. */
  #shareRow(ids) {
    const t = this.#t;
    const status = el("p", { class: "share-status", role: "status" });
    const share = el("button", { type: "button", class: "share" }, t.share);
    const ask = el("button", { type: "button", class: "ask-friend" }, t.askFriend);
    share.addEventListener("click", () => this.#share(ids, "", status));
    ask.addEventListener("click", () => {
      const question = el("textarea", { class: "friend-question", rows: "2", maxlength: String(MAX_QUESTION), "aria-label": t.friendLabel, placeholder: t.friendLabel });
      const send = el("button", { type: "button", class: "share-question" }, t.friendSend);
      send.addEventListener("click", () => this.#share(ids, question.value, status));
      ask.replaceWith(el("div", { class: "friend" }, question, send));
      question.focus();
    });
    return el("div", { class: "share-row" }, el("div", { class: "share-buttons" }, share, ask), status);
  }

  /** Hands the share link to the share sheet or the clipboard, and says which (or shows the link). */
  async #share(ids, question, status) {
    const t = this.#t;
    const titles = ids.map((id) => this.#products.get(id)).filter(Boolean).map((p) => this.#title(p));
    const url = shareLink(location.href, ids, question);
    const via = await deliver({ title: this.#shopName, text: shareText(this.#uiLang, this.#shopName, titles, question), url });
    if (via === "share") status.replaceChildren(t.sharedVia);
    else if (via === "clipboard") status.replaceChildren(t.copied);
    else if (via === "none") status.replaceChildren(`${t.copyThis} `, el("span", { class: "share-url" }, url));
    else status.replaceChildren();
  }

  /**
   * A page opened from a share link: "Shared with you" (and the friend's question) with the
   * products this page's catalog has in stock; the fragment then leaves the address bar. A
   * fragment that is not a share of ours is left alone; a malformed one is dropped.
   */
  #openShare() {
    if (!isShareFragment(location.hash)) return;
    const share = readShare(location.hash);
    try {
      history.replaceState(history.state, "", location.pathname + location.search);
    } catch {
      // a sandboxed page may refuse: the share still shows
    }
    if (!share) return;
    this.open();
    this.#ensureShop()
      .then(() => this.#showShared(share))
      .catch(() => {}); // shown in the panel
  }

  #showShared({ ids, question }) {
    const t = this.#t;
    const shown = ids.filter((id) => this.#products.has(id) && this.#products.get(id).in_stock !== false);
    const parts = [el("p", { class: "text shared-head" }, el("strong", {}, t.sharedWithYou))];
    if (question) parts.push(el("p", { class: "friend-asks" }, `${t.friendAsks} `, el("q", {}, question)));
    parts.push(...shown.map((id) => this.#card(id).node));
    const skipped = ids.length - shown.length;
    if (skipped) parts.push(el("p", { class: "skipped" }, shown.length ? t.skipped(skipped) : t.noneLeft));
    this.#say(...parts).classList.add("shared");
    this.#last = { question, products: shown };
    // The conversation knows what is on screen: "add the second one to my cart" works next.
    if (shown.length) this.#client?.session().shown(shown).catch(() => {});
    this.dispatchEvent(new CustomEvent("aisle-shared", { bubbles: true, detail: { products: shown, skipped } }));
  }

  /** The shop's contact (data-contact), if it is one we may link to. */
  #contact() {
    return contactTarget(this.getAttribute("data-contact"));
  }

  /** "Contact the shop" under an answer that could not tell: opens the message to edit. */
  #contactButton(question, ids) {
    const button = el("button", { type: "button", class: "contact-shop" }, this.#t.contact);
    button.addEventListener("click", () => {
      const box = this.#contactBox(question, ids);
      if (box) button.replaceWith(box);
    });
    return button;
  }

  /**
   * The message to the shop, pre-filled with the question and the products in view, for the
   * shopper to edit; the link under it hands it to their mail app or the shop's contact page.
   */
  #contactBox(question, ids) {
    const contact = this.#contact();
    if (!contact) return null;
    const t = this.#t;
    const products = ids.map((id) => this.#products.get(id)).filter(Boolean).map((p) => ({ title: this.#title(p), url: safeUrl(p.url) }));
    const message = el("textarea", { class: "contact-message", rows: "7", "aria-label": t.contactLabel });
    message.value = draftMessage(this.#uiLang, oneLine(question, 500), products);
    const link = el("a", { class: "contact-send", rel: "noopener" }, contact.kind === "mail" ? t.openMail : t.openPage);
    const update = () => {
      const href = contactLink(contact, this.#uiLang, message.value);
      if (href) link.setAttribute("href", href);
      else link.removeAttribute("href");
    };
    message.addEventListener("input", update);
    update();
    return el("div", { class: "handoff" }, el("p", {}, contact.kind === "mail" ? t.contactMail : t.contactPage), message, link);
  }

  #explain(plan) {
    const parts = [];
    const c = plan.constraints || {};
    if (c.maxPrice != null) parts.push(`budget up to ${Number(c.maxPrice).toFixed(2)}`);
    if (c.minPrice != null) parts.push(`from ${Number(c.minPrice).toFixed(2)}`);
    if (c.colors?.length) parts.push(`colour: ${c.colors.join(", ")}`);
    if (c.size) parts.push(`size ${c.size}`);
    if (plan.profileCategories?.length) parts.push(`you looked at: ${plan.profileCategories.join(", ")}`);
    const head = "These products matched the words of your request in our catalog";
    return parts.length ? `${head}; ${parts.join("; ")}.` : `${head}.`;
  }
}

export function defineElement() {
  if (!customElements.get("aisle-assistant")) customElements.define("aisle-assistant", AisleAssistant);
}
