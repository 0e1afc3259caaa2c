// Writes commercetools' "B2C lifestyle" sample data (npm @commercetools/composable-commerce-test-data,
// MIT) as an Aisle catalog: English titles, descriptions and categories, German in `i18n.de`,
// prices in USD. Used by scripts/eval_catalogs.py for `make eval`.
//
//   node scripts/commercetools_catalog.cjs NODE_MODULES_DIR OUT.json
const path = require("path");
const fs = require("fs");
const [modules, out] = process.argv.slice(2);
const pkg = path.join(modules, "@commercetools/composable-commerce-test-data");
const { ProductDraft } = require(path.join(pkg, "product"));
const { CategoryDraft } = require(path.join(pkg, "category"));
const build = (presets) => Object.values(presets).map((make) => make().build());
const names = {};
for (const c of build(CategoryDraft.presets.sampleDataB2CLifestyle)) names[c.key] = c.name;
const text = (loc, ...langs) => langs.map((l) => loc && loc[l]).find((t) => t && t.trim())?.trim();
const products = build(ProductDraft.presets.sampleDataB2CLifestyle).map((p) => {
  const v = p.masterVariant || {};
  const usd = (v.prices || []).find((x) => !x.channel && x.value.currencyCode === "USD");
  const cats = (p.categories || []).map((c) => names[c.key]).filter(Boolean);
  return {
    id: p.key,
    title: text(p.name, "en-US", "en-GB"),
    description: text(p.description, "en-US", "en-GB") || "",
    categories: cats.map((n) => text(n, "en-US", "en-GB")).filter(Boolean),
    ...(usd ? { price: usd.value.centAmount / 100, currency: "USD" } : {}),
    in_stock: true,
    i18n: { de: { title: text(p.name, "de-DE"), description: text(p.description, "de-DE") } },
  };
});
fs.writeFileSync(out, JSON.stringify({ shop: { name: "commercetools B2C lifestyle sample shop", currency: "USD" }, products }, null, 1));
console.log(`${out}: ${products.length} products from @commercetools/composable-commerce-test-data`);
