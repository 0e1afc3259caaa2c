// The embed in a real headless Chromium, served with the strict Content-Security-Policy a shop
// would send: the demo shop, a hostile catalog, keyboard use, caching, offline, screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";
import { REPO, instrument, inspectWidget, PAYLOADS } from "./util.mjs";
import { coldVisit, unthrottle } from "./cold.mjs";

const SHOTS = path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, "target"), "screenshots");
const catalog = JSON.parse(readFileSync(path.join(REPO, "demo/catalog.json"), "utf8"));
const ids = new Set(catalog.products.map((p) => p.id));

let server;
let browser;

async function openDemo(page, pathname = "/") {
  await page.goto(`${server.url}${pathname}`);
  await page.waitForFunction(() => customElements.get("aisle-assistant") && document.querySelector("aisle-assistant"));
}

/** Calls el.ask(text) in the page; resolves to {text, products, cards}. */
function ask(page, text) {
  return page.evaluate(async (t) => {
    const el = document.querySelector("aisle-assistant");
    const r = await el.ask(t);
    const cards = [...el.shadowRoot.querySelectorAll(".card")].map((c) => c.getAttribute("data-product-id"));
    return { ...r, cards };
  }, text);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await serve({ port: 0, csp: true });
  browser = await launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the demo shop: one tag, suggestions with real cards, stop, keyboard, screenshots, no CSP violation", { timeout: 900_000 }, async () => {
  const errors = [];
  const page = await browser.context.newPage();
  await instrument(page, errors);
  await openDemo(page);
  await page.screenshot({ path: path.join(SHOTS, "launcher-closed.png") });

  // Keyboard only: Tab to the launcher, Enter opens, focus lands in the input.
  const host = page.locator("aisle-assistant");
  await host.locator(".launcher").focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !document.querySelector("aisle-assistant").shadowRoot.querySelector(".panel").hidden);
  assert.equal(await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.activeElement?.id), "q");
  await page.waitForFunction(() => document.querySelector("aisle-assistant").aisle, null, { timeout: 600_000 });

  // Typing and Enter sends; the answer streams in with cards.
  await page.keyboard.type("running shoes under $100");
  const tokens = page.evaluate(
    () =>
      new Promise((resolve) => {
        const el = document.querySelector("aisle-assistant");
        let n = 0;
        el.addEventListener("aisle-token", () => n++);
        el.addEventListener("aisle-done", (e) => resolve({ n, ...e.detail }), { once: true });
      }),
  );
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".card").length > 0, null, { timeout: 300_000 });
  await page.screenshot({ path: path.join(SHOTS, "panel-mid-answer.png") });
  const done = await tokens;
  assert.ok(done.n >= 3, `streamed in ${done.n} pieces`);
  assert.ok(done.products.length >= 1, "at least one product card");
  for (const id of done.products) {
    assert.ok(ids.has(id), `${id} is in the catalog`);
    const p = catalog.products.find((x) => x.id === id);
    assert.ok(p.price <= 100, `${id} costs ${p.price}, over the stated budget`);
  }
  const cardTitles = await page.evaluate(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".card h3")].map((h) => h.textContent));
  for (const [i, id] of done.products.entries()) assert.equal(cardTitles.at(-done.products.length + i), catalog.products.find((x) => x.id === id).title);

  // The scriptable API.
  const r = await ask(page, "a gift for a 10-year-old who loves science");
  assert.ok(r.text.length > 0);
  for (const id of r.products) assert.ok(ids.has(id));
  assert.deepEqual(r.cards.slice(-r.products.length), r.products);

  // A service question gets a quoted policy passage.
  const q = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const res = await el.ask("How many days do I have to return an item?");
    return { ...res, passages: [...el.shadowRoot.querySelectorAll(".passage")].map((p) => p.getAttribute("data-passage-id")) };
  });
  assert.deepEqual(q.products, []);
  assert.ok(q.passages.length >= 1, "quotes a policy passage");

  // The stop button ends an answer.
  const stopped = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const stop = el.shadowRoot.querySelector(".stop");
    el.addEventListener("aisle-token", () => stop.click(), { once: true });
    const res = await el.ask("Tell me about your tents and sleeping bags for a family camping trip");
    return { text: res.text, stopHidden: stop.hidden };
  });
  assert.ok(stopped.stopHidden, "the stop button hides when the answer ends");

  // Esc closes and gives focus back to the launcher.
  await host.locator("textarea").focus();
  await page.keyboard.press("Escape");
  assert.equal(await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".panel").hidden), true);
  assert.equal(await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.activeElement?.className), "launcher");

  // A phone-sized viewport: the open panel fills the screen.
  await page.setViewportSize({ width: 390, height: 780 });
  await page.keyboard.press("Enter");
  const box = await host.locator(".panel").boundingBox();
  assert.ok(box.width >= 380 && box.height >= 700, `panel ${box.width}x${box.height} on a phone`);
  await page.screenshot({ path: path.join(SHOTS, "phone-panel-open.png") });

  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("second visit: weights come from the cache, progress goes straight to ready; offline reload answers", { timeout: 900_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  await instrument(page, errors);
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await openDemo(page);
  const phases = await page.evaluate(async () => {
    const { Aisle } = await import("/www/aisle.js");
    const seen = [];
    const el = document.querySelector("aisle-assistant");
    const t0 = performance.now();
    const a = await Aisle.load({ model: el.getAttribute("data-model"), sha256: el.getAttribute("data-sha256"), backend: "cpu", onProgress: (p) => seen.push(p.phase) });
    const ms = performance.now() - t0;
    a.dispose();
    return { seen: [...new Set(seen)], ms };
  });
  assert.ok(!phases.seen.includes("download"), `phases: ${phases.seen}`);
  assert.ok(phases.seen.includes("cache"), `phases: ${phases.seen}`);
  assert.equal(requests.filter((u) => u.endsWith(".gguf")).length, 0, "no request for the weights");
  console.log(`cached load: ${phases.ms.toFixed(0)} ms`);

  // Offline: the service worker serves the shop and the assistant, the worker its cached weights.
  await page.waitForFunction(() => navigator.serviceWorker?.controller, null, { timeout: 120_000 }).catch(() => {});
  await page.evaluate(() => navigator.serviceWorker.ready);
  await browser.context.setOffline(true);
  try {
    await page.reload();
    await page.waitForFunction(() => document.querySelector("aisle-assistant"));
    const r = await ask(page, "a warm blanket");
    assert.ok(r.text.length > 0);
    for (const id of r.products) assert.ok(ids.has(id));
  } finally {
    await browser.context.setOffline(false);
  }
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

/** Types `text` into the focused input and presses Enter; resolves to the turn's aisle-done detail. */
async function sendByKeyboard(page, text) {
  const done = page.evaluate(
    () => new Promise((resolve) => document.querySelector("aisle-assistant").addEventListener("aisle-done", (e) => resolve(e.detail), { once: true })),
  );
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
  return done;
}

test("a conversation in the panel, typed and sent with Enter: a search, a comparison table from the catalog, a question back with chips, a focused chip sent with Enter", { timeout: 600_000 }, async () => {
  const errors = [];
  const page = await browser.context.newPage();
  await instrument(page, errors);
  await openDemo(page);
  const host = page.locator("aisle-assistant");
  await host.locator(".launcher").focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("aisle-assistant").aisle, null, { timeout: 600_000 });
  const shadow = (sel) => page.evaluate((s) => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(s)].map((n) => n.textContent), sel);

  const first = await sendByKeyboard(page, "a blender");
  assert.equal(first.kind, "suggest");
  assert.ok(first.products.length >= 2, `two blenders to compare: ${first.products}`);
  // Follow-ups the answer makes useful: compare (two shown) and more.
  const followUps = await shadow(".msg.assistant:last-child .chips.follow-ups .chip");
  assert.ok(followUps.includes("Compare these") && followUps.includes("Show me more"), `${followUps}`);

  // "Compare the two": a table whose columns are the two products shown, rows from the catalog.
  await host.locator("textarea").focus();
  const cmp = await sendByKeyboard(page, "compare the two");
  assert.equal(cmp.kind, "compare");
  assert.deepEqual(cmp.products, first.products.slice(0, 2));
  const heads = await shadow(".compare thead th");
  assert.deepEqual(heads.slice(-2), cmp.products.map((id) => catalog.products.find((p) => p.id === id).title));
  const price = catalog.products.find((p) => p.id === cmp.products[0]).price;
  assert.ok((await shadow(".compare tbody td")).some((t) => t.includes(String(Math.trunc(price)))), "the price row shows the catalog's price");
  await page.screenshot({ path: path.join(SHOTS, "conversation-compare.png") });

  // A request too broad gets a question back with chips; Tab reaches a chip, Enter sends it.
  await host.locator("textarea").focus();
  const broad = await sendByKeyboard(page, "a gift");
  assert.equal(broad.kind, "clarify");
  const chips = await shadow(".msg.assistant:last-child .chips.question .chip");
  assert.ok(chips.length >= 1, "chips to answer with");
  const chipDone = page.evaluate(
    () => new Promise((resolve) => document.querySelector("aisle-assistant").addEventListener("aisle-done", (e) => resolve(e.detail), { once: true })),
  );
  await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".msg.assistant:last-child .chips.question .chip").focus());
  assert.equal(await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.activeElement?.className), "chip");
  await page.keyboard.press("Enter");
  const after = await chipDone;
  assert.equal(after.kind, "suggest", JSON.stringify(after));
  assert.ok(after.products.length >= 1 && after.products.every((id) => ids.has(id)), `${after.products}`);
  const userLines = await shadow(".msg.user");
  assert.ok(userLines.at(-1).includes(chips[0]), "the chip's text is sent as the shopper's message");

  await page.setViewportSize({ width: 390, height: 780 });
  await page.screenshot({ path: path.join(SHOTS, "phone-conversation.png") });
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the sentence encoder: a need told in German, without one catalog word, finds the blankets by meaning; a named product the shop lacks stays honest; a Chinese service question finds the returns policy", { timeout: 600_000 }, async () => {
  const errors = [];
  const page = await browser.context.newPage();
  await instrument(page, errors);
  await openDemo(page);
  await page.locator("aisle-assistant").locator(".launcher").click();
  await page.waitForFunction(() => document.querySelector("aisle-assistant").encoderReady, null, { timeout: 600_000 });
  const loaded = await page.evaluate(() => document.querySelector("aisle-assistant").encoderReady);
  const notes = await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.textContent);
  assert.ok(loaded && loaded.ms > 0, `the encoder loaded and embedded the catalog: ${JSON.stringify(loaded)}; ${notes}`);
  console.log(`encoder: ${catalog.products.length} products and the policies embedded in ${Math.round(loaded.ms)} ms; whole load ${Math.round(loaded.loadMs)} ms`);
  await page.waitForFunction(() => document.querySelector("aisle-assistant").aisle, null, { timeout: 600_000 });
  const need = await ask(page, "Abends auf dem Sofa friere ich im Winter immer");
  assert.ok(need.products.some((id) => id === "hom-001" || id === "hom-002"), `blankets: ${need.products}`);
  assert.ok(need.cards.every((id) => ids.has(id)), `${need.cards}`);
  const absent = await ask(page, "do you have a robot vacuum? the dog hair is everywhere");
  assert.deepEqual(absent.products, [], absent.text);
  const returns = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const res = await el.ask("请问怎么申请退货？");
    const quoted = [...el.shadowRoot.querySelectorAll(".passage")].map((p) => p.getAttribute("data-passage-id"));
    return { ...res, last: quoted.at(-1) };
  });
  assert.deepEqual(returns.products, [], returns.text);
  assert.ok(returns.last?.startsWith("returns"), `quotes a returns passage: ${JSON.stringify(returns)}`);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a hostile catalog stays inert: no script runs, nothing is injected, cards still show", { timeout: 600_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  await instrument(page, errors);
  page.on("dialog", (d) => {
    errors.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  await page.goto(`${server.url}/tests/browser/pages/xss.html`);
  await page.waitForFunction(() => document.querySelector("aisle-assistant"));
  const r = await ask(page, "running shoes");
  assert.ok(r.products.length >= 1, "cards from the hostile catalog still show");
  // The conversation's comparison table and chips carry catalog text too.
  if (r.products.length >= 2) {
    const c = await ask(page, "compare the two");
    assert.equal(c.kind, "compare", JSON.stringify(c));
  }
  const g = await ask(page, "a gift");
  assert.equal(g.kind, "clarify", JSON.stringify(g));
  const inspect = await inspectWidget(page);
  assert.equal(inspect.xss, null, "no payload ran");
  assert.deepEqual(inspect.bad, [], "no element was injected");
  assert.equal(inspect.handlers, 0, "no event-handler attribute was injected");
  for (const href of inspect.links) assert.match(href, /^https?:\/\//, `only http(s) links: ${href}`);
  for (const src of inspect.imgs) assert.match(src, /^https?:\/\/127\.0\.0\.1/, `only same-origin images: ${src}`);
  assert.ok(inspect.titles.some((t) => t.includes("<")), "payload text is shown as text");
  // Give lazy images and any handler a moment, then check again.
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__xss ?? null), null);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("data-catalog may be a Merchant Center feed: the worker reads it with the feed importers' own wasm and the widget answers from it", { timeout: 600_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  const wasm = [];
  await instrument(page, errors);
  page.on("request", (r) => r.url().endsWith(".wasm") && wasm.push(new URL(r.url()).pathname));
  await page.goto(`${server.url}/tests/browser/pages/feed.html`);
  await page.waitForFunction(() => document.querySelector("aisle-assistant"));
  const quick = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const r = await el.ask("a steel kettle", { quick: true });
    const cards = [...el.shadowRoot.querySelectorAll(".card")].map((c) => c.textContent);
    return { ...r, cards };
  });
  assert.deepEqual(quick.products, ["kettle-17"], JSON.stringify(quick));
  assert.ok(quick.cards.some((c) => c.includes("Steel Kettle 1.7 l") && c.includes("$39.00")), `the card is the feed's item at its sale price: ${quick.cards}`);
  const was = await page.evaluate(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".card .price s.was")].map((s) => s.textContent));
  assert.ok(was.includes("$49.00"), `the regular price is shown struck through: ${was}`);
  // The model's answer too; the jacket listed once per size is one card.
  const r = await ask(page, "a rain jacket");
  assert.equal(r.products.filter((id) => id.startsWith("jacket-navy")).length, 1, JSON.stringify(r));
  assert.ok(wasm.some((p) => p.endsWith("/pkg/feed/aisle_feed_bg.wasm")), `the feed wasm was fetched: ${wasm}`);
  // The feed's images are on another host, which this shop's strict CSP refuses to load; the
  // feed wasm itself ran under it.
  const violations = await page.evaluate(() => window.__violations);
  assert.deepEqual(violations.filter((v) => !v.startsWith("img-src https://northwind.example/")), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("add to cart from a card: the aisle:add-to-cart event, or a link from data-cart-url with the id encoded; a javascript: template is refused", { timeout: 300_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  await instrument(page, errors);
  await page.goto(`${server.url}/tests/browser/pages/cart.html`);
  await page.waitForFunction(() => document.querySelector("aisle-assistant"));
  const id = "tea/pot 1?&#x";
  const pressed = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const seen = [];
    document.addEventListener("aisle:add-to-cart", (e) => seen.push({ detail: e.detail, bubbles: e.bubbles, composed: e.composed }));
    const r = await el.ask("a teapot", { quick: true });
    const card = [...el.shadowRoot.querySelectorAll(".card")].pop();
    const button = card.querySelector("button.add");
    button.click();
    return { products: r.products, seen, label: button.getAttribute("aria-label"), text: button.textContent };
  });
  assert.deepEqual(pressed.products, [id]);
  assert.deepEqual(pressed.seen, [{ detail: { id, quantity: 1, source: "assistant" }, bubbles: true, composed: true }]);
  assert.equal(pressed.label, "Add to cart: Cast iron teapot");
  assert.equal(pressed.text, "Added");
  const link = async (template) =>
    page.evaluate(async (template) => {
      const el = document.querySelector("aisle-assistant");
      el.setAttribute("data-cart-url", template);
      await el.ask("a teapot", { quick: true });
      const card = [...el.shadowRoot.querySelectorAll(".card")].pop();
      return { href: card.querySelector("a.add")?.getAttribute("href") ?? null, button: !!card.querySelector("button.add") };
    }, template);
  assert.deepEqual(await link("/cart/{id}:{quantity}"), { href: `${server.url}/cart/tea%2Fpot%201%3F%26%23x:1`, button: false });
  assert.deepEqual(await link("https://shop.example/cart/add?id={id}&quantity={quantity}"), { href: "https://shop.example/cart/add?id=tea%2Fpot%201%3F%26%23x&quantity=1", button: false });
  assert.deepEqual(await link("javascript:alert('{id}')"), { href: null, button: false }, "a javascript: template gives no control at all");
  // data-cart-attribution: one plain name=value pair on cart links, nothing else.
  await page.evaluate(() => document.querySelector("aisle-assistant").setAttribute("data-cart-attribution", "ref=aisle"));
  assert.deepEqual(await link("/cart/{id}:{quantity}"), { href: `${server.url}/cart/tea%2Fpot%201%3F%26%23x:1?ref=aisle`, button: false });
  assert.deepEqual(await link("https://shop.example/cart/add?id={id}"), { href: "https://shop.example/cart/add?id=tea%2Fpot%201%3F%26%23x&ref=aisle", button: false });
  await page.evaluate(() => document.querySelector("aisle-assistant").setAttribute("data-cart-attribution", "ref=a&uid=123"));
  assert.deepEqual(await link("/cart/{id}:{quantity}"), { href: `${server.url}/cart/tea%2Fpot%201%3F%26%23x:1`, button: false }, "an attribution that is not one plain pair is ignored");
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

/** Every request a context makes, from CDP (url, headers, body) and from Playwright (which also sees the workers'). */
async function networkLog(context, page) {
  const log = [];
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.requestWillBeSent", (e) => log.push({ url: e.request.url, headers: JSON.stringify(e.request.headers), body: e.request.postData ?? "" }));
  const onRequest = (r) => log.push({ url: r.url(), headers: JSON.stringify(r.headers()), body: r.postData() ?? "" });
  context.on("request", onRequest);
  log.stop = () => context.off("request", onRequest);
  return log;
}

/** The ids of the cards in the widget's last assistant message. */
const lastCards = (page) =>
  page.evaluate(() => [...[...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".msg.assistant")].pop().querySelectorAll(".card")].map((c) => c.getAttribute("data-product-id")));

