// Handing a question the assistant cannot answer to the shop: a message the shopper reads and
// edits, sent by the shopper's own mail app (`data-contact="mailto:…"`) or the shop's own
// contact page (an http(s) or same-origin URL; `{subject}` and `{message}` in it are replaced by
// the encoded texts). The page sends nothing: it only builds a link the shopper follows.

import { safeUrl } from "./links.js";

const MAX_BODY = 1800; // mail apps and servers cut long URLs; a message is a few lines

const TEXT = {
  en: { subject: "A question about your shop", hello: "Hello,", products: "The products I was looking at:" },
  de: { subject: "Eine Frage zu Ihrem Shop", hello: "Hallo,", products: "Die Produkte, die ich mir angesehen habe:" },
  zh: { subject: "关于贵店的问题", hello: "您好，", products: "我正在看的商品：" },
};

/** The contact the shop named, if it is one we may link to: `{kind: "mail"|"page", target}`. */
export function contactTarget(raw) {
  if (typeof raw !== "string" || !raw.trim() || raw.length > 2048) return null;
  const value = raw.trim();
  if (/^mailto:/i.test(value)) {
    const address = value.slice(7).split("?")[0];
    // One plain address: no headers of its own, nothing a mail app would read as more.
    return /^[^\s<>"(),;:\\[\]%?&]+@[^\s<>"(),;:\\[\]%?&]+$/.test(decodeSafe(address)) ? { kind: "mail", target: `mailto:${address}` } : null;
  }
  return safeUrl(value.replaceAll("{subject}", "").replaceAll("{message}", "")) ? { kind: "page", target: value } : null;
}

function decodeSafe(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return "";
  }
}

/** The message the shopper starts from: their question and the products in view (catalog titles and links). */
export function draftMessage(lang, question, products) {
  const t = TEXT[lang] || TEXT.en;
  const lines = [t.hello, "", question.trim()];
  if (products.length) {
    lines.push("", t.products);
    for (const p of products) lines.push(`- ${p.title}${p.url ? ` (${p.url})` : ""}`);
  }
  return lines.join("\n");
}

/** The link that hands `message` to the shop's contact (null when the contact is unusable). */
export function contactLink(contact, lang, message) {
  const subject = (TEXT[lang] || TEXT.en).subject;
  const body = [...message].slice(0, MAX_BODY).join("");
  if (contact.kind === "mail") return `${contact.target}?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`;
  const filled = contact.target.replaceAll("{subject}", encodeURIComponent(subject)).replaceAll("{message}", encodeURIComponent(body));
  return safeUrl(filled);
}
