//! Feed import (`aisle catalog import`): each format from an example written to its
//! specification (tests/data/feeds/), the two forms of Merchant Center's feed giving the same
//! catalog, two languages merged, malformed files refused with a clear error, and hostile
//! content kept inert. Every catalog built here also passes the catalog file's own validation.

use std::path::Path;

use aisle::shop::Catalog;
use aisle::shop::catalog::AttrValue;
use aisle::shop::feed::{self, FeedError, Format, ImportOptions, Report, Source};

/// 2026-12-02, between the examples' past and current sales.
const NOW: i64 = 1_796_212_800_000;

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import_with(
    files: &[(&str, Vec<u8>)],
    currency: Option<&str>,
    lang: Option<&str>,
) -> Result<(Catalog, Report), FeedError> {
    let options = ImportOptions::at(currency.map(str::to_string), NOW);
    let mut sources = Vec::new();
    for (name, bytes) in files {
        let items = feed::read(name, bytes, Format::Auto, &options)?;
        sources.push(Source { file: name.to_string(), items, lang: None });
    }
    let (catalog, report) = feed::merge(sources, lang)?;
    // What the import writes is a catalog file the assistant accepts as it is.
    let again = Catalog::parse(&feed::to_json(&catalog)).expect("the written catalog parses");
    assert_eq!(again.products, catalog.products);
    Ok((catalog, report))
}

fn import(names: &[&str]) -> (Catalog, Report) {
    let files: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (*n, data(n))).collect();
    import_with(&files, Some("USD"), None).expect("imports")
}

fn text(c: &Catalog, id: &str, key: &str) -> Option<String> {
    c.get(id).unwrap_or_else(|| panic!("no product {id}")).attribute(key)
}

#[test]
fn merchant_center_rss_maps_every_field() {
    let (c, report) = import(&["google-rss.xml"]);
    assert_eq!(c.len(), 4, "{:#?}", report.lines);
    assert_eq!(c.shop_name.as_deref(), Some("Northwind Outfitters"));
    let k = c.get("kettle-17").unwrap();
    assert_eq!(k.title, "Steel Kettle 1.7 l");
    assert_eq!(k.description, "Brushed steel kettle & auto shut-off.\nBoils 1.7 l in 4 minutes");
    // The sale runs until 2099: its price is the price, the regular one is kept.
    assert_eq!((k.price, k.regular_price, k.currency.as_deref()), (Some(39.0), Some(49.0), Some("USD")));
    assert_eq!(k.categories, ["Home & Garden", "Kitchen", "Kettles"]);
    assert_eq!(k.url.as_deref(), Some("https://northwind.example/p/kettle-17"));
    assert_eq!(k.image.as_deref(), Some("https://northwind.example/img/kettle-17.jpg"));
    for (key, value) in [
        ("brand", "Hearth"),
        ("gtin", "4006381333931"),
        ("color", "silver"),
        ("material", "stainless steel"),
        ("weight", "1.2 kg"),
        ("condition", "new"),
    ] {
        assert_eq!(text(&c, "kettle-17", key).as_deref(), Some(value), "{key}");
    }
    assert!(k.in_stock);
    // Variants listed one by one share their group; the 2020 sale is over.
    let s = c.get("jacket-navy-s").unwrap();
    assert_eq!((s.price, s.regular_price), (Some(120.0), None));
    assert!(s.in_stock, "'in stock' is the old spelling of in_stock");
    assert_eq!(s.group.as_deref(), Some("jacket-navy"));
    assert_eq!(text(&c, "jacket-navy-s", "size").as_deref(), Some("S"));
    let m = c.get("jacket-navy-m").unwrap();
    assert!(!m.in_stock);
    assert_eq!(m.group.as_deref(), Some("jacket-navy"));
    let t = c.get("tent-2p").unwrap();
    assert_eq!(t.title, "Ridge Tent for 2 <Lightweight>", "a title is text, not markup");
    assert!(!t.in_stock, "a preorder is not in stock yet");
    assert_eq!(text(&c, "tent-2p", "availability").as_deref(), Some("preorder"));
    assert_eq!(text(&c, "tent-2p", "weight").as_deref(), Some("2.1 kg"), "product_detail");
    assert_eq!(text(&c, "tent-2p", "capacity").as_deref(), Some("2 persons"));
    assert_eq!(
        t.attributes.get("highlights"),
        Some(&AttrValue::List(vec!["Pitches in five minutes".into(), "Two doors".into()]))
    );
}

