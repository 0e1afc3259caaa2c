//! Google Merchant Center product data: RSS 2.0 or Atom 1.0 XML with the `g:` namespace
//! (`http://base.google.com/ns/1.0`), and the tab-separated text format.
//!
//! Both forms carry the same attributes (`id`, `title`, `description`, `link`, `image_link`,
//! `price`, `sale_price`, `sale_price_effective_date`, `availability`, `brand`, `gtin`,
//! `product_type`, `google_product_category`, `color`, `size`, `material`, `item_group_id`,
//! `product_detail`, ...), so each is read into [`Fields`] and one function maps those to a
//! draft. Each item stays its own product, as the feed lists it; variants of one product share
//! `item_group_id`, which becomes the catalog's `group`.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::{Draft, FeedError, FeedItems, Money, Now, Where, clean_line, csv_error, line_at};

const G: &str = "http://base.google.com/ns/1.0";
const ATOM: &str = "http://www.w3.org/2005/Atom";

/// Whether the start of a file (lower-cased) is an RSS or Atom feed.
pub(crate) fn is_xml_feed(head: &str) -> bool {
    head.contains("<rss") || head.contains("<feed")
}

/// Whether a first line is the header of Merchant Center's text format: tab-separated, with
/// `id` and `title` among the attribute names.
pub(crate) fn is_tsv_header(line: &str) -> bool {
    let names: Vec<String> = line.split('\t').map(header_name).collect();
    names.len() > 1 && names.iter().any(|n| n == "id") && names.iter().any(|n| n == "title")
}

/// A header as an attribute name: "Image Link", "image_link" and "g:image_link" are one name;
/// `shipping(country:price)` is `shipping`.
fn header_name(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}').trim_matches('"').to_lowercase();
    let h = h.strip_prefix("g:").unwrap_or(&h);
    let h = h.split('(').next().unwrap_or("");
    h.trim().replace(' ', "_")
}

/// One item's attributes, in feed order; repeated attributes appear once per value.
#[derive(Debug, Default)]
struct Fields {
    values: Vec<(String, String)>,
    /// `product_detail`: (attribute name, value).
    details: Vec<(String, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.values.iter().filter(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.as_str()).collect()
    }
}

pub(crate) fn read(file: &str, text: &str, now: Now) -> Result<FeedItems, FeedError> {
    if text.trim_start().starts_with('<') { read_xml(file, text, now) } else { read_tsv(file, text, now) }
}

/// Attributes that become catalog attributes under the same name.
const ATTRIBUTES: &[&str] = &[
    "brand",
    "gtin",
    "mpn",
    "color",
    "size",
    "material",
    "pattern",
    "gender",
    "age_group",
    "condition",
    "size_type",
    "size_system",
    "energy_efficiency_class",
    "multipack",
    "is_bundle",
    "availability_date",
    "unit_pricing_measure",
];

/// Dimensions and weight, kept as written ("1.2 kg", "30 cm").
const MEASURES: &[(&str, &str)] = &[
    ("product_weight", "weight"),
    ("shipping_weight", "shipping_weight"),
    ("product_length", "length"),
    ("product_width", "width"),
    ("product_height", "height"),
];

