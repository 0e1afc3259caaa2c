// The demo shop's own script (not part of Aisle): renders the catalog grid, product pages and
// policies from local JSON, reports on-page events to the assistant the way a shop would, and
// registers the service worker that makes the demo work offline.

const BASE = new URL("./", import.meta.url); // .../demo/
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const money = (p) => new Intl.NumberFormat("en-US", { style: "currency", currency: p.currency || "USD" }).format(p.price);
const productUrl = (p) => new URL(`product.html?id=${encodeURIComponent(p.id)}`, BASE).href;
const imageUrl = (p) => new URL(p.image.replace(/^demo\//, ""), BASE).href;

async function catalog() {
  const res = await fetch(new URL("catalog.json", BASE));
  return (await res.json()).products;
}

function card(p) {
  return el(
    "li",
    { class: "tile", "data-product-id": p.id },
    el("a", { href: productUrl(p) }, el("img", { src: imageUrl(p), alt: "", width: 200, height: 200, loading: "lazy" }), el("h2", {}, p.title)),
    el("p", { class: "price" }, money(p), p.in_stock ? "" : el("span", { class: "oos" }, " · out of stock")),
    el("button", { type: "button", class: "add", "data-id": p.id, disabled: p.in_stock ? null : "" }, "Add to cart"),
  );
}

async function renderShop() {
  const products = await catalog();
  const grid = $("#grid");
  const cats = [...new Set(products.map((p) => p.categories[0]))];
  const nav = $("#categories");
  let active = null;
  let query = "";
  const show = () => {
    const q = query.toLowerCase();
    const list = products.filter((p) => (!active || p.categories.includes(active)) && (!q || `${p.title} ${p.description}`.toLowerCase().includes(q)));
    grid.replaceChildren(...list.map(card));
    $("#count").textContent = `${list.length} products${active ? ` in ${active}` : ""}`;
  };
  const all = el("button", { type: "button", "aria-pressed": "true" }, "All");
  nav.append(all, ...cats.map((c) => el("button", { type: "button", "data-cat": c, "aria-pressed": "false" }, c[0].toUpperCase() + c.slice(1))));
  nav.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    active = b.dataset.cat || null;
    for (const x of nav.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x === b));
    show();
  });
  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    query = $("#search-q").value.trim();
    if (query) document.dispatchEvent(new CustomEvent("aisle:search", { detail: { text: query } }));
    show();
  });
  grid.addEventListener("click", (e) => {
    const b = e.target.closest("button.add");
    if (!b) return;
    addToCart(b.dataset.id);
    b.textContent = "Added ✓";
  });
  show();
}

async function renderProduct() {
  const id = new URLSearchParams(location.search).get("id");
  const p = (await catalog()).find((x) => x.id === id);
  const main = $("#product");
  if (!p) {
    main.append(el("h1", {}, "Product not found"));
    return;
  }
  document.title = `${p.title} — Northwind Home & Outdoor`;
  main.setAttribute("data-aisle-view", p.id); // the assistant records the view
  document.dispatchEvent(new CustomEvent("aisle:view", { detail: { id: p.id } }));
  const attrs = el("dl", { class: "attrs" });
  for (const [k, v] of Object.entries(p.attributes || {})) attrs.append(el("dt", {}, k), el("dd", {}, Array.isArray(v) ? v.join(", ") : String(v)));
  main.append(
    el("img", { src: imageUrl(p), alt: "", width: 320, height: 320 }),
    el("div", {}, el("h1", {}, p.title), el("p", { class: "price" }, money(p)), el("p", {}, p.description), attrs),
  );
}

async function renderPolicies() {
  const res = await fetch(new URL("policies.json", BASE));
  const { passages } = await res.json();
  const main = $("#policies");
  for (const p of passages) main.append(el("section", { id: p.id }, el("h2", {}, p.title), el("p", {}, p.text)));
}

if ($("#grid")) renderShop();
// The demo's cart: the shop's own buttons and the assistant's "Add to cart" (the
// aisle:add-to-cart event a shop listens for) fill one cart, counted in the header.
const CART = "demo:cart";
function cartItems() {
  try {
    const items = JSON.parse(localStorage.getItem(CART) || "[]");
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}
function showCart() {
  const header = $("header.site");
  if (!header) return;
  let badge = $("#cart-count");
  if (!badge) {
    badge = el("a", { id: "cart-count", class: "cart", href: new URL("cart.html", BASE).href, "aria-live": "polite" });
    header.append(badge);
  }
  badge.textContent = `Cart: ${cartItems().length}`;
}
function removeFromCart(index) {
  const items = cartItems();
  items.splice(index, 1);
  localStorage.setItem(CART, JSON.stringify(items));
  showCart();
}
/** The cart page: each item with its price from the catalog, a remove button, the total. */
async function renderCart() {
  const byId = new Map((await catalog()).map((p) => [p.id, p]));
  const main = $("#cart");
  const list = el("ul", { class: "cart-items" });
  const total = el("p", { class: "cart-total" });
  const draw = () => {
    const items = cartItems().map((id) => byId.get(id)).filter(Boolean);
    list.replaceChildren(
      ...items.map((p, i) => {
        const remove = el("button", { type: "button" }, "Remove");
        remove.addEventListener("click", () => {
          removeFromCart(i);
          draw();
        });
        return el("li", { "data-product-id": p.id }, el("img", { src: imageUrl(p), alt: "", width: 48, height: 48 }), el("a", { href: productUrl(p) }, p.title), el("span", { class: "price" }, money(p)), remove);
      }),
    );
    const sum = items.reduce((s, p) => s + (Number(p.price) || 0), 0);
    total.textContent = items.length ? `Total: ${money({ price: sum, currency: items[0].currency })}` : "Your cart is empty.";
  };
  main.append(list, total);
  draw();
}
function addToCart(id) {
  localStorage.setItem(CART, JSON.stringify([...cartItems(), String(id)]));
  document.dispatchEvent(new CustomEvent("aisle:cart", { detail: { id } })); // the assistant's profile
  showCart();
}
document.addEventListener("aisle:add-to-cart", (e) => {
  if (e.detail && (typeof e.detail.id === "string" || typeof e.detail.id === "number")) addToCart(e.detail.id);
});
showCart();

if ($("#product")) renderProduct();
if ($("#policies")) renderPolicies();
if ($("#cart")) renderCart();

// Offline: precache the shop, the assistant and its wasm (the weights are cached by the
// assistant itself, under their sha256). Registered once the assistant has what its first
// answer needs (or a few seconds after the page loaded, if nobody opens it), so that on a
// first visit over a slow line the precache does not download the wasm a second time while
// the shopper waits for that answer.
function registerServiceWorker() {
  navigator.serviceWorker.register(new URL("sw.js", BASE), { scope: new URL("../", BASE).pathname }).catch((e) => console.warn("service worker:", e.message));
}
if ("serviceWorker" in navigator) {
  let registered = false;
  const once = () => {
    if (!registered) registerServiceWorker();
    registered = true;
  };
  document.addEventListener("aisle-shop-ready", once, { once: true });
  window.addEventListener("load", () => setTimeout(once, 5000), { once: true });
}
