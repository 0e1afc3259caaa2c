//! Product feeds a shop already keeps, read into our catalog (`aisle catalog import`).
//!
//! Four formats, each in the file named after it: Google Merchant Center's product data
//! (`google.rs`: RSS 2.0 or Atom XML with the `g:` namespace, and the tab-separated text format),
//! Shopify's storefront `products.json` (`shopify.rs`), WooCommerce's product CSV export
//! (`woocommerce.rs`) and schema.org `Product` / `ProductGroup` JSON-LD in HTML pages
//! (`jsonld.rs`). Each format reader turns an item into a [`Draft`] and says where it was; this
//! module finishes drafts into catalog products by one set of rules (HTML to text, the catalog's
//! limits, links the catalog may follow, the sale price when it is active), merges feeds of one
//! shop in several languages into `i18n`, and keeps a report of what it kept and skipped and why.
//!
//! Real parsers do the reading: `quick-xml`, `csv`, `serde_json`, and `scraper` (html5ever) for
//! HTML. In the browser they are a separate wasm (`src/web_feed.rs`), so that the assistant's
//! own download stays within its budget.

mod google;
mod html;
mod jsonld;
mod shopify;
mod woocommerce;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::catalog::{self, AttrValue, Catalog, CatalogError, Localized, Product, Variant, safe_url};
use super::query::detect_lang;

/// What a feed is written in. `Auto` decides by the file's content, never by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    /// Merchant Center XML (RSS 2.0 or Atom) or its tab-separated text format.
    Google,
    Shopify,
    WooCommerce,
    JsonLd,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "auto" => Format::Auto,
            "google" => Format::Google,
            "shopify" => Format::Shopify,
            "woocommerce" => Format::WooCommerce,
            "jsonld" => Format::JsonLd,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Google => "Google Merchant Center",
            Format::Shopify => "Shopify products.json",
            Format::WooCommerce => "WooCommerce CSV",
            Format::JsonLd => "schema.org JSON-LD",
        }
    }
}

const EXPECTED: &str = "a product feed: Google Merchant Center XML (RSS 2.0 or Atom with the \
    g: namespace) or tab-separated text, Shopify's products.json, a WooCommerce product CSV \
    export, or HTML pages with schema.org Product JSON-LD";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FeedError {
    #[error("{file}: not {EXPECTED} ({why})")]
    NotAFeed { file: String, why: String },
    #[error("{file}: {problem}; save the feed as UTF-8")]
    Encoding { file: String, problem: String },
    #[error("{file}: {at}: {problem}")]
    Malformed { file: String, at: Where, problem: String },
    #[error("{file}: the {format} has no {column:?} column (it has: {found})")]
    MissingColumn { file: String, format: &'static str, column: String, found: String },
    #[error("{file}: no products ({why})")]
    Empty { file: String, why: String },
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("no feed is in {main}, the catalog's main language (the feeds are in: {found}); give --lang or LANG=FILE")]
    NoMainLanguage { main: String, found: String },
}

/// Where in a feed an item or a problem is: a line of a text or XML file, or an item's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Line(u64),
    Item(usize),
    File,
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Line(n) => write!(f, "line {n}"),
            Where::Item(n) => write!(f, "item {n}"),
            Where::File => write!(f, "file"),
        }
    }
}

/// A price as a feed writes it: an amount and, where the feed says, its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Money {
    pub amount: f64,
    pub currency: Option<String>,
}

