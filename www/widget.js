// <aisle-assistant>: the shopping assistant a shop embeds. A launcher button and a chat panel
// in Shadow DOM (no CSS leaks either way), streaming answers, product cards drawn from the
// shop's catalog, keyboard-only use, and a scriptable API for checks:
//
//   const { text, products } = await el.ask("a gift for a 10-year-old under $40");
//   el.addEventListener("aisle-token", (e) => e.detail.text);   // each streamed piece
//   el.addEventListener("aisle-done", (e) => e.detail);         // {text, products}
//
// Attributes: data-model, data-sha256, data-catalog, data-policies, data-lang ("auto", "en",
// "de", "zh"), data-backend ("auto", "webgpu", "cpu"). Theming: --aisle-accent, --aisle-bg,
// --aisle-fg, --aisle-muted, --aisle-radius, --aisle-font.
//
// Untrusted text (model output, catalog fields) only ever becomes text nodes; links and images
// on cards come from the catalog and are followed only when http(s) or same-origin relative.

import { Aisle } from "./client.js";
import { profile, listen } from "./profile.js";

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
    preparing: "Preparing…",
    why: "Why these suggestions?",
    failed: "Something went wrong",
    policy: "From our policy:",
    you: "You",
    assistant: "Assistant",
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
    preparing: "Wird vorbereitet…",
    why: "Warum diese Vorschläge?",
    failed: "Etwas ist schiefgegangen",
    policy: "Aus unseren Richtlinien:",
    you: "Sie",
    assistant: "Assistent",
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
    preparing: "准备中…",
    why: "为什么推荐这些？",
    failed: "出错了",
    policy: "摘自我们的政策：",
    you: "您",
    assistant: "助手",
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

