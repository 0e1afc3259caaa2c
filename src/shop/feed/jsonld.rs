//! schema.org `Product` and `ProductGroup` in JSON-LD, as shops put them in their product pages
//! (`<script type="application/ld+json">`) or as a bare `.jsonld` file.
//!
//! A page may hold one node, an array of nodes, or an `@graph`, with `@id` references between
//! them; products may sit inside other nodes (a `WebPage`'s `mainEntity`, an `ItemList`). A
//! `ProductGroup` and its variants (`hasVariant`, or `Product`s pointing back with `isVariantOf`
//! or `inProductGroupWithID`) become one catalog product with variants; `variesBy` names the
//! options. Prices and stock come from `offers` (`Offer`, a list of them, or an
//! `AggregateOffer`); a `StrikethroughPrice` or `ListPrice` in `priceSpecification` is the
//! regular price.

use std::collections::{BTreeMap, HashMap};

use scraper::{Html, Selector};
use serde_json::Value;

use super::{Draft, FeedError, FeedItems, Money, Where, clean_line, json_text, option_key, prices};
use crate::shop::catalog::{AttrValue, Variant};

pub(crate) fn read(file: &str, text: &str) -> Result<FeedItems, FeedError> {
    let mut items = FeedItems::default();
    let mut scripts: Vec<Value> = Vec::new();
    let mut page_url = None;
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        let v = serde_json::from_str(t).map_err(|e| FeedError::Malformed {
            file: file.into(),
            at: Where::Line(e.line() as u64),
            problem: format!("not valid JSON: {e}"),
        })?;
        scripts.push(v);
    } else {
        let doc = Html::parse_document(text);
        let sel = |s: &str| Selector::parse(s).expect("a valid selector");
        items.lang = doc.select(&sel("html[lang]")).next().and_then(|h| h.attr("lang")).map(str::to_string);
        page_url = doc
            .select(&sel("link[rel=canonical]"))
            .next()
            .and_then(|l| l.attr("href"))
            .or_else(|| doc.select(&sel("meta[property=\"og:url\"]")).next().and_then(|m| m.attr("content")))
            .map(str::to_string);
        for (n, script) in doc.select(&sel("script[type]")).enumerate() {
            let is_ld = script.attr("type").is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"));
            if !is_ld {
                continue;
            }
            let body: String = script.text().collect();
            match serde_json::from_str::<Value>(body.trim()) {
                Ok(v) => scripts.push(v),
                Err(e) => items.notes.push(format!("script {}: not valid JSON-LD ({e}); left out", n + 1)),
            }
        }
        if scripts.is_empty() {
            return Err(FeedError::NotAFeed { file: file.into(), why: "an HTML page without JSON-LD scripts".into() });
        }
    }
    let graph = Graph::new(&scripts);
    for (n, d) in graph.products(page_url.as_deref()).into_iter().enumerate() {
        match d {
            Ok(d) => items.drafts.push((Where::Item(n + 1), d)),
            Err(why) => items.skip(Where::Item(n + 1), why),
        }
    }
    if items.drafts.is_empty() && items.skipped.is_empty() {
        return Err(FeedError::Empty {
            file: file.into(),
            why: "JSON-LD without a schema.org Product or ProductGroup".into(),
        });
    }
    if items.lang.is_none() {
        items.lang = scripts.iter().find_map(|s| json_text(s, "inLanguage"));
    }
    Ok(items)
}

/// Every node of a page's JSON-LD, with `@id` references resolvable.
struct Graph<'a> {
    /// Products and groups, in page order, found outside other products.
    top: Vec<&'a Value>,
    by_id: HashMap<&'a str, &'a Value>,
}

impl<'a> Graph<'a> {
    fn new(scripts: &'a [Value]) -> Graph<'a> {
        let mut g = Graph { top: Vec::new(), by_id: HashMap::new() };
        for s in scripts {
            g.collect(s);
        }
        g
    }

    fn collect(&mut self, v: &'a Value) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| self.collect(x)),
            Value::Object(o) => {
                if let Some(id) = o.get("@id").and_then(Value::as_str)
                    && o.len() > 1
                {
                    self.by_id.insert(id, v);
                }
                if is_a(v, "Product") || is_a(v, "ProductGroup") {
                    self.top.push(v);
                    // Variants nested in a group are still reachable by @id.
                    if let Some(vs) = o.get("hasVariant") {
                        self.index_only(vs);
                    }
                    return;
                }
                o.values().for_each(|x| self.collect(x));
            }
            _ => {}
        }
    }

