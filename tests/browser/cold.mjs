// A shopper's first visit to the demo shop on a slow line: nothing cached, the network
// throttled by Chromium's own DevTools emulation (the page and its workers), the launcher
// clicked and a request sent as soon as the widget exists. Used by the widget test (the quick
// answer comes before the model) and by `make bench` (how long it takes).
import { serve } from "../../scripts/serve.mjs";

/** 20 Mbit/s down, 5 up, 20 ms round trip: a fair mobile or small-office line. */
export const SLOW_LINE = { offline: false, latency: 20, downloadThroughput: (20e6 / 8) | 0, uploadThroughput: (5e6 / 8) | 0 };

/**
 * Opens the demo shop in `context` from a server of its own (a new origin: an empty HTTP
 * cache, no service worker, no cached weights), throttled to `line`, and asks `request`
 * through the panel. Resolves to `{page, cdp, server, firstCardMs, quick, cards, modelReady}`
 * once the first card shows: times are from the navigation's start. The caller closes the
 * page and the server.
 */
export async function coldVisit(context, request, line = SLOW_LINE) {
  const server = await serve({ port: 0, csp: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", line);
  await page.goto(`${server.url}/`, { waitUntil: "commit" });
  await page.waitForFunction(() => customElements.get("aisle-assistant") && document.querySelector("aisle-assistant")?.shadowRoot?.querySelector(".launcher"));
  await page.evaluate((text) => {
    const root = document.querySelector("aisle-assistant").shadowRoot;
    root.querySelector(".launcher").click();
    root.querySelector("textarea").value = text;
    root.querySelector("form").requestSubmit();
  }, request);
  // The moment the first card is in the panel, on the page's clock (whose zero is the navigation's start).
  const shown = await page.waitForFunction(() => (document.querySelector("aisle-assistant").shadowRoot.querySelector(".msg.assistant .card") ? performance.now() : 0), null, { timeout: 120_000 });
  const firstCardMs = await shown.jsonValue();
  const seen = await page.evaluate(() => {
    const el = document.querySelector("aisle-assistant");
    const bubble = el.shadowRoot.querySelector(".msg.assistant");
    return {
      quick: !!bubble.querySelector(".quick"),
      cards: [...bubble.querySelectorAll(".card")].map((c) => c.getAttribute("data-product-id")),
      modelReady: !!el.aisle,
    };
  });
  return { page, cdp, server, firstCardMs, ...seen };
}

/** Lifts the throttling (so the model's download finishes quickly). */
export async function unthrottle(cdp) {
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
}
