//! The feed importers' wasm surface: a second, separate browser build (`make wasm` writes it to
//! `pkg/feed/`, from this crate without `model`), which the worker loads only when a page's
//! `data-catalog` is a product feed rather than our catalog JSON. The assistant's own wasm stays
//! within its download budget; a shop that serves our catalog JSON never downloads this one.

use wasm_bindgen::prelude::*;

use crate::shop::feed::{self, Format, ImportOptions, Source};

/// `text` (a Merchant Center XML or TSV feed, Shopify's products.json, a WooCommerce CSV export
/// or a page with JSON-LD) as our catalog: `{catalog: JSON text, report: [lines]}`. A file that is
/// no feed throws an `Error` named `FeedError` whose message says what was expected.
#[wasm_bindgen(js_name = importFeed)]
pub fn import_feed(text: &str, currency: Option<String>) -> Result<JsValue, JsValue> {
    let options = ImportOptions::at(currency, js_sys::Date::now() as i64);
    let imported = feed::read_text("the catalog", text, Format::Auto, &options)
        .and_then(|items| feed::merge(vec![Source { file: "the catalog".into(), items, lang: None }], None));
    let (catalog, report) = imported.map_err(|e| {
        let err = js_sys::Error::new(&e.to_string());
        err.set_name("FeedError");
        JsValue::from(err)
    })?;
    let out = js_sys::Object::new();
    let lines: js_sys::Array = report.lines.iter().map(|l| JsValue::from_str(l)).collect();
    js_sys::Reflect::set(&out, &"catalog".into(), &feed::to_json(&catalog).into())?;
    js_sys::Reflect::set(&out, &"report".into(), &lines)?;
    Ok(out.into())
}