    fn index_only(&mut self, v: &'a Value) {
        for x in as_list(v) {
            if let Some(id) = x.get("@id").and_then(Value::as_str)
                && x.as_object().is_some_and(|o| o.len() > 1)
            {
                self.by_id.insert(id, x);
            }
        }
    }

    /// A node, following an `{"@id": …}` reference.
    fn resolve(&self, v: &'a Value) -> &'a Value {
        match v.as_object() {
            Some(o) if o.len() == 1 => {
                o.get("@id").and_then(Value::as_str).and_then(|id| self.by_id.get(id).copied()).unwrap_or(v)
            }
            _ => v,
        }
    }

    /// The page's products: groups with their variants, and products in no group.
    fn products(&self, page_url: Option<&str>) -> Vec<Result<Draft, String>> {
        let groups: Vec<&Value> = self.top.iter().copied().filter(|v| is_a(v, "ProductGroup")).collect();
        let mut members: HashMap<usize, Vec<&Value>> = HashMap::new();
        let mut out = Vec::new();
        let mut loose = Vec::new();
        for &p in self.top.iter().filter(|v| !is_a(v, "ProductGroup")) {
            match groups.iter().position(|g| self.belongs(p, g)) {
                Some(i) => members.entry(i).or_default().push(p),
                None => loose.push(p),
            }
        }
        for (i, g) in groups.iter().enumerate() {
            let mut variants: Vec<&Value> =
                g.get("hasVariant").map(as_list).unwrap_or_default().into_iter().map(|v| self.resolve(v)).collect();
            for m in members.remove(&i).unwrap_or_default() {
                if !variants.iter().any(|v| std::ptr::eq(*v, m)) {
                    variants.push(m);
                }
            }
            out.push(self.group(g, &variants, page_url));
        }
        for p in loose {
            out.push(self.product(p, page_url));
        }
        out
    }

    fn belongs(&self, p: &Value, g: &Value) -> bool {
        let of = p.get("isVariantOf").map(|v| self.resolve(v));
        let by_ref = of.is_some_and(|of| std::ptr::eq(of, g) || (id_of(of).is_some() && id_of(of) == id_of(g)));
        let by_id = json_text(p, "inProductGroupWithID")
            .is_some_and(|gid| json_text(g, "productGroupID").as_deref() == Some(gid.as_str()));
        by_ref || by_id
    }

    fn product(&self, p: &Value, page_url: Option<&str>) -> Result<Draft, String> {
        let mut d = self.common(p, page_url);
        d.id = product_id(p).ok_or("a Product without sku, productID, gtin, mpn, url or @id")?;
        let offer = self.offer(p);
        d.price = offer.price;
        d.sale_price = offer.sale;
        d.sale_active = true;
        d.in_stock = offer.in_stock;
        if d.link.is_none() {
            d.link = offer.url;
        }
        if let Some(g) = json_text(p, "inProductGroupWithID") {
            d.group = Some(g);
        }
        for key in ["color", "size", "material", "pattern"] {
            if let Some(v) = p.get(key).and_then(name_or_text) {
                d.attr(if key == "size" { "sizes" } else { key }, &v);
            }
        }
        Ok(d)
    }

    fn group(&self, g: &Value, variants: &[&Value], page_url: Option<&str>) -> Result<Draft, String> {
        let mut d = self.common(g, page_url);
        d.id = json_text(g, "productGroupID")
            .or_else(|| product_id(g))
            .ok_or("a ProductGroup without productGroupID, sku or @id")?;
        let varies: Vec<String> = g
            .get("variesBy")
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str())
            .map(schema_name)
            .collect();
        let varies = if varies.is_empty() { vec!["color".to_string(), "size".to_string()] } else { varies };
        let mut best: Option<(Offer, bool)> = None;
        for v in variants {
            let Some(id) = product_id(v) else { continue };
            let offer = self.offer(v);
            let in_stock = offer.in_stock.unwrap_or(true);
            let options: BTreeMap<String, AttrValue> = varies
                .iter()
                .filter_map(|k| Some((option_key(k), AttrValue::Text(v.get(k.as_str()).and_then(name_or_text)?))))
                .collect();
            let (price, regular, _) = prices(offer.price.clone(), offer.sale.clone(), true);
            d.variants.push(Variant {
                id,
                title: json_text(v, "name"),
                options,
                price,
                regular_price: regular,
                in_stock,
            });
            let cheaper = |b: &(Offer, bool)| (in_stock && !b.1) || (in_stock == b.1 && price < b.0.now());
            if price.is_some() && best.as_ref().is_none_or(cheaper) {
                best = Some((offer, in_stock));
            }
            if d.image.is_none() {
                d.image = image(v);
            }
        }
        if let Some((offer, _)) = best {
            d.link = d.link.or(offer.url);
            d.price = offer.price;
            d.sale_price = offer.sale;
            d.sale_active = true;
        }
        if !d.variants.is_empty() {
            d.in_stock = Some(d.variants.iter().any(|v| v.in_stock));
        }
        d.options_as_attributes();
        Ok(d)
    }