impl Money {
    /// "15.00 USD", "USD 15.00", "1,299.00 EUR", "12,50 EUR", "€12.50", or a bare number.
    pub fn parse(text: &str) -> Option<Money> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let symbol = [("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "CNY")].iter().find(|(s, _)| t.contains(s));
        let letters: String = t.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        let currency = match (letters.len(), symbol) {
            (3, _) => Some(letters.to_ascii_uppercase()),
            (0, Some((_, code))) => Some(code.to_string()),
            (0, None) => None,
            _ => return None,
        };
        let number: String = t.chars().filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-')).collect();
        let amount = parse_amount(&number)?;
        (amount.is_finite() && amount >= 0.0).then_some(Money { amount, currency })
    }
}

/// A number with either '.' or ',' as the decimal mark: the last mark followed by one or two
/// digits is decimal, any other is a thousands separator ("1,299" is 1299, "12,5" is 12.5).
fn parse_amount(number: &str) -> Option<f64> {
    let last = number.rfind(['.', ',']);
    let (int, frac) = match last {
        Some(i) if (1..=2).contains(&(number.len() - i - 1)) => (&number[..i], &number[i + 1..]),
        _ => (number, ""),
    };
    let int: String = int.chars().filter(|c| c.is_ascii_digit() || *c == '-').collect();
    let joined = if frac.is_empty() { int } else { format!("{int}.{frac}") };
    joined.parse().ok()
}

/// One item as a format reader understood it, before the catalog's rules apply.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub id: String,
    pub title: String,
    /// Plain text or HTML; [`finish`] makes it text either way.
    pub description: String,
    pub link: Option<String>,
    pub image: Option<String>,
    pub price: Option<Money>,
    pub sale_price: Option<Money>,
    /// Whether the sale price applies now (a format with sale dates decides).
    pub sale_active: bool,
    pub in_stock: Option<bool>,
    pub categories: Vec<String>,
    pub attributes: BTreeMap<String, AttrValue>,
    pub group: Option<String>,
    pub variants: Vec<Variant>,
}

impl Draft {
    pub fn attr(&mut self, key: &str, value: &str) {
        let v = clean_line(value);
        if !v.is_empty() {
            self.attributes.insert(key.to_string(), AttrValue::Text(v));
        }
    }

    pub fn attr_list(&mut self, key: &str, values: Vec<String>) {
        let mut v: Vec<String> = Vec::new();
        for s in values.iter().map(|s| clean_line(s)).filter(|s| !s.is_empty()) {
            if !v.contains(&s) {
                v.push(s);
            }
        }
        match v.len() {
            0 => {}
            1 => {
                self.attributes.insert(key.to_string(), AttrValue::Text(v.remove(0)));
            }
            _ => {
                self.attributes.insert(key.to_string(), AttrValue::List(v));
            }
        }
    }

    /// Categories from a path such as "Home & Garden > Kitchen > Kettles", broadest first.
    pub fn category_path(&mut self, path: &str) {
        for part in path.split('>').map(clean_line).filter(|p| !p.is_empty()) {
            if !self.categories.contains(&part) {
                self.categories.push(part);
            }
        }
    }

