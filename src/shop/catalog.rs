//! The shop's catalog: the only source of products, prices and links the assistant may show.
//!
//! Schema (JSON): `{"products": [{"id", "title", "description", "categories": [...], "price",
//! "currency", "regular_price", "attributes": {...}, "url", "image", "in_stock", "group",
//! "variants": [{"id", "title", "options": {"size": "M"}, "price", "in_stock"}], "i18n": {"de":
//! {"title", "description"}, "zh": {...}}}]}` — `id` and `title` required, the rest optional.
//! `price` is what the shopper pays now; `regular_price` is the price before a sale. Products
//! that share a `group` are variants the feed listed one by one (Merchant Center's
//! `item_group_id`); `variants` are the ones a feed listed under one product (Shopify).
//!
//! Validation is strict about structure (every error names the product and field) but not about
//! links: a catalog is the shop's own file, and one odd image URL must not take the assistant
//! down. Links are kept as written and [`safe_url`] decides whether one may be followed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Limits that keep a hostile or broken catalog from exhausting memory or the prompt.
pub const MAX_PRODUCTS: usize = 100_000;
pub(crate) const MAX_ID: usize = 128;
pub(crate) const MAX_TITLE: usize = 300;
pub(crate) const MAX_DESCRIPTION: usize = 5_000;
pub(crate) const MAX_URL: usize = 2_048;
pub(crate) const MAX_ATTRIBUTES: usize = 64;
pub(crate) const MAX_CATEGORIES: usize = 32;
pub(crate) const MAX_VARIANTS: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CatalogError {
    #[error("catalog is not valid JSON: {0}")]
    Json(String),
    #[error("catalog has {0} products (at most {MAX_PRODUCTS})")]
    TooMany(usize),
    #[error("product #{index}: {field} {problem}")]
    Field { index: usize, field: String, problem: String },
    #[error("product {id:?}: {field} {problem}")]
    ProductField { id: String, field: String, problem: String },
    #[error("product id {0:?} appears twice")]
    DuplicateId(String),
}

/// An attribute value as shops write them: text, number, yes/no, or a list (sizes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<String>),
}

