// The links the widget puts in front of a shopper: catalog links and cart links. Each is
// followed only when http(s) (including same-origin relative); nothing else becomes an href.

/** A link we may follow: http(s) (incl. same-origin relative). Anything else: null. */
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

/**
 * `data-cart-attribution`: one `name=value` pair of plain words (`ref=aisle`) that the shop
 * counts assisted carts by. Anything else is ignored: it can carry no identifier of the shopper.
 */
export function attribution(raw) {
  if (typeof raw !== "string") return null;
  const m = /^([A-Za-z0-9_-]{1,32})=([A-Za-z0-9_.-]{1,64})$/.exec(raw.trim());
  return m ? [m[1], m[2]] : null;
}

/**
 * The cart link for product `id` from the shop's template (`{id}`, `{quantity}`; Shopify's cart
 * permalink is `/cart/{id}:{quantity}`), with the attribution pair added to its query; null
 * when the result is not a link we may follow.
 */
export function cartLink(template, id, quantity, pair) {
  const href = safeUrl(template.replaceAll("{id}", encodeURIComponent(id)).replaceAll("{quantity}", String(quantity)));
  if (!href || !pair) return href;
  const u = new URL(href);
  // Appended as it is (plain words): searchParams would re-encode the shop's own query.
  u.search = `${u.search ? `${u.search}&` : "?"}${pair[0]}=${pair[1]}`;
  return u.href;
}