test("saved items and sharing: saved survive a reload and go with Forget me; a share link opens the same cards in a fresh browser, nothing of it reaches the network; the clipboard or navigator.share; hostile fragments stay inert; Contact the shop", { timeout: 900_000 }, async () => {
  const url = `${server.url}/tests/browser/pages/share.html`;
  const context = browser.context;
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  const errors = [];
  await instrument(page, errors);
  const log = await networkLog(context, page);
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector("aisle-assistant"));
  const answer = await page.evaluate(() => document.querySelector("aisle-assistant").ask("something for tea", { quick: true }));
  const picks = answer.products;
  assert.ok(picks.length >= 2 && picks.includes("zq-cups/8 ?&#,x"), picks.join(" | "));

  // Save: the id stays on this device, through a reload; Forget me erases it.
  await page.evaluate(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".card .save")][0].click());
  assert.deepEqual(await page.evaluate(() => JSON.parse(localStorage.getItem("aisle:saved:v1"))), [picks[0]]);
  await page.reload();
  await page.waitForFunction(() => document.querySelector("aisle-assistant")?.shadowRoot?.querySelector(".saved-list"));
  const savedList = page.locator("aisle-assistant .saved-list");
  assert.equal(await savedList.textContent(), "Saved (1)");
  await page.locator("aisle-assistant .launcher").click();
  await savedList.click();
  await page.waitForFunction(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".msg.saved .card"));
  assert.deepEqual(await lastCards(page), [picks[0]]);
  assert.equal(await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".msg.saved .save").getAttribute("aria-pressed")), "true");
  await page.locator("aisle-assistant .forget").click();
  assert.equal(await page.evaluate(() => localStorage.getItem("aisle:saved:v1")), null);
  assert.equal(await savedList.textContent(), "Saved (0)");

  // Share without navigator.share: the link and its text go to the clipboard, with a confirmation.
  await page.evaluate(() => document.querySelector("aisle-assistant").ask("something for tea", { quick: true }));
  assert.equal(await page.evaluate(() => typeof navigator.share), "undefined", "headless Chromium on Linux has no share sheet");
  await page.locator("aisle-assistant .msg.assistant >> nth=-1 >> .share").click();
  await page.waitForFunction(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".share-status")].pop().textContent);
  assert.equal(await page.locator("aisle-assistant .msg.assistant >> nth=-1 >> .share-status").textContent(), "Link copied to the clipboard.");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const [text, link] = copied.split("\n");
  assert.match(text, new RegExp(`^${picks.length} picks from Teahouse & Co: Gooseneck tea kettle|^${picks.length} picks from Teahouse & Co: `), text);
  const shared = new URL(link);
  assert.equal(shared.origin + shared.pathname, url);
  assert.equal(shared.search, "", "nothing in the query string");
  assert.equal(shared.hash, `#aisle-share=v1.${picks.map(encodeURIComponent).join(",")}`);

  // With navigator.share (stubbed present): it gets the link, and "Ask a friend" carries the question.
  await page.evaluate(() => Object.defineProperty(navigator, "share", { configurable: true, value: async (data) => (window.__shared = data) }));
  await page.locator("aisle-assistant .msg.assistant >> nth=-1 >> .ask-friend").click();
  await page.locator("aisle-assistant .friend-question").fill("Which one for Grandma? <b>really</b>");
  await page.locator("aisle-assistant .share-question").click();
  await page.waitForFunction(() => window.__shared);
  const viaSheet = await page.evaluate(() => window.__shared);
  assert.equal(viaSheet.title, "Teahouse & Co");
  assert.ok(viaSheet.text.startsWith("Which one for Grandma? <b>really</b>\n"), viaSheet.text);
  assert.equal(new URL(viaSheet.url).hash, `${shared.hash}&q=${encodeURIComponent("Which one for Grandma? <b>really</b>")}`);
  assert.equal(await page.locator("aisle-assistant .msg.assistant >> nth=-1 >> .share-status").textContent(), "Shared.");

  // The friend: a fresh browser, the link with an unknown id and one out of stock added.
  const friend = await launch({ webgpu: false, viewport: { width: 1280, height: 800 } });
  try {
    const fpage = await friend.context.newPage();
    const ferrors = [];
    await instrument(fpage, ferrors);
    const flog = await networkLog(friend.context, fpage);
    await fpage.addInitScript(() =>
      document.addEventListener("aisle-shared", (e) => (window.__sharedSeen ??= []).push({ ...e.detail, modelReady: !!e.target.aisle })),
    );
    await fpage.goto(viaSheet.url.replace("&q=", ",no-such-id,zq-gone-9&q="));
    await fpage.waitForFunction(() => window.__sharedSeen?.length);
    const seen = await fpage.evaluate(() => window.__sharedSeen[0]);
    assert.deepEqual(seen, { products: picks, skipped: 2, modelReady: false }, "shown before the model has loaded");
    assert.deepEqual(await lastCards(fpage), picks, "the same cards, from the friend's own copy of the catalog");
    const view = await fpage.evaluate(() => {
      const m = [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".msg.shared")].pop();
      return { head: m.querySelector(".shared-head").textContent, asks: m.querySelector(".friend-asks").textContent, bold: m.querySelectorAll("b").length, skipped: m.querySelector(".skipped").textContent, hash: location.hash, href: location.href };
    });
    assert.deepEqual(view, { head: "Shared with you", asks: "Your friend asks: Which one for Grandma? <b>really</b>", bold: 0, skipped: "2 shared products are no longer available, so they are not shown.", hash: "", href: url });
    await fpage.screenshot({ path: path.join(SHOTS, "shared-with-you-desktop.png") });
    await fpage.setViewportSize({ width: 390, height: 844 });
    await fpage.screenshot({ path: path.join(SHOTS, "shared-with-you-phone.png") });
    // The conversation knows the shared cards: "add the second one to my cart".
    const added = await fpage.evaluate(async () => {
      const got = [];
      document.addEventListener("aisle:add-to-cart", (e) => got.push(e.detail));
      const r = await document.querySelector("aisle-assistant").ask("add the second one to my cart", { quick: true });
      return { got, kind: r.kind, products: r.products };
    });
    assert.deepEqual(added, { got: [{ id: picks[1], quantity: 1, source: "assistant" }], kind: "cart", products: [picks[1]] });

    // Hostile fragments: the 24 payloads as ids and as the question, encoded and raw. The known
    // product still shows; the payloads show as text or not at all; nothing runs.
    for (const payload of PAYLOADS) {
      for (const hash of [`#aisle-share=v1.${encodeURIComponent(payload)},zq-teapot-3&q=${encodeURIComponent(payload)}`, `#aisle-share=v1.zq-teapot-3&q=${payload}`, `#aisle-share=v1.${payload}`]) {
        await fpage.evaluate((h) => (location.hash = h), hash);
        await fpage.waitForFunction(() => location.hash === "");
      }
    }
    // Malformed fragments are dropped without a word; the page's own anchors are left alone.
    for (const hash of ["#aisle-share=v2.zq-teapot-3", "#aisle-share=v1.%E0%A4%A", `#aisle-share=v1.${"x".repeat(5000)}`, "#aisle-share=", "#aisle-share=v1."]) {
      await fpage.evaluate((h) => (location.hash = h), hash);
      await fpage.waitForFunction(() => location.hash === "");
    }
    await fpage.evaluate(() => (location.hash = "#anchor"));
    await fpage.waitForTimeout(200);
    assert.equal(await fpage.evaluate(() => location.hash), "#anchor");
    const inspect = await inspectWidget(fpage);
    assert.equal(inspect.xss, null, "no payload ran");
    assert.deepEqual(inspect.bad, []);
    assert.equal(inspect.handlers, 0);
    assert.ok(inspect.text.includes(PAYLOADS[0]), "a payload question shows as text");
    assert.ok(inspect.links.every((h) => new URL(h).pathname.startsWith("/shop/")), inspect.links.join(" "));
    assert.deepEqual(await fpage.evaluate(() => window.__violations), []);
    assert.deepEqual(ferrors, []);

    // Neither browser sent the shared ids, the fragment or the question anywhere.
    const secrets = [...picks, ...picks.map(encodeURIComponent), "aisle-share", "Grandma", "no-such-id"];
    for (const r of [...log, ...flog]) for (const s of secrets) assert.ok(!`${r.url} ${r.headers} ${r.body}`.includes(s), `${s} in a request: ${r.url}`);
    console.log(`# sharing: ${log.length} + ${flog.length} request records, none with a shared id, the fragment or the question`);
  } finally {
    await friend.close();
  }

  // Contact the shop, for an answer that cannot help: a message to edit, handed to the mail app.
  const before = log.length;
  const handoff = await page.evaluate(async () => {
    const el = document.querySelector("aisle-assistant");
    const r = await el.ask("do you sell a motorbike helmet?", { quick: true });
    const bubble = [...el.shadowRoot.querySelectorAll(".msg.assistant")].pop();
    bubble.querySelector(".contact-shop").click();
    const message = bubble.querySelector(".contact-message");
    const first = { value: message.value, href: bubble.querySelector(".contact-send").getAttribute("href") };
    message.value = "Edited: do you sell helmets & gloves?";
    message.dispatchEvent(new Event("input"));
    return { products: r.products, first, edited: bubble.querySelector(".contact-send").getAttribute("href"), menu: !el.shadowRoot.querySelector("footer .contact").hidden };
  });
  assert.deepEqual(handoff.products, []);
  assert.ok(handoff.first.value.includes("do you sell a motorbike helmet?"), handoff.first.value);
  const mail = new URL(handoff.first.href);
  assert.equal(mail.protocol + mail.pathname, "mailto:help@teahouse.example");
  assert.equal(mail.searchParams.get("body"), handoff.first.value);
  assert.equal(handoff.edited, `mailto:help@teahouse.example?subject=${encodeURIComponent("A question about your shop")}&body=${encodeURIComponent("Edited: do you sell helmets & gloves?")}`);
  assert.equal(handoff.menu, true, "the menu offers it too");
  // A contact page instead of an address: {subject} and {message} filled in, encoded; a javascript: contact offers nothing.
  const contactPage = async (contact) =>
    page.evaluate(async (contact) => {
      const el = document.querySelector("aisle-assistant");
      el.setAttribute("data-contact", contact);
      await el.ask("do you sell a motorbike & sidecar?", { quick: true });
      const bubble = [...el.shadowRoot.querySelectorAll(".msg.assistant")].pop();
      bubble.querySelector(".contact-shop")?.click();
      return { href: bubble.querySelector(".contact-send")?.getAttribute("href") ?? null, message: bubble.querySelector(".contact-message")?.value ?? null };
    }, contact);
  const viaPage = await contactPage("/contact?about={subject}&m={message}");
  assert.equal(viaPage.href, `${server.url}/contact?about=${encodeURIComponent("A question about your shop")}&m=${encodeURIComponent(viaPage.message)}`);
  assert.deepEqual(await contactPage("javascript:alert('{message}')"), { href: null, message: null });
  assert.ok(log.slice(before).every((r) => !`${r.url} ${r.body}`.includes("helmet")), "the page sent nothing");
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  log.stop();
  await page.close();
});