    /// What a product and a group share: title, description, brand, image, link, categories,
    /// identifiers and properties.
    fn common(&self, p: &Value, page_url: Option<&str>) -> Draft {
        let mut d = Draft {
            title: json_text(p, "name").unwrap_or_default(),
            description: json_text(p, "description").unwrap_or_default(),
            link: json_text(p, "url").or_else(|| page_url.map(str::to_string)),
            image: image(p),
            ..Draft::default()
        };
        if let Some(b) = p.get("brand").map(|b| self.resolve(b)).and_then(name_or_text) {
            d.attr("brand", &b);
        }
        for c in p.get("category").map(as_list).unwrap_or_default() {
            if let Some(c) =
                name_or_text(c).filter(|c| !c.starts_with("http") && !c.chars().all(|ch| ch.is_ascii_digit()))
            {
                d.category_path(&c);
            }
        }
        for key in ["gtin", "gtin8", "gtin12", "gtin13", "gtin14", "isbn"] {
            if let Some(v) = json_text(p, key) {
                d.attr("gtin", &v);
            }
        }
        for key in ["mpn", "sku"] {
            if let Some(v) = json_text(p, key) {
                d.attr(key, &v);
            }
        }
        if let Some(w) = p.get("weight").and_then(quantity) {
            d.attr("weight", &w);
        }
        if let Some(r) = p.get("aggregateRating").map(|r| self.resolve(r)) {
            if let Some(v) = json_text(r, "ratingValue") {
                d.attr("rating", &v);
            }
            if let Some(n) = json_text(r, "reviewCount").or_else(|| json_text(r, "ratingCount")) {
                d.attr("review_count", &n);
            }
        }
        for prop in p.get("additionalProperty").map(as_list).unwrap_or_default() {
            if let (Some(name), Some(value)) = (json_text(prop, "name"), prop.get("value").and_then(name_or_text)) {
                let key = option_key(&name);
                if !key.is_empty() {
                    d.attr(&key, &value);
                }
            }
        }
        d
    }

    /// The offer a shopper would get: the first in stock among `offers`, else the first.
    fn offer(&self, p: &Value) -> Offer {
        let offers: Vec<&Value> =
            p.get("offers").map(as_list).unwrap_or_default().into_iter().map(|o| self.resolve(o)).collect();
        let mut all: Vec<Offer> = Vec::new();
        for o in offers {
            if is_a(o, "AggregateOffer") {
                let inner: Vec<Offer> = o
                    .get("offers")
                    .map(as_list)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|x| read_offer(self.resolve(x)))
                    .collect();
                if inner.iter().any(|x| x.price.is_some()) {
                    all.extend(inner);
                    continue;
                }
                let currency = json_text(o, "priceCurrency");
                let low = json_text(o, "lowPrice")
                    .and_then(|s| Money::parse(&s))
                    .map(|m| Money { currency: m.currency.or(currency), ..m });
                all.push(Offer { price: low, in_stock: availability(o), url: json_text(o, "url"), sale: None });
            } else {
                all.push(read_offer(o));
            }
        }
        let pick = all
            .iter()
            .position(|o| o.in_stock == Some(true) && o.price.is_some())
            .or_else(|| all.iter().position(|o| o.price.is_some()));
        match pick {
            Some(i) => all.swap_remove(i),
            None => all.into_iter().next().unwrap_or_default(),
        }
    }
}