impl AttrValue {
    /// The value as words for search and prompts.
    pub fn as_text(&self) -> String {
        match self {
            AttrValue::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            AttrValue::Number(n) => format!("{n}"),
            AttrValue::Text(s) => s.clone(),
            AttrValue::List(v) => v.join(", "),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Localized {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One buyable version of a product (a size, a colour), as the feed listed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Option name to value, for example `{"sizes": "M", "color": "blue"}`; values as
    /// attributes take them (a size may be the number 42).
    #[serde(default)]
    pub options: BTreeMap<String, AttrValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regular_price: Option<f64>,
    #[serde(default = "yes")]
    pub in_stock: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regular_price: Option<f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttrValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub in_stock: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub i18n: BTreeMap<String, Localized>,
}

impl Product {
    /// Title in `lang` when the catalog has it, else the default title.
    pub fn title_in(&self, lang: &str) -> &str {
        self.i18n.get(lang).and_then(|l| l.title.as_deref()).unwrap_or(&self.title)
    }

    pub fn description_in(&self, lang: &str) -> &str {
        self.i18n.get(lang).and_then(|l| l.description.as_deref()).unwrap_or(&self.description)
    }

    /// The attribute `key` as text, if present.
    pub fn attribute(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(AttrValue::as_text)
    }

    /// The price as shown to a shopper, from the catalog only (`None` without a price).
    pub fn price_label(&self) -> Option<String> {
        let p = self.price?;
        let cur = self.currency.as_deref().unwrap_or("");
        Some(match cur {
            "USD" | "" => format!("${p:.2}"),
            "EUR" => format!("{p:.2} €"),
            "CNY" => format!("¥{p:.2}"),
            "GBP" => format!("£{p:.2}"),
            other => format!("{p:.2} {other}"),
        })
    }
}

/// Whether a catalog link may be followed: `http(s)` or a same-origin relative path. Anything
/// else (`javascript:`, `data:`, `vbscript:`, protocol-relative `//host`) is refused.
pub fn safe_url(url: &str) -> bool {
    let u = url.trim();
    if u.is_empty() || u.len() > MAX_URL || u.chars().any(|c| c.is_control()) {
        return false;
    }
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return true;
    }
    if u.starts_with("//") || u.starts_with("\\\\") {
        return false;
    }
    // Relative: no scheme before the first '/', '?' or '#'.
    let head = u.split(['/', '?', '#']).next().unwrap_or("");
    !head.contains(':')
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub shop_name: Option<String>,
    pub products: Vec<Product>,
    by_id: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct ShopInfo {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct CatalogFile {
    #[serde(default)]
    shop: Option<ShopInfo>,
    products: Vec<serde_json::Value>,
}

impl Catalog {
    pub fn parse(json: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json).map_err(|e| CatalogError::Json(e.to_string()))?;
        if file.products.len() > MAX_PRODUCTS {
            return Err(CatalogError::TooMany(file.products.len()));
        }
        let mut products = Vec::with_capacity(file.products.len());
        let mut by_id = HashMap::with_capacity(file.products.len());
        for (index, raw) in file.products.into_iter().enumerate() {
            let p = parse_product(index, raw)?;
            if by_id.insert(p.id.clone(), products.len()).is_some() {
                return Err(CatalogError::DuplicateId(p.id));
            }
            products.push(p);
        }
        Ok(Catalog { shop_name: file.shop.and_then(|s| s.name), products, by_id })
    }

    /// A catalog from products built in code (a feed import), checked by the same rules as a
    /// catalog file: each product goes through the file's validation.
    pub fn from_products(shop_name: Option<String>, products: Vec<Product>) -> Result<Self, CatalogError> {
        if products.len() > MAX_PRODUCTS {
            return Err(CatalogError::TooMany(products.len()));
        }
        let mut checked = Vec::with_capacity(products.len());
        let mut by_id = HashMap::with_capacity(products.len());
        for (index, p) in products.iter().enumerate() {
            let raw = serde_json::to_value(p).map_err(|e| CatalogError::Json(e.to_string()))?;
            let p = parse_product(index, raw)?;
            if by_id.insert(p.id.clone(), checked.len()).is_some() {
                return Err(CatalogError::DuplicateId(p.id));
            }
            checked.push(p);
        }
        Ok(Catalog { shop_name, products: checked, by_id })
    }

    pub fn get(&self, id: &str) -> Option<&Product> {
        self.by_id.get(id).map(|&i| &self.products[i])
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Every category, most common first.
    pub fn categories(&self) -> Vec<String> {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &self.products {
            for c in &p.categories {
                *count.entry(c.as_str()).or_default() += 1;
            }
        }
        let mut v: Vec<(&str, usize)> = count.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(c, _)| c.to_string()).collect()
    }
}

/// One product, checked field by field so that an error can say which.
fn parse_product(index: usize, raw: serde_json::Value) -> Result<Product, CatalogError> {
    let at = |field: &str, problem: &str| CatalogError::Field { index, field: field.into(), problem: problem.into() };
    // Fields are taken out of the product's JSON object, not copied (a large catalog is mostly
    // its text).
    let serde_json::Value::Object(mut obj) = raw else { return Err(at("product", "is not an object")) };
    let id = match obj.get("id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => return Err(at("id", "must be a string")),
        None => return Err(at("id", "is missing")),
    };
    let id_check =
        |problem: &str| CatalogError::ProductField { id: id.clone(), field: "id".into(), problem: problem.into() };
    if id.trim().is_empty() {
        return Err(at("id", "is empty"));
    }
    if id.len() > MAX_ID {
        return Err(id_check(&format!("is longer than {MAX_ID} bytes")));
    }
    let field_err =
        |field: &str, problem: String| CatalogError::ProductField { id: id.clone(), field: field.into(), problem };
    let mut get = |key: &str| obj.remove(key).filter(|v| !v.is_null());
    fn typed<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Result<Option<T>, String> {
        v.map(serde_json::from_value).transpose().map_err(|e| e.to_string())
    }
    macro_rules! field {
        ($key:literal) => {
            typed(get($key)).map_err(|e| field_err($key, e))?
        };
    }
    let p = Product {
        title: field!("title").ok_or_else(|| field_err("title", "is missing".into()))?,
        description: field!("description").unwrap_or_default(),
        categories: field!("categories").unwrap_or_default(),
        price: field!("price"),
        currency: field!("currency"),
        regular_price: field!("regular_price"),
        attributes: field!("attributes").unwrap_or_default(),
        url: field!("url"),
        image: field!("image"),
        in_stock: field!("in_stock").unwrap_or(true),
        group: field!("group"),
        variants: field!("variants").unwrap_or_default(),
        i18n: field!("i18n").unwrap_or_default(),
        id: id.clone(),
    };
    let bad =
        |field: &str, problem: String| CatalogError::ProductField { id: id.clone(), field: field.into(), problem };
    if p.title.trim().is_empty() {
        return Err(bad("title", "is empty".into()));
    }
    if p.title.len() > MAX_TITLE {
        return Err(bad("title", format!("is longer than {MAX_TITLE} bytes")));
    }
    if p.description.len() > MAX_DESCRIPTION {
        return Err(bad("description", format!("is longer than {MAX_DESCRIPTION} bytes")));
    }
    let prices = [("price", p.price), ("regular_price", p.regular_price)].into_iter().chain(
        p.variants.iter().flat_map(|v| [("variants.price", v.price), ("variants.regular_price", v.regular_price)]),
    );
    for (field, price) in prices {
        if let Some(price) = price
            && !(price.is_finite() && price >= 0.0)
        {
            return Err(bad(field, format!("must be a number >= 0, got {price}")));
        }
    }
    if p.variants.len() > MAX_VARIANTS {
        return Err(bad("variants", format!("has more than {MAX_VARIANTS} entries")));
    }
    if p.variants.iter().any(|v| v.id.trim().is_empty() || v.id.len() > MAX_ID) {
        return Err(bad("variants.id", format!("must be 1 to {MAX_ID} bytes")));
    }
    if p.group.as_ref().is_some_and(|g| g.len() > MAX_ID) {
        return Err(bad("group", format!("is longer than {MAX_ID} bytes")));
    }
    if p.attributes.len() > MAX_ATTRIBUTES {
        return Err(bad("attributes", format!("has more than {MAX_ATTRIBUTES} entries")));
    }
    if p.categories.len() > MAX_CATEGORIES {
        return Err(bad("categories", format!("has more than {MAX_CATEGORIES} entries")));
    }
    for (lang, l) in &p.i18n {
        let long = l.title.as_ref().is_some_and(|t| t.len() > MAX_TITLE)
            || l.description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION);
        if long {
            return Err(bad(&format!("i18n.{lang}"), "is too long".into()));
        }
    }
    for (field, v) in [("url", &p.url), ("image", &p.image)] {
        if v.as_ref().is_some_and(|u| u.len() > MAX_URL) {
            return Err(bad(field, format!("is longer than {MAX_URL} bytes")));
        }
    }
    Ok(p)
}