#[test]
fn merchant_center_tsv_and_xml_give_the_same_catalog() {
    let (xml, _) = import(&["google-rss.xml"]);
    let (tsv, report) = import(&["google.tsv"]);
    assert_eq!(tsv.len(), xml.len(), "{:#?}", report.lines);
    for (a, b) in xml.products.iter().zip(&tsv.products) {
        assert_eq!(a, b);
    }
}

#[test]
fn feeds_in_two_languages_merge_into_i18n() {
    let (c, report) = import(&["google-rss.xml", "google-atom-de.xml"]);
    assert_eq!(c.len(), 4, "the German feed adds translations, not products");
    let k = c.get("kettle-17").unwrap();
    assert_eq!(k.title_in("de"), "Wasserkocher aus Stahl 1,7 l");
    assert_eq!(
        k.description_in("de"),
        "Wasserkocher aus gebürstetem Stahl mit Abschaltautomatik.",
        "Latin-1, as declared"
    );
    assert_eq!(c.get("jacket-navy-s").unwrap().title_in("de"), "Regenjacke Storm, Marine, S");
    assert_eq!(
        c.get("tent-2p").unwrap().title_in("de"),
        "Ridge Tent for 2 <Lightweight>",
        "no German text: the default"
    );
    let said = report.lines.join("\n");
    assert!(said.contains("bag-polar"), "the product only the German feed has is reported: {said}");
    // The main language can be the second file's.
    let files = [("google-rss.xml", data("google-rss.xml")), ("google-atom-de.xml", data("google-atom-de.xml"))];
    let (de, _) = import_with(&files, None, Some("de")).unwrap();
    assert_eq!(de.len(), 3);
    assert_eq!(de.get("kettle-17").unwrap().title_in("en"), "Steel Kettle 1.7 l");
    // A main language no feed is in is an error, not an empty catalog.
    let e = import_with(&files[..1], None, Some("zh")).map(|_| ()).unwrap_err();
    assert!(matches!(e, FeedError::NoMainLanguage { .. }), "{e}");
}

#[test]
fn shopify_products_keep_their_variants() {
    let (c, report) = import(&["shopify-products.json"]);
    assert_eq!(c.len(), 2, "{:#?}", report.lines);
    assert!(report.lines.iter().any(|l| l.contains("item 3") && l.contains("no title")), "{:#?}", report.lines);
    let s = c.get("7611349762235").unwrap();
    assert_eq!(s.title, "Merino Trail Sock");
    assert_eq!(s.description, "Cushioned merino sock for long days on the trail.\n70% merino wool", "no script text");
    assert_eq!(s.url.as_deref(), Some("/products/merino-trail-sock"));
    assert_eq!((s.price, s.regular_price, s.currency.as_deref()), (Some(18.0), Some(24.0), Some("USD")));
    assert!(s.in_stock);
    assert_eq!(s.variants.len(), 3);
    let m = &s.variants[1];
    assert_eq!(
        (
            m.id.as_str(),
            m.options.get("sizes").map(AttrValue::as_text).as_deref(),
            m.options.get("color").map(AttrValue::as_text).as_deref()
        ),
        ("43222371664059", Some("M"), Some("Grey"))
    );
    assert!(!m.in_stock);
    assert_eq!(s.attributes.get("sizes"), Some(&AttrValue::List(vec!["S".into(), "M".into()])));
    assert_eq!(s.attributes.get("color"), Some(&AttrValue::List(vec!["Grey".into(), "Blue".into()])));
    assert_eq!(text(&c, "7611349762235", "brand").as_deref(), Some("Northwind"));
    assert_eq!(s.categories, ["Socks"]);
    let mug = c.get("7611349794999").unwrap();
    assert!(mug.variants.is_empty(), "one variant without options is the product itself");
    assert_eq!((mug.price, mug.image.as_deref()), (Some(12.5), None));
    assert_eq!(text(&c, "7611349794999", "weight").as_deref(), Some("190 g"));
}