/// An offer's regular price, its sale price (when a strikethrough or list price says the
/// offer's price is reduced), stock and link.
#[derive(Debug, Default)]
struct Offer {
    price: Option<Money>,
    sale: Option<Money>,
    in_stock: Option<bool>,
    url: Option<String>,
}

impl Offer {
    fn now(&self) -> Option<f64> {
        match (&self.price, &self.sale) {
            (_, Some(s)) => Some(s.amount),
            (Some(p), None) => Some(p.amount),
            _ => None,
        }
    }
}

fn read_offer(o: &Value) -> Offer {
    let currency = json_text(o, "priceCurrency");
    let money = |v: Option<String>, cur: Option<String>| {
        v.and_then(|s| Money::parse(&s)).map(|m| Money { currency: m.currency.or(cur), ..m })
    };
    let mut price = money(json_text(o, "price"), currency.clone());
    let mut regular = None;
    for spec in o.get("priceSpecification").map(as_list).unwrap_or_default() {
        let cur = json_text(spec, "priceCurrency").or(currency.clone());
        let m = money(json_text(spec, "price"), cur);
        let kind = json_text(spec, "priceType").map(|t| schema_name(&t)).unwrap_or_default();
        if kind == "strikethroughprice" || kind == "listprice" {
            regular = m;
        } else if price.is_none() {
            price = m;
        }
    }
    let (price, sale) = match (price, regular) {
        (Some(p), Some(r)) if r.amount > p.amount => (Some(r), Some(p)),
        (p, _) => (p, None),
    };
    Offer { price, sale, in_stock: availability(o), url: json_text(o, "url") }
}

/// `availability` as in stock or not: InStock, LimitedAvailability, OnlineOnly and InStoreOnly
/// can be bought now; OutOfStock, SoldOut, Discontinued, PreOrder, PreSale and BackOrder not yet.
fn availability(o: &Value) -> Option<bool> {
    let a = schema_name(&json_text(o, "availability")?);
    Some(matches!(a.as_str(), "instock" | "limitedavailability" | "onlineonly" | "instoreonly"))
}

/// "https://schema.org/InStock", "schema:InStock" and "InStock" are "instock".
fn schema_name(s: &str) -> String {
    s.trim().rsplit(['/', ':']).next().unwrap_or("").to_lowercase()
}

fn is_a(v: &Value, ty: &str) -> bool {
    let matches = |t: &Value| t.as_str().is_some_and(|t| schema_name(t) == ty.to_lowercase());
    match v.get("@type") {
        Some(Value::Array(a)) => a.iter().any(matches),
        Some(t) => matches(t),
        None => false,
    }
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A value that is text, or an object with a `name` (Brand, SizeSpecification, CategoryCode).
fn name_or_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(clean_line(s)).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        Value::Object(_) => json_text(v, "name").or_else(|| json_text(v, "codeValue")),
        Value::Array(a) => a.first().and_then(name_or_text),
        Value::Null => None,
    }
}

fn product_id(p: &Value) -> Option<String> {
    ["sku", "productID", "gtin13", "gtin", "gtin14", "gtin12", "gtin8", "mpn", "url", "@id"]
        .iter()
        .find_map(|k| json_text(p, k))
}

fn id_of(v: &Value) -> Option<&str> {
    v.get("@id").and_then(Value::as_str)
}

/// `image` as a URL, a list, or an `ImageObject`.
fn image(p: &Value) -> Option<String> {
    p.get("image").map(as_list).unwrap_or_default().into_iter().find_map(|i| match i {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => json_text(i, "url").or_else(|| json_text(i, "contentUrl")),
        _ => None,
    })
}

/// A `QuantitativeValue` as "1.2 kg".
fn quantity(v: &Value) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(clean_line(s));
    }
    let value = json_text(v, "value")?;
    let unit = match json_text(v, "unitCode").as_deref() {
        Some("KGM") => "kg".to_string(),
        Some("GRM") => "g".into(),
        Some("LBR") => "lb".into(),
        Some("ONZ") => "oz".into(),
        Some(other) => json_text(v, "unitText").unwrap_or_else(|| other.to_string()),
        None => json_text(v, "unitText").unwrap_or_default(),
    };
    Some(clean_line(&format!("{value} {unit}")))
}