/// An item's attributes as a draft; `None` (the skip recorded) without an id. Attributes a
/// catalog has no use for (ads, destinations, tax and shipping rules) are left out.
fn draft(f: &Fields, items: &mut FeedItems, at: Where, now: Now) -> Option<Draft> {
    let Some(id) = f.get("id") else {
        items.skip(at, "it has no id");
        return None;
    };
    let mut d = Draft {
        id: id.trim().to_string(),
        title: f.get("title").unwrap_or("").to_string(),
        description: f.get("description").unwrap_or("").to_string(),
        link: f.get("link").map(str::to_string),
        image: f.get("image_link").map(str::to_string),
        group: f.get("item_group_id").map(str::to_string),
        ..Draft::default()
    };
    d.price = f.get("price").and_then(Money::parse);
    if f.get("price").is_some() && d.price.is_none() {
        items.notes.push(format!("{at}: product {id:?}: price {:?} is not a price", f.get("price").unwrap_or("")));
    }
    d.sale_price = f.get("sale_price").and_then(Money::parse);
    d.sale_active = match f.get("sale_price_effective_date") {
        None => true,
        Some(window) => match sale_window_active(window, now) {
            Some(active) => active,
            None => {
                items.notes.push(format!(
                    "{at}: product {id:?}: sale_price_effective_date {window:?} unreadable; regular price used"
                ));
                false
            }
        },
    };
    if let Some(a) = f.get("availability") {
        let a = a.trim().to_lowercase().replace(' ', "_");
        d.in_stock = Some(a == "in_stock");
        if a != "in_stock" {
            d.attr("availability", &a);
        }
    }
    for path in f.all("product_type") {
        d.category_path(path);
    }
    if let Some(gpc) = f.get("google_product_category") {
        if d.categories.is_empty() && !gpc.trim().chars().all(|c| c.is_ascii_digit()) {
            d.category_path(gpc);
        }
        d.attr("google_product_category", gpc);
    }
    for &key in ATTRIBUTES {
        if let Some(v) = f.get(key) {
            d.attr(key, v);
        }
    }
    for &(key, name) in MEASURES {
        if let Some(v) = f.get(key) {
            d.attr(name, v);
        }
    }
    let highlights = f.all("product_highlight").into_iter().map(str::to_string).collect();
    d.attr_list("highlights", highlights);
    for (name, value) in &f.details {
        let key = super::option_key(name);
        if !key.is_empty() && !d.attributes.contains_key(&key) {
            d.attr(&key, value);
        }
    }
    Some(d)
}

/// Whether now falls in an ISO 8601 interval "start/end" (`None`: unreadable).
fn sale_window_active(window: &str, now: Now) -> Option<bool> {
    let (start, end) = window.split_once('/')?;
    let start = instant(start.trim(), false)?;
    let end = if end.trim().is_empty() { None } else { Some(instant(end.trim(), true)?) };
    Some(start <= now && end.is_none_or(|e| now <= e))
}

/// "2016-02-24T13:00-0800", "...T13:00:00Z", "...T13:00" (UTC) or a date alone (its first or
/// last minute, for the start or end of a window).
fn instant(s: &str, end_of_day: bool) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    let s = s.replace('Z', "+0000");
    for fmt in ["%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M:%S%:z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, fmt) {
            return Some(t.and_utc());
        }
    }
    let day = NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()?;
    let t = if end_of_day { day.and_hms_opt(23, 59, 59)? } else { day.and_hms_opt(0, 0, 0)? };
    Some(t.and_utc())
}

// ---------------------------------------------------------------------------------------------
// XML

/// Which namespace an element is in, as far as a feed cares.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ns {
    /// No namespace, or Atom's (RSS and Atom's own elements).
    Feed,
    G,
    Other,
}

fn ns_of(r: &ResolveResult<'_>) -> Ns {
    match r {
        ResolveResult::Bound(ns) if ns.as_ref() == G => Ns::G,
        ResolveResult::Bound(ns) if ns.as_ref() == ATOM => Ns::Feed,
        ResolveResult::Unbound => Ns::Feed,
        _ => Ns::Other,
    }
}

/// An element inside an item, with its text and children.
#[derive(Debug, Default)]
struct Node {
    ns: Option<Ns>,
    name: String,
    href: Option<String>,
    text: String,
    children: Vec<Node>,
}

