// Aisle's embed. A shop adds one tag:
//
//   <script type="module" src="…/www/aisle.js" data-model="…gguf" data-sha256="…"
//           data-catalog="catalog.json" data-policies="policies.json" data-lang="auto"></script>
//
// and an <aisle-assistant> element with the same attributes appears on the page (a shop may
// also place the element itself). Pages and tests can use the API directly:
//
//   import { Aisle } from "./www/aisle.js";

import { defineElement } from "./widget.js";

export { Aisle } from "./client.js";
export { AisleAssistant } from "./widget.js";

const ATTRIBUTES = ["data-model", "data-sha256", "data-encoder", "data-encoder-sha256", "data-catalog", "data-catalog-index", "data-policies", "data-lang", "data-backend", "data-currency", "data-cart-url", "data-cart-attribution", "data-contact", "data-worker"];

/** The <script> tag that loaded this module, found by its resolved src. */
function ownTag() {
  for (const s of document.querySelectorAll("script[type=module][src]")) {
    if (s.src === import.meta.url) return s;
  }
  return null;
}

function autoEmbed() {
  const tag = ownTag();
  if (!tag || !tag.hasAttribute("data-model") || document.querySelector("aisle-assistant")) return;
  const elem = document.createElement("aisle-assistant");
  for (const a of ATTRIBUTES) if (tag.hasAttribute(a)) elem.setAttribute(a, tag.getAttribute(a));
  document.body.append(elem);
}

defineElement();
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autoEmbed, { once: true });
else autoEmbed();