    /// The options of `variants` as attributes (sizes, colours) so that search and filters see
    /// them, each value listed once.
    pub fn options_as_attributes(&mut self) {
        let mut names: Vec<String> = Vec::new();
        for v in &self.variants {
            for k in v.options.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        for name in names {
            let values = self.variants.iter().filter_map(|v| v.options.get(&name)).map(AttrValue::as_text).collect();
            self.attr_list(&option_key(&name), values);
        }
    }

    /// A product listed with variants: its price from the cheapest variant in stock (that
    /// variant's regular price kept when it is on sale), unless the feed priced the product
    /// itself; in stock when any variant is.
    pub fn price_from_variants(&mut self, currency: Option<String>) {
        if self.variants.is_empty() {
            return;
        }
        let pick = self.variants.iter().filter(|v| v.price.is_some()).min_by(|a, b| {
            b.in_stock.cmp(&a.in_stock).then(a.price.partial_cmp(&b.price).unwrap_or(std::cmp::Ordering::Equal))
        });
        if let Some(v) = pick
            && self.price.is_none()
            && self.sale_price.is_none()
        {
            self.price = v.regular_price.or(v.price).map(|amount| Money { amount, currency: currency.clone() });
            self.sale_price = v.regular_price.and(v.price).map(|amount| Money { amount, currency: currency.clone() });
            self.sale_active = true;
        }
        self.in_stock = Some(self.variants.iter().any(|v| v.in_stock));
    }
}

/// A JSON property as text: a non-blank string (trimmed) or a number; for a list, its first.
pub(crate) fn json_text(v: &serde_json::Value, key: &str) -> Option<String> {
    use serde_json::Value;
    let x = v.get(key)?;
    let x = if let Value::Array(a) = x { a.first()? } else { x };
    match x {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The attribute key for a variant option: the names our catalog uses for size and colour.
pub(crate) fn option_key(name: &str) -> String {
    let n = name.trim().to_lowercase();
    match n.as_str() {
        "size" | "sizes" | "größe" | "grösse" | "taille" | "尺码" | "尺寸" => "sizes".into(),
        "color" | "colour" | "colors" | "colours" | "farbe" | "couleur" | "颜色" => "color".into(),
        _ => n.split_whitespace().collect::<Vec<_>>().join("_"),
    }
}

/// One line of text: whitespace runs become one space.
pub(crate) fn clean_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What one file gave: its products, in feed order, with where each came from.
#[derive(Debug, Default)]
pub struct FeedItems {
    pub format: Option<Format>,
    /// The language the feed declares (RSS `<language>`, Atom or HTML `lang`, `inLanguage`).
    pub lang: Option<String>,
    pub shop_name: Option<String>,
    pub(crate) drafts: Vec<(Where, Draft)>,
    pub skipped: Vec<(Where, String)>,
    pub notes: Vec<String>,
}

impl FeedItems {
    pub(crate) fn skip(&mut self, at: Where, why: impl Into<String>) {
        self.skipped.push((at, why.into()));
    }
}

/// Reads one feed file. Nothing about it is trusted: bytes that are not text, markup that is not
/// a feed and items without what a product needs are errors or skips, never panics.
pub fn read(file: &str, bytes: &[u8], format: Format, options: &ImportOptions) -> Result<FeedItems, FeedError> {
    read_text(file, &decode(file, bytes)?, format, options)
}

/// [`read`] for a feed already decoded (the browser decodes what it fetches).
pub fn read_text(file: &str, text: &str, format: Format, options: &ImportOptions) -> Result<FeedItems, FeedError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Format::Auto => detect(text).ok_or_else(|| FeedError::NotAFeed { file: file.into(), why: sniff(text) })?,
        f => f,
    };
    let mut items = match format {
        Format::Google => google::read(file, text, options.now)?,
        Format::Shopify => shopify::read(file, text, options)?,
        Format::WooCommerce => woocommerce::read(file, text, options)?,
        Format::JsonLd => jsonld::read(file, text)?,
        Format::Auto => unreachable!("resolved above"),
    };
    items.format = Some(format);
    Ok(items)
}

/// The time sale dates are compared with.
pub type Now = chrono::DateTime<chrono::Utc>;

/// Settings a feed may not carry itself.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// ISO 4217 code for feeds without one (Shopify's products.json, WooCommerce's CSV).
    pub currency: Option<String>,
    /// Now, for sale dates: the CLI's clock, or the browser's (the library reads no clock).
    pub now: Now,
}

impl ImportOptions {
    /// `currency` as of `unix_ms` (milliseconds since 1970).
    pub fn at(currency: Option<String>, unix_ms: i64) -> ImportOptions {
        ImportOptions { currency, now: chrono::DateTime::from_timestamp_millis(unix_ms).unwrap_or_default() }
    }
}

/// The text of a feed: UTF-8 (a BOM is dropped), UTF-16 with its BOM, or an XML file in the
/// encoding its declaration names. Anything else is an error that says where it went wrong.
fn decode(file: &str, bytes: &[u8]) -> Result<String, FeedError> {
    let err = |problem: String| FeedError::Encoding { file: file.into(), problem };
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            return Err(err(format!("is not valid {} text", enc.name())));
        }
        return Ok(text.into_owned());
    }
    if let Some(enc) = xml_declared_encoding(bytes)
        && enc != encoding_rs::UTF_8
    {
        let (text, had_errors) = enc.decode_without_bom_handling(bytes);
        if had_errors {
            return Err(err(format!("is not valid {} text, as its XML declaration says", enc.name())));
        }
        return Ok(text.into_owned());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(err(format!("is not UTF-8 (byte 0x{:02X} on line {line})", bytes[at])))
        }
    }
}

/// The `encoding` of an `<?xml …?>` declaration at the start of the bytes.
fn xml_declared_encoding(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let decl = head.trim_start().strip_prefix("<?xml")?.split("?>").next()?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let label = rest[1..].split(quote).next()?;
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
}