#[test]
fn woocommerce_export_with_variations_and_sales() {
    let (c, report) = import(&["woocommerce.csv"]);
    let said = report.lines.join("\n");
    assert_eq!(c.len(), 3, "{said}");
    for skipped in ["a draft", "hidden", "woo-gone"] {
        assert!(said.contains(skipped), "{skipped}: {said}");
    }
    let f = c.get("44").unwrap();
    assert_eq!(f.title, "Polar Fleece Hoodie");
    assert_eq!(f.description, "A warm fleece hoodie.\nMidweight fleece with a full zip.\nMachine washable at 30 °C.");
    assert_eq!(f.categories, ["Clothing", "Hoodies"]);
    assert_eq!(f.attributes.get("tags"), Some(&AttrValue::List(vec!["fleece".into(), "winter, warm".into()])));
    assert_eq!(text(&c, "44", "weight").as_deref(), Some("0.5 kg"));
    assert_eq!(text(&c, "44", "dimensions").as_deref(), Some("70 x 50 x 3 cm"));
    assert_eq!(f.image.as_deref(), Some("https://shop.example/wp-content/uploads/fleece-red.jpg"));
    assert_eq!(f.url.as_deref(), Some("/?post_type=product&p=44"));
    assert_eq!(f.variants.len(), 2, "both variations: by SKU and by id:44");
    assert_eq!((f.variants[0].price, f.variants[0].regular_price), (Some(49.9), Some(59.9)));
    assert!(!f.variants[1].in_stock);
    assert_eq!(f.variants[1].options.get("sizes").map(AttrValue::as_text).as_deref(), Some("Large"));
    assert_eq!((f.price, f.regular_price, f.currency.as_deref()), (Some(49.9), Some(59.9), Some("USD")));
    assert!(f.in_stock);
    let b = c.get("47").unwrap();
    assert_eq!((b.price, b.regular_price), (Some(29.5), None), "a decimal comma; the sale ended in 2020");
    assert_eq!(text(&c, "47", "gtin").as_deref(), Some("0012345678905"));
    let m = c.get("48").unwrap();
    assert_eq!(m.title, "=Trail Map Set", "the exporter's formula guard is undone");
    assert_eq!(m.url.as_deref(), Some("https://partner.example/maps"));
}

#[test]
fn json_ld_groups_and_products() {
    let (c, report) = import(&["product-page.html", "product-page-graph.html"]);
    let said = report.lines.join("\n");
    assert_eq!(c.len(), 2, "{said}");
    assert!(said.contains("not valid JSON-LD"), "{said}");
    let coat = c.get("44E01").unwrap();
    assert_eq!(coat.title, "Wool winter coat");
    assert_eq!((coat.price, coat.currency.as_deref()), (Some(39.99), Some("USD")));
    assert!(coat.in_stock);
    assert_eq!(coat.variants.len(), 2);
    assert_eq!(coat.variants[1].options.get("sizes").map(AttrValue::as_text).as_deref(), Some("large"));
    assert!(!coat.variants[1].in_stock, "BackOrder");
    assert_eq!(coat.attributes.get("color"), Some(&AttrValue::List(vec!["Green".into(), "light blue".into()])));
    assert_eq!(text(&c, "44E01", "brand").as_deref(), Some("Good brand"));
    let stove = c.get("STOVE-1").unwrap();
    assert_eq!((stove.price, stove.regular_price, stove.currency.as_deref()), (Some(44.0), Some(55.0), Some("GBP")));
    assert_eq!(stove.description, "Folds to the size of an egg.\nBoils 1 l in 3.5 minutes.");
    assert_eq!(stove.image.as_deref(), Some("https://northwind.example/img/stove.jpg"));
    assert_eq!(stove.categories, ["Camping", "Cooking"]);
    for (key, value) in
        [("weight", "85 g"), ("rating", "4.6"), ("review_count", "31"), ("fuel", "butane/propane"), ("brand", "Hearth")]
    {
        assert_eq!(text(&c, "STOVE-1", key).as_deref(), Some(value), "{key}");
    }
}

fn read_err(name: &str, bytes: &[u8]) -> FeedError {
    feed::read(name, bytes, Format::Auto, &ImportOptions::at(None, NOW)).map(|_| ()).expect_err("refused")
}

