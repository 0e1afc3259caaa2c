// Sharing picks without a server: the product ids travel in the link's fragment
// (`#aisle-share=v1.<ids>[&q=<question>]`), which browsers never send to a server, and the
// friend's browser shows them from its own copy of the catalog. The text that goes with the
// link is written here from catalog titles; the link goes through navigator.share() where the
// browser has it, else the clipboard.

const KEY = "aisle-share=";
const VERSION = "v1.";
/** At most this many products in one link (a share is a few picks, not a catalog). */
export const MAX_SHARED = 12;
/** The friend question's limit, in characters. */
export const MAX_QUESTION = 200;
const MAX_FRAGMENT = 4096;
const MAX_ID = 128;

const TEXT = {
  en: { picks: (n, shop) => (n === 1 ? `A pick from ${shop}` : `${n} picks from ${shop}`), sep: ", " },
  de: { picks: (n, shop) => (n === 1 ? `Eine Empfehlung von ${shop}` : `${n} Empfehlungen von ${shop}`), sep: ", " },
  zh: { picks: (n, shop) => `来自${shop}的${n}件推荐`, sep: "、" },
};

/** One line of the shopper's own text: control characters out, spaces collapsed, bounded. */
export function oneLine(text, max = MAX_QUESTION) {
  if (typeof text !== "string") return "";
  return [...text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim()].slice(0, max).join("");
}

/** The link to `page` (the current URL) with `ids` (and the friend question) in its fragment. */
export function shareLink(page, ids, question = "") {
  const url = new URL(page);
  const list = ids.slice(0, MAX_SHARED).map(encodeURIComponent).join(",");
  const q = oneLine(question);
  url.hash = `${KEY}${VERSION}${list}${q ? `&q=${encodeURIComponent(q)}` : ""}`;
  return url.href;
}

/**
 * What a fragment shares: `{ids, question}`, or null when it is not a share of ours (the page's
 * own anchors) or is malformed: too long, an unknown version, ids that do not decode. Never throws.
 */
export function readShare(hash) {
  if (typeof hash !== "string" || !hash.startsWith(`#${KEY}`)) return null;
  if (hash.length > MAX_FRAGMENT) return null;
  const body = hash.slice(1 + KEY.length);
  if (!body.startsWith(VERSION)) return null;
  const [list, ...rest] = body.slice(VERSION.length).split("&");
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return null;
    }
  };
  const ids = [];
  for (const part of list.split(",").slice(0, MAX_SHARED)) {
    const id = decode(part);
    if (id == null || !id || id.length > MAX_ID || /[\u0000-\u001f\u007f]/.test(id)) return null;
    if (!ids.includes(id)) ids.push(id);
  }
  let question = "";
  for (const r of rest) if (r.startsWith("q=")) question = oneLine(decode(r.slice(2)) ?? "");
  return ids.length ? { ids, question } : null;
}

/** Whether the fragment is addressed to us at all (a share, well-formed or not). */
export function isShareFragment(hash) {
  return typeof hash === "string" && hash.startsWith(`#${KEY}`);
}

/** "3 picks from Northwind: Kettle, Mug, Teapot", in the shopper's language. */
export function shareText(lang, shop, titles, question = "") {
  const t = TEXT[lang] || TEXT.en;
  const shown = titles.slice(0, 5).join(t.sep) + (titles.length > 5 ? "…" : "");
  const line = `${t.picks(titles.length, shop)}: ${shown}`;
  const q = oneLine(question);
  return q ? `${q}\n${line}` : line;
}

/**
 * Hands the link to the browser's share sheet, else to the clipboard. Resolves to "share",
 * "clipboard", "cancelled" (the shopper closed the share sheet), or "none" (neither is
 * available: the caller shows the link to copy by hand).
 */
export async function deliver({ title, text, url }) {
  if (typeof navigator.share === "function") {
    try {
      await navigator.share({ title, text, url });
      return "share";
    } catch (e) {
      if (e?.name === "AbortError") return "cancelled";
      // Not allowed here (no user activation, an unsupported payload): try the clipboard.
    }
  }
  try {
    await navigator.clipboard.writeText(`${text}\n${url}`);
    return "clipboard";
  } catch {
    return "none";
  }
}