/// The format a text is written in, by its content.
fn detect(text: &str) -> Option<Format> {
    let t = text.trim_start();
    let head: String = t.chars().take(4096).collect::<String>().to_ascii_lowercase();
    if t.starts_with('<') {
        if head.contains("application/ld+json") || head.contains("<html") || head.contains("<!doctype html") {
            return Some(Format::JsonLd);
        }
        if google::is_xml_feed(&head) {
            return Some(Format::Google);
        }
        return text.to_ascii_lowercase().contains("application/ld+json").then_some(Format::JsonLd);
    }
    if t.starts_with('{') || t.starts_with('[') {
        if head.contains("\"@context\"") || head.contains("\"@type\"") {
            return Some(Format::JsonLd);
        }
        return shopify::looks_like(t).then_some(Format::Shopify);
    }
    let first = t.lines().next().unwrap_or("");
    if google::is_tsv_header(first) {
        return Some(Format::Google);
    }
    woocommerce::is_header(first).then_some(Format::WooCommerce)
}

/// A few words on what a file that is no feed looks like, for the error.
fn sniff(text: &str) -> String {
    let t = text.trim_start();
    let first: String = t.lines().next().unwrap_or("").chars().take(60).collect();
    if t.is_empty() {
        "the file is empty".into()
    } else if t.starts_with('<') {
        format!("XML or HTML without product data, starting {first:?}")
    } else if t.starts_with('{') || t.starts_with('[') {
        "JSON without Shopify products or schema.org types".into()
    } else {
        format!("the first line is {first:?}")
    }
}

/// A CSV reader's error with its line.
pub(crate) fn csv_error(file: &str, e: csv::Error) -> FeedError {
    let at = e.position().map_or(Where::File, |p| Where::Line(p.line()));
    let problem = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "a cell is not UTF-8 text".to_string(),
        _ => e.to_string(),
    };
    FeedError::Malformed { file: file.into(), at, problem }
}

/// The line a byte offset falls on (1-based).
pub(crate) fn line_at(text: &str, offset: usize) -> u64 {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// What the import kept, skipped and changed, file by file, for the shop to read.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub kept: usize,
    pub skipped: usize,
}

impl Report {
    fn say(&mut self, line: String) {
        self.lines.push(line);
    }
}

/// One feed file with the language its text is in.
pub struct Source {
    pub file: String,
    pub items: FeedItems,
    /// The language given for this file on the command line, if any.
    pub lang: Option<String>,
}

/// Builds one catalog from feeds of one shop. The main language is `main_lang` or else the
/// first file's; files in another language give their products' titles and descriptions to
/// `i18n`, matched by id. Products found twice are kept once; everything dropped is reported.
pub fn merge(sources: Vec<Source>, main_lang: Option<&str>) -> Result<(Catalog, Report), FeedError> {
    let mut report = Report::default();
    let langs: Vec<String> = sources.iter().map(|s| source_lang(s, main_lang)).collect();
    let main = main_lang.map(lang_code).or_else(|| langs.first().cloned()).unwrap_or_else(|| "en".into());
    if !langs.contains(&main) {
        return Err(FeedError::NoMainLanguage { main, found: langs.join(", ") });
    }
    let mut products: Vec<Product> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut shop_name = None;
    let mut translations: Vec<(String, String, Placed)> = Vec::new();
    for (source, lang) in sources.into_iter().zip(langs) {
        let Source { file, items, .. } = source;
        let format = items.format.map(Format::name).unwrap_or("feed");
        let (finished, skipped, notes) = finish_all(items.drafts);
        report.say(format!(
            "{file}: {format}, language {lang}: {} products kept, {} items skipped",
            finished.len(),
            items.skipped.len() + skipped.len()
        ));
        for (at, why) in items.skipped.iter().chain(&skipped) {
            report.say(format!("  skipped {at}: {why}"));
        }
        for note in items.notes.iter().chain(&notes) {
            report.say(format!("  note: {note}"));
        }
        report.skipped += items.skipped.len() + skipped.len();
        shop_name = shop_name.or(items.shop_name);
        if lang == main {
            for (at, p) in finished {
                if by_id.contains_key(&p.id) {
                    report.say(format!("  skipped {at}: product id {:?} appears twice; the first is kept", p.id));
                    report.skipped += 1;
                    continue;
                }
                by_id.insert(p.id.clone(), products.len());
                products.push(p);
            }
        } else {
            translations.push((file, lang, finished));
        }
    }
    for (file, lang, finished) in translations {
        let (mut matched, mut unmatched) = (0, 0);
        for (at, p) in finished {
            let Some(&i) = by_id.get(&p.id) else {
                report.say(format!("  {file}: skipped {at}: no product {:?} in the {main} feed to translate", p.id));
                unmatched += 1;
                continue;
            };
            let l = Localized { title: Some(p.title), description: Some(p.description).filter(|d| !d.is_empty()) };
            products[i].i18n.insert(lang.clone(), l);
            matched += 1;
        }
        report.skipped += unmatched;
        report.say(format!("{file}: {matched} products got their {lang} title and description"));
    }
    report.kept = products.len();
    let catalog = Catalog::from_products(shop_name, products)?;
    Ok((catalog, report))
}