#[test]
fn malformed_files_are_clear_errors() {
    let rss = String::from_utf8(data("google-rss.xml")).unwrap();
    let cut = &rss[..rss.find("<g:brand>Northwind</g:brand>").unwrap()];
    let e = read_err("cut.xml", cut.as_bytes());
    assert!(matches!(e, FeedError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
    let broken = rss.replace("</g:title>", "</g:titel>");
    let e = read_err("broken.xml", broken.as_bytes());
    assert!(matches!(e, FeedError::Malformed { at: feed::Where::Line(_), .. }), "{e}");

    let woo = String::from_utf8(data("woocommerce.csv")).unwrap();
    let no_name = woo.replacen(",Name,", ",Title,", 1);
    let e = read_err("woo.csv", no_name.as_bytes());
    let found = feed::read("woo.csv", no_name.as_bytes(), Format::WooCommerce, &ImportOptions::at(None, NOW))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(found, FeedError::MissingColumn { .. }), "{found}");
    assert!(matches!(e, FeedError::NotAFeed { .. } | FeedError::MissingColumn { .. }), "{e}");

    let mut latin1 = data("google.tsv");
    latin1.extend_from_slice(b"x-1\tCaf\xe9 Mug\n");
    let e = read_err("latin1.tsv", &latin1);
    assert!(matches!(e, FeedError::Encoding { .. }) && e.to_string().contains("line 6"), "{e}");

    for (name, text) in [
        ("notes.txt", "hello, world"),
        ("data.json", r#"{"items": [1, 2]}"#),
        ("page.xml", "<html><body>hi</body></html>"),
        ("empty", ""),
    ] {
        let e = read_err(name, text.as_bytes());
        assert!(matches!(e, FeedError::NotAFeed { .. }), "{name}: {e}");
        assert!(e.to_string().contains("Merchant Center"), "the error says what was expected: {e}");
    }
    let plain_rss =
        r#"<rss version="2.0"><channel><title>Blog</title><item><title>Post</title></item></channel></rss>"#;
    assert!(matches!(read_err("blog.xml", plain_rss.as_bytes()), FeedError::NotAFeed { .. }));
    let e = read_err("bad.json", br#"{"products": [{"id": 1, "variants": [}"#);
    assert!(matches!(e, FeedError::NotAFeed { .. } | FeedError::Malformed { .. }), "{e}");
}

#[test]
fn hostile_content_stays_inert() {
    let huge = "A".repeat(1 << 20);
    let feed = format!(
        r#"<?xml version="1.0"?><rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>
        <item><g:id>h1</g:id><g:title>{huge}</g:title><g:description>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;Plain words.</g:description>
        <g:link>javascript:alert(3)</g:link><g:image_link>data:image/svg+xml,&lt;svg onload=alert(4)&gt;</g:image_link><g:price>5.00 USD</g:price></item>
        <item><g:id>h2</g:id><g:title>&lt;b onmouseover=alert(5)&gt;Mug&lt;/b&gt;</g:title><g:link>//evil.example/x</g:link><g:price>NaN USD</g:price></item>
        <item><g:title>No id</g:title></item>
        </channel></rss>"#
    );
    let (c, report) = import_with(&[("hostile.xml", feed.into_bytes())], None, None).unwrap();
    let said = report.lines.join("\n");
    let h1 = c.get("h1").unwrap();
    assert_eq!(h1.title.len(), 300, "shortened to the catalog's limit");
    assert_eq!(h1.description, "Plain words.");
    assert_eq!((h1.url.as_deref(), h1.image.as_deref()), (None, None));
    let h2 = c.get("h2").unwrap();
    assert_eq!(h2.title, "<b onmouseover=alert(5)>Mug</b>", "kept as text; the widget renders text");
    assert_eq!((h2.url.as_deref(), h2.price), (None, None));
    for expected in ["title shortened", "javascript:alert(3)", "//evil.example/x", "no id", "NaN USD"] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
    let shop = r#"{"products":[{"id":1,"title":"x","handle":"a\"><script>","body_html":"<iframe src=javascript:alert(1)></iframe>ok","variants":[{"id":2,"price":"-5"}]}]}"#;
    let (c, _) = import_with(&[("shop.json", shop.as_bytes().to_vec())], None, None).unwrap();
    let p = c.get("1").unwrap();
    assert_eq!((p.description.as_str(), p.price), ("ok", None));
}
