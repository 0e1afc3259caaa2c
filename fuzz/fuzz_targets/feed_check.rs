//! What every feed target checks: the reader refuses or accepts without panicking, and whatever
//! it accepts becomes a catalog that the catalog file's own validation accepts, with no link
//! that `safe_url` would refuse.

use aisle::shop::Catalog;
use aisle::shop::catalog::safe_url;
use aisle::shop::feed::{self, Format, ImportOptions, Source};

pub fn check(data: &[u8], format: Format) {
    let options = ImportOptions::at(Some("EUR".into()), 1_796_212_800_000);
    let Ok(items) = feed::read("fuzz", data, format, &options) else { return };
    let Ok((catalog, _)) = feed::merge(vec![Source { file: "fuzz".into(), items, lang: None }], None) else { return };
    let again = Catalog::parse(&feed::to_json(&catalog)).expect("an imported catalog is a valid catalog file");
    assert_eq!(again.len(), catalog.len());
    for p in &catalog.products {
        for url in [&p.url, &p.image].into_iter().flatten() {
            assert!(safe_url(url), "kept a link safe_url refuses: {url:?}");
        }
    }
}
