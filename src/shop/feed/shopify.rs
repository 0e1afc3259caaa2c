//! Shopify's storefront `products.json` (`https://shop/products.json`, also one product's
//! `{"product": {...}}`): `title`, `handle`, `body_html`, `vendor`, `product_type`, `tags`,
//! `options` and `variants` (`price` and `compare_at_price` as strings, `available`), `images`.
//!
//! A product and its variants stay one catalog product: the variants keep their own ids, option
//! values, prices and stock, and the options become attributes (`sizes`, `color`) for search
//! and filters. The price is the cheapest available variant's ([`Draft::price_from_variants`]).
//! The file carries no currency and no shop address: `--currency` gives the one, and links are
//! the shop's own `/products/{handle}`.

use serde_json::Value;

use super::{Draft, FeedError, FeedItems, ImportOptions, Money, Where, json_text, option_key};
use crate::shop::catalog::{AttrValue, Variant};

/// Whether JSON text looks like Shopify's product list (or one product).
pub(crate) fn looks_like(text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(text) else { return false };
    products(&v).is_some_and(|ps| {
        ps.iter().any(|p| p.get("variants").is_some() || p.get("body_html").is_some() || p.get("handle").is_some())
    })
}

fn products(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Object(o) => match (o.get("products"), o.get("product")) {
            (Some(Value::Array(a)), _) => Some(a.iter().collect()),
            (_, Some(p @ Value::Object(_))) => Some(vec![p]),
            _ => None,
        },
        Value::Array(a) => Some(a.iter().collect()),
        _ => None,
    }
}

pub(crate) fn read(file: &str, text: &str, options: &ImportOptions) -> Result<FeedItems, FeedError> {
    let v: Value = serde_json::from_str(text).map_err(|e| FeedError::Malformed {
        file: file.into(),
        at: Where::Line(e.line() as u64),
        problem: format!("not valid JSON: {e}"),
    })?;
    let list = products(&v)
        .ok_or_else(|| FeedError::NotAFeed { file: file.into(), why: "JSON without a \"products\" list".into() })?;
    if list.is_empty() {
        return Err(FeedError::Empty { file: file.into(), why: "the \"products\" list is empty".into() });
    }
    let mut items = FeedItems::default();
    if options.currency.is_none() {
        items.notes.push("products.json carries no currency; prices are kept without one (give --currency)".into());
    }
    for (i, p) in list.into_iter().enumerate() {
        let at = Where::Item(i + 1);
        match draft(p, options) {
            Ok(d) => items.drafts.push((at, d)),
            Err(why) => items.skip(at, why),
        }
    }
    Ok(items)
}

fn draft(p: &Value, options: &ImportOptions) -> Result<Draft, String> {
    if !p.is_object() {
        return Err("it is not an object".into());
    }
    let id = json_text(p, "id").ok_or("it has no id")?;
    let mut d = Draft {
        id,
        title: json_text(p, "title").unwrap_or_default(),
        description: json_text(p, "body_html").unwrap_or_default(),
        link: json_text(p, "handle").map(|h| format!("/products/{h}")),
        image: first_image(p),
        ..Draft::default()
    };
    if let Some(t) = json_text(p, "product_type") {
        d.category_path(&t);
    }
    if let Some(v) = json_text(p, "vendor") {
        d.attr("brand", &v);
    }
    d.attr_list("tags", tags(p));
    let names = option_names(p);
    let variants: Vec<&Value> =
        p.get("variants").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    for v in &variants {
        let amount = |key: &str| json_text(v, key).and_then(|s| Money::parse(&s)).map(|m| m.amount);
        let (price, compare) = (amount("price"), amount("compare_at_price"));
        let available = v.get("available").and_then(Value::as_bool).unwrap_or(true);
        let Some(vid) = json_text(v, "id") else { continue };
        let mut opts = std::collections::BTreeMap::new();
        for (k, name) in names.iter().enumerate() {
            if let Some(val) = json_text(v, &format!("option{}", k + 1)).filter(|val| val != "Default Title") {
                opts.insert(option_key(name), AttrValue::Text(val));
            }
        }
        let title = json_text(v, "title").filter(|t| t != "Default Title");
        d.variants.push(Variant {
            id: vid,
            title,
            options: opts,
            price,
            regular_price: compare.filter(|c| price.is_some_and(|p| *c > p)),
            in_stock: available,
        });
        if !d.attributes.contains_key("weight")
            && let Some(g) = v.get("grams").and_then(Value::as_f64).filter(|g| *g > 0.0)
        {
            d.attr("weight", &format!("{g} g"));
        }
    }
    d.price_from_variants(options.currency.clone());
    // One variant with no options is the product itself, not a choice.
    if d.variants.len() == 1 && d.variants[0].options.is_empty() {
        d.variants.clear();
    }
    d.options_as_attributes();
    Ok(d)
}

/// Option names by position ("Size", "Color").
fn option_names(p: &Value) -> Vec<String> {
    let mut opts: Vec<(i64, String)> = p
        .get("options")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, o)| {
                    let name = o.get("name").and_then(Value::as_str).or_else(|| o.as_str())?.to_string();
                    Some((o.get("position").and_then(Value::as_i64).unwrap_or(i as i64 + 1), name))
                })
                .collect()
        })
        .unwrap_or_default();
    opts.sort_by_key(|(pos, _)| *pos);
    // "Title" is Shopify's name for the lone option of a product without options; where such an
    // option has real values they name the variant.
    opts.into_iter().map(|(_, n)| if n == "Title" { "variant".into() } else { n }).collect()
}

/// Tags: an array in products.json, a comma-separated string in Shopify's admin exports.
fn tags(p: &Value) -> Vec<String> {
    match p.get("tags") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

fn first_image(p: &Value) -> Option<String> {
    let from = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => json_text(v, "src"),
        _ => None,
    };
    p.get("images")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find_map(from))
        .or_else(|| p.get("image").and_then(from))
}
