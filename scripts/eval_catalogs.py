#!/usr/bin/env python3
"""Third-party catalogs for `make eval`, fetched from the npm registry and converted to Aisle's
catalog JSON in a cache folder (their data is not ours to commit: Vendure's sample data is
GPL-3.0-or-later, the labels in tests/eval/ are ours).

    scripts/eval_catalogs.py OUT_DIR      writes OUT_DIR/vendure-catalog.json and OUT_DIR/commercetools-catalog.json

Vendure (`@vendure/create`, assets/products.csv): one row per variant; the first row of a
product carries its name, slug, description and facets (`category:…|brand:…|color:…`). The
product's price is its cheapest variant's; sizes and other options become attributes.

commercetools (`@commercetools/composable-commerce-test-data`, MIT): its "B2C lifestyle" sample
data, 117 home and kitchen products in English and German, built by the package's own presets
(scripts/commercetools_catalog.cjs).
"""
import csv
import io
import json
import os
import subprocess
import sys
import tarfile

VENDURE = "@vendure/create@3.7.3"
COMMERCETOOLS = "@commercetools/composable-commerce-test-data@11.0.0"


def npm_pack(spec, out_dir):
    """The package tarball of `spec`, downloaded once into out_dir."""
    name = spec.lstrip("@").replace("/", "-").replace("@", "-") + ".tgz"
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        got = subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", out_dir],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        os.replace(os.path.join(out_dir, got), path)
    return path


def vendure_products(csv_text):
    rows = [{k.strip(): (v or "").strip() for k, v in r.items()} for r in csv.DictReader(io.StringIO(csv_text))]
    products, cur = [], None
    for r in rows:
        if r["name"]:
            cur = {"row": r, "variants": []}
            products.append(cur)
        if cur is not None:
            cur["variants"].append(r)
    out = []
    for p in products:
        r = p["row"]
        facets = [f.split(":", 1) for f in r["facets"].split("|") if ":" in f]
        attrs = {}
        for k, v in facets:
            if k != "category":
                attrs.setdefault(k, []).append(v)
        groups = [g.strip() for g in r["optionGroups"].split("|") if g.strip()]
        for i, g in enumerate(groups):
            name = g.split(":")[-1].replace("shoe-size", "sizes")
            values = []
            for v in p["variants"]:
                parts = v["optionValues"].split("|")
                if i < len(parts) and parts[i].strip() and parts[i].strip().removeprefix("Size ") not in values:
                    values.append(parts[i].strip().removeprefix("Size "))
            attrs[name] = values
        prices = [float(v["price"]) for v in p["variants"] if v["price"]]
        stock = sum(int(v["stockOnHand"] or 0) for v in p["variants"])
        out.append({
            "id": r["slug"],
            "title": r["name"],
            "description": r["description"],
            "categories": [v.lower() for k, v in facets if k == "category"],
            "price": min(prices),
            "currency": "USD",
            "attributes": {k: (v[0] if len(v) == 1 else v) for k, v in attrs.items()},
            "in_stock": stock > 0,
        })
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    dest = os.path.join(out_dir, "vendure-catalog.json")
    with tarfile.open(npm_pack(VENDURE, out_dir)) as tar:
        text = tar.extractfile("package/assets/products.csv").read().decode("utf-8")
    catalog = {"shop": {"name": "Vendure sample shop", "currency": "USD"}, "products": vendure_products(text)}
    with open(dest, "w", encoding="utf-8") as f:
        json.dump(catalog, f, ensure_ascii=False, indent=1)
    print(f"{dest}: {len(catalog['products'])} products from {VENDURE}")
    prefix = os.path.join(out_dir, "commercetools-npm")
    if not os.path.exists(os.path.join(prefix, "node_modules", *COMMERCETOOLS.rsplit("@", 1)[0].split("/"))):
        subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error", COMMERCETOOLS],
                       check=True)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "commercetools_catalog.cjs")
    subprocess.run(["node", script, os.path.join(prefix, "node_modules"), os.path.join(out_dir, "commercetools-catalog.json")],
                   check=True)


if __name__ == "__main__":
    main()