/** A catalog link we may follow: http(s) (incl. same-origin relative). Anything else: null. */
export function safeUrl(raw) {
  if (typeof raw !== "string" || !raw.trim() || raw.length > 2048) return null;
  if (/[\u0000-\u001f\u007f]/.test(raw) || /^\s*[\\/]{2}/.test(raw)) return null; // no protocol-relative hosts
  try {
    const u = new URL(raw.trim(), document.baseURI);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

function pageLang() {
  const l = (document.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase();
  return STRINGS[l] ? l : "en";
}

function priceLabel(p) {
  if (typeof p.price !== "number" || !Number.isFinite(p.price)) return "";
  const cur = typeof p.currency === "string" && /^[A-Z]{3}$/.test(p.currency) ? p.currency : "USD";
  try {
    return new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "currency", currency: cur }).format(p.price);
  } catch {
    return `${p.price.toFixed(2)} ${cur}`;
  }
}

export class AisleAssistant extends HTMLElement {
  #aisle = null;
  #loading = null;
  #products = new Map(); // id -> catalog entry, for cards
  #passages = new Map(); // id -> policy passage, for quotes
  #controller = null;
  #ui = {};
  #t = STRINGS.en;
  #uiLang = "en";

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
  }

  /** The loaded client (loads on first use). */
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
    ui.note = el("p", { class: "note", hidden: true });
    ui.panel = el(
      "section",
      { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-label": t.title, hidden: true },
      el("header", {}, el("h2", {}, t.title), ui.close),
      ui.status,
      ui.error,
      ui.note,
      ui.log,
      ui.form,
      el("footer", {}, el("span", { class: "privacy" }, t.privacy), ui.forget),
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
      this.ask(text).catch(() => {}); // shown in the panel
    });
    ui.stop.addEventListener("click", () => this.#controller?.abort());
    ui.retry.addEventListener("click", () => {
      ui.error.hidden = true;
      this.#loading = null;
      this.#ensureLoaded().catch(() => {});
    });
    ui.forget.addEventListener("click", () => {
      profile.forget();
      this.#showNote(this.#t.forgotten);
    });
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

  /** Loads the model, the catalog and the policies once (retry resets it). */
  #ensureLoaded() {
    if (!this.#loading) {
      this.#loading = this.#load().catch((e) => {
        this.#fail(e.message);
        this.#loading = null;
        throw e;
      });
    }
    return this.#loading;
  }

  async #load() {
    const t = this.#t;
    const model = this.getAttribute("data-model");
    if (!model) throw new Error("the data-model attribute is missing");
    this.#showStatus(t.preparing, null);
    const [catalogText, policiesText] = await Promise.all([this.#fetchText("data-catalog"), this.#fetchText("data-policies")]);
    this.#products = new Map();
    for (const p of JSON.parse(catalogText || '{"products":[]}').products || []) {
      if (p && (typeof p.id === "string" || typeof p.id === "number")) this.#products.set(String(p.id), p);
    }
    this.#passages = new Map();
    if (policiesText) for (const p of JSON.parse(policiesText).passages || []) if (p && typeof p.id === "string") this.#passages.set(p.id, p);
    const mb = (n) => (n / 1e6).toFixed(1);
    const aisle = await Aisle.load({
      model,
      sha256: this.getAttribute("data-sha256") || undefined,
      backend: this.getAttribute("data-backend") || "auto",
      onNote: (text) => this.#showNote(text),
      onProgress: ({ phase, loaded, total }) => {
        if (phase === "download") this.#showStatus(t.downloading(mb(loaded), total ? mb(total) : "?"), total ? loaded / total : null);
        else if (phase === "cache") this.#showStatus(t.fromCache, total ? loaded / total : null);
        else if (phase === "prepare") this.#showStatus(t.preparing, null);
      },
    });
    await aisle.setShop(catalogText || '{"products":[]}', policiesText);
    this.#aisle = aisle;
    this.#ui.status.hidden = true;
    this.dispatchEvent(new CustomEvent("aisle-ready", { detail: { backend: aisle.backend, loadMs: aisle.loadMs } }));
    return aisle;
  }

  #lang() {
    const l = this.getAttribute("data-lang");
    return l && l !== "auto" ? l : undefined;
  }

  /** Answers `text` in the panel; resolves to `{text, products}` when complete (or stopped). */
  async ask(text) {
    const ui = this.#ui;
    await this.#ensureLoaded();
    const aisle = this.#aisle;
    ui.log.append(el("div", { class: "msg user" }, el("span", { class: "sr-only" }, `${this.#t.you}: `), text));
    const bubble = el("div", { class: "msg assistant", "aria-busy": "true" }, el("span", { class: "sr-only" }, `${this.#t.assistant}: `));
    const body = el("p", { class: "text" });
    bubble.append(body);
    ui.log.append(bubble);
    const controller = new AbortController();
    this.#controller = controller;
    ui.stop.hidden = false;
    ui.send.disabled = true;
    let full = "";
    const products = [];
    let target = body; // where text goes: the intro paragraph, then each card's reason
    let heading = false; // the text event right after a product repeats its title: the card shows it
    const events = profile.events();
    try {
      const route = await aisle.route(text);
      const stream = route === "answer" ? aisle.answer(text, { lang: this.#lang(), signal: controller.signal }) : aisle.suggest(text, { events, lang: this.#lang(), signal: controller.signal });
      for await (const ev of stream) {
        if (ev.type === "text") {
          full += ev.text;
          if (!heading) target.append(document.createTextNode(ev.text));
          heading = false;
          this.dispatchEvent(new CustomEvent("aisle-token", { detail: { text: ev.text } }));
        } else if (ev.type === "product") {
          const card = this.#card(ev.id);
          if (card) {
            products.push(ev.id);
            bubble.append(card.node);
            target = card.reason;
            heading = true;
          }
        } else if (ev.type === "passage") {
          const p = this.#passages.get(ev.id);
          if (p) bubble.append(el("blockquote", { class: "passage", "data-passage-id": ev.id }, el("strong", {}, this.#t.policy + " "), String(p.text)));
        }
        ui.log.scrollTop = ui.log.scrollHeight;
      }
      if (controller.signal.aborted) bubble.append(el("p", { class: "stopped" }, this.#t.stopped));
      if (route === "suggest" && products.length) {
        const why = el("button", { type: "button", class: "why" }, this.#t.why);
        why.addEventListener("click", async () => {
          const plan = await aisle.explain(text, { events, lang: this.#lang() });
          why.replaceWith(el("p", { class: "explain" }, this.#explain(plan)));
        });
        bubble.append(why);
      }
    } catch (e) {
      bubble.append(el("p", { class: "error-text" }, `${this.#t.failed}: ${e.message}`));
      if (aisle.dead) {
        // The worker is gone (it crashed): show the error with Retry, which loads it anew.
        this.#aisle = null;
        this.#loading = null;
        this.#fail(e.message);
      }
      throw e;
    } finally {
      bubble.setAttribute("aria-busy", "false");
      this.#controller = null;
      ui.stop.hidden = true;
      ui.send.disabled = false;
    }
    const result = { text: full, products };
    this.dispatchEvent(new CustomEvent("aisle-done", { detail: result }));
    return result;
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
    const title = String(this.#uiLang !== "en" && p.i18n?.[this.#uiLang]?.title ? p.i18n[this.#uiLang].title : p.title ?? id);
    const href = safeUrl(p.url);
    const src = safeUrl(p.image);
    const img = el("img", { alt: "", loading: "lazy", width: "64", height: "64" });
    if (src) img.src = src;
    const heading = el("h3", {}, href ? el("a", { href, rel: "noopener" }, title) : title);
    const reason = el("p", { class: "reason" });
    const node = el("article", { class: "card", "data-product-id": id }, img, el("div", { class: "card-body" }, heading, el("p", { class: "price" }, priceLabel(p)), reason));
    return { node, reason };
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