fn read_xml(file: &str, text: &str, now: Now) -> Result<FeedItems, FeedError> {
    let mut reader = NsReader::from_str(text);
    let malformed = |at: usize, problem: String| FeedError::Malformed {
        file: file.into(),
        at: Where::Line(line_at(text, at)),
        problem,
    };
    let mut items = FeedItems::default();
    let mut root: Option<String> = None;
    // The open elements inside the current item (the item itself first).
    let mut stack: Vec<Node> = Vec::new();
    let mut item_start = 0usize;
    let mut count = 0usize;
    let mut path: Vec<String> = Vec::new();
    let mut channel_text = String::new();
    let mut uses_g = false;
    let mut failed = None;
    loop {
        let pos = reader.buffer_position() as usize;
        let (resolved, event) = match reader.read_resolved_event() {
            Ok(step) => step,
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        };
        let ns = ns_of(&resolved);
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_none() => {
                let name = local(&e);
                if name != "rss" && name != "feed" {
                    return Err(FeedError::NotAFeed {
                        file: file.into(),
                        why: format!("the root element is <{name}>, not <rss> or <feed>"),
                    });
                }
                items.lang = lang_attr(&e);
                root = Some(name.clone());
                path.push(name);
            }
            Event::Start(e) => {
                let name = local(&e);
                if stack.is_empty() && ns == Ns::Feed && (name == "item" || name == "entry") {
                    item_start = pos;
                    stack.push(Node { ns: Some(ns), name, ..Node::default() });
                } else if !stack.is_empty() {
                    uses_g |= ns == Ns::G;
                    stack.push(Node { ns: Some(ns), name, href: href(&e), ..Node::default() });
                } else {
                    path.push(name);
                    channel_text.clear();
                }
            }
            Event::Empty(e) => {
                if let Some(parent) = stack.last_mut() {
                    uses_g |= ns == Ns::G;
                    parent.children.push(Node { ns: Some(ns), name: local(&e), href: href(&e), ..Node::default() });
                }
            }
            Event::Text(t) => push_text(&mut stack, &mut channel_text, &t.xml10_content()),
            Event::CData(t) => push_text(&mut stack, &mut channel_text, &t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&r.xml10_content()).unwrap_or("").to_string()
                    }
                    Err(e) => return Err(malformed(pos, e.to_string())),
                };
                push_text(&mut stack, &mut channel_text, &resolved);
            }
            Event::End(_) => {
                if let Some(node) = stack.pop() {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => {
                            count += 1;
                            let at = Where::Line(line_at(text, item_start));
                            let fields = fields_of(&node);
                            if let Some(d) = draft(&fields, &mut items, at, now) {
                                items.drafts.push((at, d));
                            }
                        }
                    }
                } else {
                    let closed = path.pop().unwrap_or_default();
                    let parent = path.last().map(String::as_str);
                    if closed == "title"
                        && matches!(parent, Some("channel") | Some("feed"))
                        && items.shop_name.is_none()
                    {
                        items.shop_name = Some(clean_line(&channel_text)).filter(|s| !s.is_empty());
                    }
                    if closed == "language" && parent == Some("channel") {
                        items.lang = Some(clean_line(&channel_text)).filter(|s| !s.is_empty());
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(problem) = failed {
        return Err(malformed(reader.error_position() as usize, problem));
    }
    if !stack.is_empty() {
        return Err(malformed(text.len(), "the file ends inside an item (truncated?)".into()));
    }
    if root.is_none() {
        return Err(FeedError::NotAFeed { file: file.into(), why: "no root element".into() });
    }
    if !path.is_empty() {
        items.notes.push(format!("the file ends before </{}> (truncated?); its complete items are kept", path[0]));
    }
    if count > 0 && !uses_g {
        return Err(FeedError::NotAFeed {
            file: file.into(),
            why: "its items have no g: (http://base.google.com/ns/1.0) attributes".into(),
        });
    }
    if count == 0 {
        return Err(FeedError::Empty { file: file.into(), why: "no <item> or <entry> elements".into() });
    }
    Ok(items)
}

fn push_text(stack: &mut [Node], channel: &mut String, s: &str) {
    match stack.last_mut() {
        Some(n) => n.text.push_str(s),
        None => channel.push_str(s),
    }
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_string()
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    let a = e.attributes().flatten().find(|a| a.key.as_ref() == key)?;
    a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned())
}

/// Atom's `<link href="…">`, preferring `rel="alternate"` (the default).
fn href(e: &BytesStart<'_>) -> Option<String> {
    let rel = attr(e, "rel").unwrap_or_else(|| "alternate".into());
    (rel == "alternate").then(|| attr(e, "href")).flatten()
}

fn lang_attr(e: &BytesStart<'_>) -> Option<String> {
    attr(e, "xml:lang").filter(|l| !l.trim().is_empty())
}

/// An item's elements as attributes: `g:` elements by name; the feed's own `title`, `link`,
/// `description` (RSS) or `summary`/`content` (Atom) where no `g:` element gives them.
fn fields_of(item: &Node) -> Fields {
    let mut f = Fields::default();
    for c in &item.children {
        match c.ns {
            Some(Ns::G) if c.name == "product_detail" => {
                let sub = |n: &str| c.children.iter().find(|s| s.name == n).map(|s| clean_line(&s.text));
                if let (Some(name), Some(value)) = (sub("attribute_name"), sub("attribute_value")) {
                    f.details.push((name, value));
                }
            }
            Some(Ns::G) if c.children.is_empty() => f.values.push((c.name.clone(), c.text.trim().to_string())),
            _ => {}
        }
    }
    for c in item.children.iter().filter(|c| c.ns == Some(Ns::Feed)) {
        let (name, value) = match c.name.as_str() {
            "title" => ("title", c.text.trim().to_string()),
            "description" | "summary" | "content" => ("description", c.text.trim().to_string()),
            "link" => ("link", c.href.clone().unwrap_or_else(|| c.text.trim().to_string())),
            _ => continue,
        };
        if f.get(name).is_none() {
            f.values.push((name.to_string(), value));
        }
    }
    f
}

