//! Any text as the shop's catalog, policies or reviews (what a merchant's page hands us): each
//! parser refuses or accepts without panicking; an accepted catalog is indexed and searched
//! with the same text as the request. Links are kept as written (the page decides whether to
//! follow one), so the property checked is that `safe_url` never admits a script, data or
//! protocol-relative link.
#![no_main]

use aisle::shop::catalog::safe_url;
use aisle::shop::query::parse_constraints;
use aisle::shop::retrieve::ProductIndex;
use aisle::shop::{Catalog, Policies, reviews};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(catalog) = Catalog::parse(text) {
        let index = ProductIndex::new(&catalog);
        let request = text.get(..text.len().min(200)).unwrap_or("");
        let _ = index.search(&catalog, request, &parse_constraints(request), None, 5);
        for p in &catalog.products {
            for url in [&p.url, &p.image].into_iter().flatten() {
                if safe_url(url) {
                    let l = url.trim().to_ascii_lowercase();
                    let bad = ["javascript:", "data:", "vbscript:", "//", "\\\\"].iter().any(|s| l.starts_with(s));
                    assert!(!bad, "safe_url admitted {url:?}");
                }
            }
            let _ = p.price_label();
        }
    }
    if let Ok(policies) = Policies::parse(text) {
        let _ = policies.top(text.get(..text.len().min(200)).unwrap_or(""), 3, 0.1);
    }
    if let Ok(rs) = reviews::parse(text) {
        let _ = reviews::analyze(&rs);
    }
});
