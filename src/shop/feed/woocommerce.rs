//! WooCommerce's product CSV export (Products → Export), with its columns as WooCommerce writes
//! them: `ID`, `Type`, `SKU`, `Name`, `Published`, `Visibility in catalog`, `Short description`,
//! `Description`, `Date sale price starts`/`ends`, `In stock?`, `Sale price`, `Regular price`,
//! `Categories`, `Tags`, `Images`, `Parent`, `External URL`, `Weight (kg)`…, and `Attribute N
//! name` / `Attribute N value(s)`.
//!
//! The exporter's own escapes are undone: a `'` it puts before a leading `= + - @`, newlines in
//! descriptions written as `\n`, and list items joined by ", " with their own commas as `\,`.
//! A variable product and its `variation` rows (found by `Parent`: a SKU or `id:N`) become one
//! catalog product with variants. Drafts, private and hidden products are left out. The export
//! has no currency (give `--currency`) and no permalinks: a product links to the shop's own
//! `/?post_type=product&p={ID}`, which WordPress redirects to the product page.

use std::collections::{BTreeMap, HashMap};

use super::{Draft, FeedError, FeedItems, ImportOptions, Money, Now, Where, clean_line, csv_error, option_key, prices};
use crate::shop::catalog::{AttrValue, Variant};

/// Whether a first line is WooCommerce's export header.
pub(crate) fn is_header(line: &str) -> bool {
    let cols = header_cells(line);
    let has = |c: &str| cols.iter().any(|h| h == c);
    has("name") && (has("type") || has("regular price") || has("sku"))
}

fn header_cells(line: &str) -> Vec<String> {
    line.split(',').map(|c| c.trim().trim_start_matches('\u{feff}').trim_matches('"').trim().to_lowercase()).collect()
}

/// One row, with cells found by header name.
struct Row<'a> {
    cols: &'a HashMap<String, usize>,
    record: csv::StringRecord,
    at: Where,
}

impl Row<'_> {
    /// A cell as written, with the exporter's formula guard undone.
    fn get(&self, col: &str) -> Option<String> {
        let cell = self.record.get(*self.cols.get(col)?)?.trim();
        let cell = match cell.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
            _ => cell,
        };
        (!cell.is_empty()).then(|| cell.to_string())
    }

    /// A description cell: the exporter writes newlines as `\n` (and a literal `\n` as `\\n`).
    fn text(&self, col: &str) -> Option<String> {
        self.get(col).map(|s| unescape_newlines(&s))
    }

    fn list(&self, col: &str) -> Vec<String> {
        self.get(col).map(|s| split_list(&s)).unwrap_or_default()
    }
}