// ---------------------------------------------------------------------------------------------
// Tab-separated text

/// Attributes whose cell may hold several values separated by commas.
const REPEATED: &[&str] = &["product_type", "additional_image_link", "product_highlight"];

fn read_tsv(file: &str, text: &str, now: Now) -> Result<FeedItems, FeedError> {
    let mut reader =
        csv::ReaderBuilder::new().delimiter(b'\t').flexible(true).has_headers(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(file, e))?.clone();
    let names: Vec<String> = headers.iter().map(header_name).collect();
    let raw: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    for needed in ["id", "title"] {
        if !names.iter().any(|n| n == needed) {
            return Err(FeedError::MissingColumn {
                file: file.into(),
                format: "Merchant Center text feed",
                column: needed.into(),
                found: names.join(", "),
            });
        }
    }
    let mut items = FeedItems::default();
    let mut count = 0;
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(file, e))?;
        let at = Where::Line(record.position().map_or(0, |p| p.line()));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        count += 1;
        if record.len() != names.len() {
            items.notes.push(format!("{at}: {} cells for {} columns", record.len(), names.len()));
        }
        let mut f = Fields::default();
        for (i, cell) in record.iter().enumerate() {
            let Some(name) = names.get(i) else { break };
            if name == "product_detail" {
                f.details.extend(details_cell(&raw[i], cell));
            } else if REPEATED.contains(&name.as_str()) {
                f.values.extend(cell.split(',').map(|v| (name.clone(), v.trim().to_string())));
            } else {
                f.values.push((name.clone(), cell.to_string()));
            }
        }
        if let Some(d) = draft(&f, &mut items, at, now) {
            items.drafts.push((at, d));
        }
    }
    if count == 0 {
        return Err(FeedError::Empty { file: file.into(), why: "a header line and no items".into() });
    }
    Ok(items)
}

/// `product_detail(section_name:attribute_name:attribute_value)` cells: groups separated by
/// commas, the parts of each in the header's order, separated by colons.
fn details_cell(header: &str, cell: &str) -> Vec<(String, String)> {
    let order: Vec<String> = header
        .split_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')').split(':').map(|s| s.trim().to_string()).collect())
        .unwrap_or_else(|| vec!["section_name".into(), "attribute_name".into(), "attribute_value".into()]);
    let name_at = order.iter().position(|s| s == "attribute_name");
    let value_at = order.iter().position(|s| s == "attribute_value");
    let (Some(n), Some(v)) = (name_at, value_at) else { return Vec::new() };
    cell.split(',')
        .filter_map(|group| {
            let parts: Vec<&str> = group.splitn(order.len(), ':').collect();
            Some((clean_line(parts.get(n)?), clean_line(parts.get(v)?)))
        })
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sale_windows() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z").unwrap().to_utc();
        assert_eq!(sale_window_active("2016-02-24T13:00-0800/2016-02-29T15:30-0800", now), Some(false));
        assert_eq!(sale_window_active("2020-01-01T00:00Z / 2999-01-01T00:00Z", now), Some(true));
        assert_eq!(sale_window_active("2020-01-01/2999-12-31", now), Some(true));
        assert_eq!(sale_window_active("2999-01-01T00:00:00+01:00/", now), Some(false));
        assert_eq!(sale_window_active("soon", now), None);
    }

    #[test]
    fn headers_and_details() {
        assert!(is_tsv_header("id\ttitle\tImage Link"));
        assert!(is_tsv_header("\u{feff}g:id\tg:title"));
        assert!(!is_tsv_header("id,title,price"));
        assert_eq!(header_name("SHIPPING(COUNTRY:PRICE)"), "shipping");
        let d = details_cell(
            "product_detail(section_name:attribute_name:attribute_value)",
            "General:Weight:1.2 kg,Display:Size:2.5",
        );
        assert_eq!(d, vec![("Weight".into(), "1.2 kg".into()), ("Size".into(), "2.5".into())]);
    }
}