test("the demo shop's whole loop: ask, save, share, open as a friend, add to cart, the cart page", { timeout: 600_000 }, async () => {
  const context = browser.context;
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  const errors = [];
  await instrument(page, errors);
  await openDemo(page);
  await page.evaluate(() => localStorage.removeItem("demo:cart"));
  await page.locator("aisle-assistant .launcher").click();
  const r = await page.evaluate(() => document.querySelector("aisle-assistant").ask("a kettle for tea", { quick: true }));
  assert.ok(r.products.length >= 1 && r.products.every((id) => ids.has(id)), r.products.join(","));
  const last = "aisle-assistant .msg.assistant >> nth=-1";
  await page.locator(`${last} >> .card >> nth=0 >> .save`).click();
  assert.equal(await page.locator("aisle-assistant .saved-list").textContent(), "Saved (1)");
  await page.locator(`${last} >> .share`).click();
  await page.waitForFunction(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".share-status")].pop().textContent);
  const link = (await page.evaluate(() => navigator.clipboard.readText())).split("\n").pop();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#aisle-share=v1\./);
  await page.screenshot({ path: path.join(SHOTS, "demo-shared.png") });

  const friend = await context.newPage();
  await instrument(friend, errors);
  await friend.goto(link);
  await friend.waitForFunction(() => document.querySelector("aisle-assistant")?.shadowRoot?.querySelector(".msg.shared .card"));
  assert.deepEqual(await lastCards(friend), r.products);
  await friend.locator(`${last} >> .card >> nth=0 >> button.add`).click();
  await friend.waitForFunction(() => document.querySelector("#cart-count")?.textContent === "Cart: 1");
  await friend.setViewportSize({ width: 390, height: 844 });
  await friend.screenshot({ path: path.join(SHOTS, "demo-friend-phone.png") });
  await friend.goto(`${server.url}/demo/cart.html`);
  await friend.waitForFunction(() => document.querySelectorAll(".cart-items li").length === 1);
  assert.equal(await friend.evaluate(() => document.querySelector(".cart-items li").getAttribute("data-product-id")), r.products[0]);
  await page.evaluate(() => localStorage.removeItem("demo:cart"));
  await page.evaluate(() => document.querySelector("aisle-assistant").shadowRoot.querySelector(".forget").click());
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await friend.close();
  await page.close();
});