/// A file's language: as given for it (`de=feed.xml`), as it declares, as `--lang` says for
/// files that declare none, or else as its text reads.
fn source_lang(s: &Source, main_lang: Option<&str>) -> String {
    if let Some(l) = s.lang.as_deref().or(s.items.lang.as_deref()).or(main_lang) {
        return lang_code(l);
    }
    let sample: String =
        s.items.drafts.iter().take(50).map(|(_, d)| format!("{} {} ", d.title, d.description)).collect();
    detect_lang(&sample).code().to_string()
}

/// "de-DE", "de_DE" and "DE" are all "de".
pub fn lang_code(l: &str) -> String {
    l.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase()
}

/// Products with where each came from.
type Placed = Vec<(Where, Product)>;

type Finished = (Placed, Vec<(Where, String)>, Vec<String>);

fn finish_all(drafts: Vec<(Where, Draft)>) -> Finished {
    let (mut kept, mut skipped, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for (at, d) in drafts {
        match finish(d, &mut |n| notes.push(format!("{at}: {n}"))) {
            Ok(p) => kept.push((at, p)),
            Err(why) => skipped.push((at, why)),
        }
    }
    (kept, skipped, notes)
}

const MAX_ATTRIBUTE_TEXT: usize = 1_000;

/// A draft as a catalog product, by the catalog's rules; `Err` says why it cannot be one.
fn finish(d: Draft, note: &mut dyn FnMut(String)) -> Result<Product, String> {
    let id = d.id.trim().to_string();
    if id.is_empty() {
        return Err("it has no id".into());
    }
    if id.len() > catalog::MAX_ID {
        return Err(format!("its id is longer than {} bytes", catalog::MAX_ID));
    }
    let mut title = clean_line(&d.title);
    if title.is_empty() {
        return Err(format!("product {id:?} has no title"));
    }
    if title.len() > catalog::MAX_TITLE {
        title = shorten(&title, catalog::MAX_TITLE);
        note(format!("product {id:?}: title shortened to {} bytes", catalog::MAX_TITLE));
    }
    let mut description = html::to_text(&d.description);
    if description.len() > catalog::MAX_DESCRIPTION {
        description = shorten(&description, catalog::MAX_DESCRIPTION);
        note(format!("product {id:?}: description shortened to {} bytes", catalog::MAX_DESCRIPTION));
    }
    let mut link = |field: &str, url: Option<String>| {
        let url = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty())?;
        if safe_url(&url) {
            return Some(url);
        }
        note(format!("product {id:?}: {field} {:?} dropped (only http(s) or same-site links)", shorten(&url, 60)));
        None
    };
    let url = link("link", d.link);
    let image = link("image", d.image);
    let (price, regular_price, currency) = prices(d.price, d.sale_price, d.sale_active);
    let mut categories = d.categories;
    if categories.len() > catalog::MAX_CATEGORIES {
        note(format!("product {id:?}: {} categories, the first {} kept", categories.len(), catalog::MAX_CATEGORIES));
        categories.truncate(catalog::MAX_CATEGORIES);
    }
    let mut attributes = d.attributes;
    for v in attributes.values_mut() {
        if let AttrValue::Text(t) = v
            && t.len() > MAX_ATTRIBUTE_TEXT
        {
            *t = shorten(t, MAX_ATTRIBUTE_TEXT);
        }
    }
    if attributes.len() > catalog::MAX_ATTRIBUTES {
        note(format!("product {id:?}: {} attributes, the first {} kept", attributes.len(), catalog::MAX_ATTRIBUTES));
        attributes = attributes.into_iter().take(catalog::MAX_ATTRIBUTES).collect();
    }
    let mut variants = d.variants;
    variants.retain(|v| !v.id.trim().is_empty() && v.id.len() <= catalog::MAX_ID);
    variants.truncate(catalog::MAX_VARIANTS);
    let group = d.group.map(|g| g.trim().to_string()).filter(|g| !g.is_empty() && g.len() <= catalog::MAX_ID);
    let in_stock = d.in_stock.unwrap_or(true);
    Ok(Product {
        id,
        title,
        description,
        categories,
        price,
        currency,
        regular_price,
        attributes,
        url,
        image,
        in_stock,
        group,
        variants,
        i18n: BTreeMap::new(),
    })
}