fn unescape_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("\\\\n") {
            out.push_str("\\n");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else {
            out.push('\\');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// "a, b\, c, d" → ["a", "b, c", "d"].
fn split_list(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => items.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    items.push(cur);
    items.into_iter().map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect()
}

pub(crate) fn read(file: &str, text: &str, options: &ImportOptions) -> Result<FeedItems, FeedError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(file, e))?.clone();
    let names: Vec<String> =
        headers.iter().map(|h| clean_line(h.trim_start_matches('\u{feff}')).to_lowercase()).collect();
    let cols: HashMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    // A product needs a name, and an ID or a SKU to be known by.
    let missing = if !cols.contains_key("name") {
        Some("Name")
    } else if !cols.contains_key("id") && !cols.contains_key("sku") {
        Some("ID")
    } else {
        None
    };
    if let Some(column) = missing {
        return Err(FeedError::MissingColumn {
            file: file.into(),
            format: "WooCommerce CSV",
            column: column.into(),
            found: headers.iter().collect::<Vec<_>>().join(", "),
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(file, e))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let at = Where::Line(record.position().map_or(0, |p| p.line()));
        rows.push(Row { cols: &cols, record, at });
    }
    if rows.is_empty() {
        return Err(FeedError::Empty { file: file.into(), why: "a header line and no products".into() });
    }
    let mut items = FeedItems::default();
    if options.currency.is_none() {
        items
            .notes
            .push("a WooCommerce export carries no currency; prices are kept without one (give --currency)".into());
    }
    let units = Units::from_headers(&names);
    let mut parents: Vec<(Where, Draft)> = Vec::new();
    let mut key_of: HashMap<String, usize> = HashMap::new();
    let mut variations: Vec<&Row<'_>> = Vec::new();
    for row in &rows {
        let kind = row.list("type");
        if kind.iter().any(|k| k == "variation") {
            variations.push(row);
            continue;
        }
        if let Some(why) = left_out(row) {
            items.skip(row.at, why);
            continue;
        }
        let Some(d) = product(row, &units, options) else {
            items.skip(row.at, "it has neither an ID nor a SKU");
            continue;
        };
        if let Some(id) = row.get("id") {
            key_of.insert(format!("id:{id}"), parents.len());
        }
        if let Some(sku) = row.get("sku") {
            key_of.insert(sku, parents.len());
        }
        parents.push((row.at, d));
    }
    for row in variations {
        let parent = row.get("parent").unwrap_or_default();
        let Some(&p) = key_of.get(&parent) else {
            items.skip(row.at, format!("variation of {parent:?}, which is not a product in this file"));
            continue;
        };
        if let Some(why) = left_out(row) {
            items.skip(row.at, why);
            continue;
        }
        match variant(row, options) {
            Some(v) => parents[p].1.variants.push(v),
            None => items.skip(row.at, "variation with neither an ID nor a SKU"),
        }
    }
    for (_, d) in &mut parents {
        d.price_from_variants(options.currency.clone());
    }
    items.drafts = parents;
    Ok(items)
}

/// Why a row is not for shoppers: a draft, private or pending product, or one hidden from the
/// catalog and search.
fn left_out(row: &Row<'_>) -> Option<String> {
    let published = row.get("published").unwrap_or_else(|| "1".into());
    let status = match published.as_str() {
        "-1" => Some("a draft"),
        "0" => Some("private"),
        "2" => Some("pending review"),
        _ => None,
    };
    if let Some(s) = status {
        return Some(format!("the product is {s} (Published = {published})"));
    }
    (row.get("visibility in catalog").as_deref() == Some("hidden"))
        .then(|| "the product is hidden from the catalog".into())
}

/// Units in the headers: "Weight (kg)", "Length (cm)".
struct Units {
    weight: Option<(String, String)>,
    dims: Vec<(String, String)>,
}

impl Units {
    fn from_headers(names: &[String]) -> Units {
        let unit = |prefix: &str| {
            names.iter().find(|n| n.starts_with(prefix)).map(|n| {
                let u = n.split_once('(').map(|(_, u)| u.trim_end_matches(')').trim().to_string()).unwrap_or_default();
                (n.clone(), u)
            })
        };
        Units { weight: unit("weight"), dims: ["length", "width", "height"].iter().filter_map(|p| unit(p)).collect() }
    }
}

fn money(row: &Row<'_>, col: &str, options: &ImportOptions) -> Option<Money> {
    row.get(col)
        .and_then(|s| Money::parse(&s))
        .map(|m| Money { currency: m.currency.or_else(|| options.currency.clone()), ..m })
}

/// Whether today is within the sale dates ("2024-05-01 0:00:00"; either may be empty).
fn sale_active(row: &Row<'_>, now: Now) -> bool {
    let day = |col: &str| {
        row.get(col).and_then(|s| chrono::NaiveDate::parse_from_str(s.split_whitespace().next()?, "%Y-%m-%d").ok())
    };
    let today = now.date_naive();
    day("date sale price starts").is_none_or(|d| d <= today) && day("date sale price ends").is_none_or(|d| today <= d)
}

fn product(row: &Row<'_>, units: &Units, options: &ImportOptions) -> Option<Draft> {
    let id = row.get("id").or_else(|| row.get("sku"))?;
    let short = row.text("short description").unwrap_or_default();
    let long = row.text("description").unwrap_or_default();
    let description = match (short.is_empty(), long.is_empty()) {
        (false, false) if short != long => format!("{short}\n{long}"),
        (false, _) => short,
        _ => long,
    };
    let external = row.list("type").iter().any(|t| t == "external");
    let link =
        if external { row.get("external url") } else { row.get("id").map(|i| format!("/?post_type=product&p={i}")) };
    let mut d = Draft {
        id,
        title: row.get("name").unwrap_or_default(),
        description,
        link,
        image: row.list("images").into_iter().next(),
        price: money(row, "regular price", options),
        sale_price: money(row, "sale price", options),
        sale_active: sale_active(row, options.now),
        in_stock: row.get("in stock?").map(|s| s == "1"),
        ..Draft::default()
    };
    for path in row.list("categories") {
        d.category_path(&path);
    }
    d.attr_list("tags", row.list("tags"));
    if let Some(sku) = row.get("sku") {
        d.attr("sku", &sku);
    }
    if let Some(g) = row.get("gtin, upc, ean, or isbn") {
        d.attr("gtin", &g);
    }
    if let Some((col, unit)) = &units.weight
        && let Some(w) = row.get(col)
    {
        d.attr("weight", &format!("{} {unit}", leading_zero(&w)));
    }
    let dims: Vec<String> = units.dims.iter().filter_map(|(col, _)| row.get(col)).map(|v| leading_zero(&v)).collect();
    if dims.len() == units.dims.len() && !dims.is_empty() {
        let unit = &units.dims[0].1;
        d.attr("dimensions", &format!("{} {unit}", dims.join(" x ")));
    }
    for (name, values) in attributes(row) {
        d.attr_list(&option_key(&name), values);
    }
    Some(d)
}

/// ".5" as "0.5".
fn leading_zero(v: &str) -> String {
    if v.starts_with('.') { format!("0{v}") } else { v.to_string() }
}

/// `Attribute N name` with its `Attribute N value(s)`, in column order.
fn attributes(row: &Row<'_>) -> Vec<(String, Vec<String>)> {
    (1..=64)
        .map_while(|n| row.cols.contains_key(&format!("attribute {n} name")).then_some(n))
        .filter_map(|n| Some((row.get(&format!("attribute {n} name"))?, row.list(&format!("attribute {n} value(s)")))))
        .collect()
}

fn variant(row: &Row<'_>, options: &ImportOptions) -> Option<Variant> {
    let id = row.get("id").or_else(|| row.get("sku"))?;
    let regular = money(row, "regular price", options);
    let sale = money(row, "sale price", options);
    let (price, regular_price, _) = prices(regular, sale, sale_active(row, options.now));
    let opts: BTreeMap<String, AttrValue> = attributes(row)
        .into_iter()
        .filter_map(|(name, v)| Some((option_key(&name), AttrValue::Text(v.into_iter().next()?))))
        .collect();
    Some(Variant {
        id,
        title: row.get("name"),
        options: opts,
        price,
        regular_price,
        in_stock: row.get("in stock?").is_none_or(|s| s != "0"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_escapes_are_undone() {
        assert_eq!(
            split_list("Clothing > Hoodies, Music\\, Vinyl,  Art "),
            vec!["Clothing > Hoodies", "Music, Vinyl", "Art"]
        );
        assert_eq!(unescape_newlines("one\\ntwo \\\\n three"), "one\ntwo \\n three");
        assert!(is_header("\u{feff}ID,Type,SKU,Name,Published"));
        assert!(!is_header("id\ttitle"));
    }
}