test("the merchant's review summary: counts, themes and a grounded summary, in the page", { timeout: 600_000 }, async () => {
  const page = await browser.context.newPage();
  const errors = [];
  await instrument(page, errors);
  await page.goto(`${server.url}/demo/reviews.html`);
  await page.click("#sample");
  await page.waitForFunction(() => document.getElementById("status").textContent === "Done." || /Could not/.test(document.getElementById("status").textContent), null, { timeout: 480_000 });
  const r = await page.evaluate(() => ({
    status: document.getElementById("status").textContent,
    counts: [...document.querySelectorAll("#sentiment li")].map((li) => li.textContent),
    themes: [...document.querySelectorAll("#themes tr")].map((tr) => tr.firstChild.textContent),
    summary: document.getElementById("summary").textContent,
  }));
  assert.equal(r.status, "Done.");
  assert.equal(r.counts[0], "200 reviews");
  assert.ok(r.themes.includes("sizing") && r.themes.includes("shipping"), r.themes.join(","));
  assert.ok(r.summary.trim().length > 20, r.summary);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a cold first visit at 20 Mbit/s: a quick answer from the catalog before the model, then the model's in its place", { timeout: 600_000 }, async () => {
  const request = "a cozy blanket";
  const visit = await coldVisit(browser.context, request);
  const { page, cdp } = visit;
  try {
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    console.log(`# cold first visit, 20 Mbit/s: first card ${visit.firstCardMs.toFixed(0)} ms after navigation (quick: ${visit.quick}, model ready: ${visit.modelReady})`);
    // The model (98 MB) needs at least 39 s on this line: an answer that waited for it cannot
    // show within 10 s. (The time itself is a benchmark figure: `make bench`.)
    assert.equal(visit.modelReady, false, "the model had not arrived");
    assert.equal(visit.quick, true, "the answer is labelled as a quick answer");
    assert.ok(visit.firstCardMs < 10_000, `first card after ${visit.firstCardMs} ms`);
    assert.ok(visit.cards.length >= 1 && visit.cards.every((id) => ids.has(id)), visit.cards.join(","));
    const titles = await page.evaluate(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".card h3")].map((h) => h.textContent));
    assert.ok(titles.some((t) => /blanket/i.test(t)), titles.join(" | "));
    // Each reason is the first sentence of the product's own description.
    const reasons = await page.evaluate(() => [...document.querySelector("aisle-assistant").shadowRoot.querySelectorAll(".card .reason")].map((r) => r.textContent.trim()));
    for (const [i, id] of visit.cards.entries()) {
      const description = catalog.products.find((p) => p.id === id).description;
      assert.ok(reasons[i] && description.startsWith(reasons[i]), `${id}: ${reasons[i]}`);
    }
    await page.screenshot({ path: path.join(SHOTS, "quick-answer.png") });

    // Then the line clears, the model arrives and its answer replaces the quick one: the same
    // cards, no quick label, one assistant message.
    const refined = page.evaluate(() => new Promise((resolve) => document.querySelector("aisle-assistant").addEventListener("aisle-done", (e) => e.detail.refined && resolve(e.detail))));
    await unthrottle(cdp);
    const detail = await refined;
    assert.equal(detail.quick, false);
    assert.deepEqual(detail.products, visit.cards);
    const after = await page.evaluate(() => {
      const root = document.querySelector("aisle-assistant").shadowRoot;
      return { messages: root.querySelectorAll(".msg.assistant").length, quick: root.querySelectorAll(".quick").length, cards: [...root.querySelectorAll(".card")].map((c) => c.getAttribute("data-product-id")) };
    });
    assert.deepEqual(after, { messages: 1, quick: 0, cards: visit.cards });
    // A question asked now is answered by the model at once.
    const r = await ask(page, "How many days do I have to return an item?");
    assert.equal(r.quick, false);
    assert.match(r.text, /30|days/i, r.text);
    assert.deepEqual(await page.evaluate(() => window.__violations ?? []), []);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await visit.server.close();
  }
});