/// (price now, regular price when on sale, currency). A sale price counts only when active and
/// below the regular price; without a regular price, an active sale price is the price.
pub(crate) fn prices(
    regular: Option<Money>,
    sale: Option<Money>,
    active: bool,
) -> (Option<f64>, Option<f64>, Option<String>) {
    let sale = sale.filter(|_| active);
    match (regular, sale) {
        (Some(r), Some(s)) if s.amount < r.amount => (Some(s.amount), Some(r.amount), r.currency.or(s.currency)),
        (Some(r), _) => (Some(r.amount), None, r.currency),
        (None, Some(s)) => (Some(s.amount), None, s.currency),
        (None, None) => (None, None, None),
    }
}

/// `text` cut to at most `max` bytes at a sentence end, else a word end, else a character.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let sentence = head.rfind(['.', '!', '?', '。', '！', '？']).filter(|&i| i > max / 3);
    if let Some(i) = sentence {
        let end = i + head[i..].chars().next().map_or(1, char::len_utf8);
        return head[..end].trim_end().to_string();
    }
    match head.rfind(char::is_whitespace).filter(|&i| i > max / 2) {
        Some(i) => head[..i].trim_end().to_string(),
        None => head.to_string(),
    }
}

/// The catalog as JSON in our schema (what `aisle catalog import -o` writes).
pub fn to_json(catalog: &Catalog) -> String {
    #[derive(serde::Serialize)]
    struct Shop<'a> {
        name: &'a str,
    }
    #[derive(serde::Serialize)]
    struct File<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        shop: Option<Shop<'a>>,
        products: &'a [Product],
    }
    let file = File { shop: catalog.shop_name.as_deref().map(|name| Shop { name }), products: &catalog.products };
    serde_json::to_string_pretty(&file).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_the_ways_feeds_write_prices() {
        let m = |s: &str| Money::parse(s).map(|m| (m.amount, m.currency));
        assert_eq!(m("15.00 USD"), Some((15.0, Some("USD".into()))));
        assert_eq!(m("USD 15"), Some((15.0, Some("USD".into()))));
        assert_eq!(m("1,299.00 EUR"), Some((1299.0, Some("EUR".into()))));
        assert_eq!(m("12,50 EUR"), Some((12.5, Some("EUR".into()))));
        assert_eq!(m("1.299,00 EUR"), Some((1299.0, Some("EUR".into()))));
        assert_eq!(m("€9.90"), Some((9.9, Some("EUR".into()))));
        assert_eq!(m("19"), Some((19.0, None)));
        assert_eq!(m("free"), None);
        assert_eq!(m("-3 USD"), None);
    }

    #[test]
    fn shorten_cuts_at_a_sentence_or_word() {
        assert_eq!(shorten("One two. Three four five", 15), "One two.");
        assert_eq!(shorten("alpha beta gamma delta", 16), "alpha beta");
        assert_eq!(shorten("ééééé", 5), "éé");
    }

    #[test]
    fn a_sale_counts_only_when_active_and_lower() {
        let usd = |a| Some(Money { amount: a, currency: Some("USD".into()) });
        assert_eq!(prices(usd(20.0), usd(15.0), true), (Some(15.0), Some(20.0), Some("USD".into())));
        assert_eq!(prices(usd(20.0), usd(15.0), false), (Some(20.0), None, Some("USD".into())));
        assert_eq!(prices(usd(20.0), usd(25.0), true), (Some(20.0), None, Some("USD".into())));
    }
}
