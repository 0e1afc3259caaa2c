//! Any text as the shop's catalog, policies or reviews (what a merchant's page hands us): each
//! parser refuses or accepts without panicking; an accepted catalog is indexed and searched
//! with the same text as the request, and every product's URL passes the safety check.
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
            if let Some(url) = &p.url {
                assert!(safe_url(url), "unsafe url accepted: {url:?}");
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
