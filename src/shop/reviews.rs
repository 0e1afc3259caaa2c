//! The merchant's review summary, computed in the browser: sentiment counts, recurring themes
//! with representative quotes, the products that draw complaints, and a short written summary
//! whose numbers can only be the computed ones.
//!
//! Reviews come as JSON (`{"reviews": [{"id", "product_id", "rating", "text"}]}` or a bare
//! array) or CSV with a header naming a `text` (or `review`/`comment`) column and optionally
//! `rating`/`stars` and `product_id`/`product`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const MAX_REVIEWS: usize = 20_000;
const MAX_TEXT: usize = 5_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReviewError {
    #[error("reviews are not valid JSON: {0}")]
    Json(String),
    #[error("CSV: {0}")]
    Csv(String),
    #[error("review #{index}: {problem}")]
    Review { index: usize, problem: String },
    #[error("{0} reviews (at most {MAX_REVIEWS})")]
    TooMany(usize),
    #[error("no reviews found")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Review {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub rating: Option<f64>,
    pub text: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReviewsFile {
    Wrapped { reviews: Vec<serde_json::Value> },
    Bare(Vec<serde_json::Value>),
}

/// Parses JSON or CSV (decided by the first non-space character).
pub fn parse(text: &str) -> Result<Vec<Review>, ReviewError> {
    let reviews = if text.trim_start().starts_with(['{', '[']) { parse_json(text)? } else { parse_csv(text)? };
    if reviews.is_empty() {
        return Err(ReviewError::Empty);
    }
    if reviews.len() > MAX_REVIEWS {
        return Err(ReviewError::TooMany(reviews.len()));
    }
    for (index, r) in reviews.iter().enumerate() {
        if r.text.len() > MAX_TEXT {
            return Err(ReviewError::Review { index, problem: format!("text longer than {MAX_TEXT} bytes") });
        }
        if r.rating.is_some_and(|x| !(0.0..=5.0).contains(&x)) {
            return Err(ReviewError::Review { index, problem: "rating must be between 0 and 5".into() });
        }
    }
    Ok(reviews)
}

fn parse_json(text: &str) -> Result<Vec<Review>, ReviewError> {
    let file: ReviewsFile = serde_json::from_str(text).map_err(|e| ReviewError::Json(e.to_string()))?;
    let items = match file {
        ReviewsFile::Wrapped { reviews } => reviews,
        ReviewsFile::Bare(v) => v,
    };
    if items.len() > MAX_REVIEWS {
        return Err(ReviewError::TooMany(items.len()));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, v)| serde_json::from_value(v).map_err(|e| ReviewError::Review { index, problem: e.to_string() }))
        .collect()
}

/// Splits one CSV record (RFC 4180 quoting) starting at `pos`; returns fields and the next position.
fn csv_record(s: &str, mut pos: usize) -> Result<(Vec<String>, usize), ReviewError> {
    let b = s.as_bytes();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    while pos < b.len() {
        let c = b[pos];
        if quoted {
            if c == b'"' {
                if b.get(pos + 1) == Some(&b'"') {
                    field.push('"');
                    pos += 2;
                    continue;
                }
                quoted = false;
                pos += 1;
                continue;
            }
            let ch = s[pos..].chars().next().expect("char boundary");
            field.push(ch);
            pos += ch.len_utf8();
            continue;
        }
        match c {
            b'"' if field.is_empty() => {
                quoted = true;
                pos += 1;
            }
            b',' => {
                fields.push(std::mem::take(&mut field));
                pos += 1;
            }
            b'\n' | b'\r' => {
                fields.push(std::mem::take(&mut field));
                pos += 1;
                if c == b'\r' && b.get(pos) == Some(&b'\n') {
                    pos += 1;
                }
                return Ok((fields, pos));
            }
            _ => {
                let ch = s[pos..].chars().next().expect("char boundary");
                field.push(ch);
                pos += ch.len_utf8();
            }
        }
    }
    if quoted {
        return Err(ReviewError::Csv("a quoted field is not closed".into()));
    }
    fields.push(field);
    Ok((fields, pos))
}

fn parse_csv(text: &str) -> Result<Vec<Review>, ReviewError> {
    let text = text.trim_start_matches('\u{feff}');
    let (header, mut pos) = csv_record(text, 0)?;
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim().to_lowercase().as_str()));
    let text_col = col(&["text", "review", "comment", "body"])
        .ok_or_else(|| ReviewError::Csv("no text/review/comment column in the header".into()))?;
    let rating_col = col(&["rating", "stars", "score"]);
    let product_col = col(&["product_id", "product", "sku"]);
    let id_col = col(&["id", "review_id"]);
    let mut out = Vec::new();
    let mut index = 0;
    while pos < text.len() {
        let (fields, next) = csv_record(text, pos)?;
        pos = next;
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get =
            |c: Option<usize>| c.and_then(|c| fields.get(c)).map(|f| f.trim().to_string()).filter(|f| !f.is_empty());
        let rating = match get(rating_col) {
            Some(r) => Some(
                r.parse::<f64>()
                    .map_err(|_| ReviewError::Review { index, problem: format!("rating {r:?} is not a number") })?,
            ),
            None => None,
        };
        out.push(Review {
            id: get(id_col),
            product_id: get(product_col),
            rating,
            text: get(Some(text_col)).unwrap_or_default(),
        });
        index += 1;
        if out.len() > MAX_REVIEWS {
            return Err(ReviewError::TooMany(out.len()));
        }
    }
    Ok(out)
}

/// Themes shops care about, with the words that signal them (English).
const THEMES: &[(&str, &[&str])] = &[
    (
        "shipping",
        &["shipping", "delivery", "delivered", "arrived", "arrive", "shipped", "courier", "late", "fast", "quick"],
    ),
    ("packaging", &["packaging", "package", "packed", "box", "wrapped", "wrapping"]),
    (
        "quality",
        &["quality", "well made", "sturdy", "cheap", "flimsy", "broke", "broken", "durable", "solid", "fell apart"],
    ),
    ("sizing", &["size", "sizing", "runs small", "runs large", "fit", "fits", "tight", "loose", "smaller", "larger"]),
    ("battery", &["battery", "charge", "charging", "battery life"]),
    ("noise", &["noise", "noisy", "loud", "quiet", "rattle", "rattling"]),
    ("value", &["price", "value", "worth", "expensive", "money", "overpriced", "bargain"]),
    ("customer service", &["service", "support", "refund", "return", "replacement", "customer"]),
    ("comfort", &["comfortable", "comfort", "soft", "cozy", "cosy", "warm"]),
    ("leaks", &["leak", "leaks", "leaking", "leaked", "spill"]),
];

const POSITIVE: &[&str] = &[
    "great",
    "love",
    "excellent",
    "perfect",
    "amazing",
    "good",
    "happy",
    "recommend",
    "fast",
    "sturdy",
    "comfortable",
    "nice",
    "beautiful",
    "worth",
];
const NEGATIVE: &[&str] = &[
    "bad",
    "poor",
    "broke",
    "broken",
    "disappointed",
    "terrible",
    "awful",
    "late",
    "cheap",
    "flimsy",
    "leak",
    "return",
    "small",
    "noisy",
    "loud",
    "worst",
    "never",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

/// From the rating when there is one (4–5 positive, 3 neutral, 1–2 negative), else by words.
pub fn sentiment(r: &Review) -> Sentiment {
    if let Some(x) = r.rating {
        return if x >= 4.0 {
            Sentiment::Positive
        } else if x >= 3.0 {
            Sentiment::Neutral
        } else {
            Sentiment::Negative
        };
    }
    let words = words(&r.text);
    let pos = words.iter().filter(|w| POSITIVE.contains(&w.as_str())).count();
    let neg = words.iter().filter(|w| NEGATIVE.contains(&w.as_str())).count();
    match pos.cmp(&neg) {
        std::cmp::Ordering::Greater => Sentiment::Positive,
        std::cmp::Ordering::Less => Sentiment::Negative,
        std::cmp::Ordering::Equal => Sentiment::Neutral,
    }
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(String::from).collect()
}

fn mentions(text: &str, signals: &[&str]) -> bool {
    let lower = format!(" {} ", text.to_lowercase().replace(|c: char| !c.is_alphanumeric(), " "));
    signals.iter().any(|s| lower.contains(&format!(" {s} ")))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theme {
    pub name: String,
    pub mentions: usize,
    pub positive: usize,
    pub negative: usize,
    /// Up to two reviews that mention it, verbatim (the most negative first when the theme is
    /// mostly a complaint).
    pub quotes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductStat {
    pub product_id: String,
    pub reviews: usize,
    pub average_rating: Option<f64>,
    pub negative: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub total: usize,
    pub positive: usize,
    pub neutral: usize,
    pub negative: usize,
    pub average_rating: Option<f64>,
    /// Themes by mentions, most first (themes nobody mentions are left out).
    pub themes: Vec<Theme>,
    /// Products with the most negative reviews, most first.
    pub complaints: Vec<ProductStat>,
}

pub fn analyze(reviews: &[Review]) -> Report {
    let sentiments: Vec<Sentiment> = reviews.iter().map(sentiment).collect();
    let count = |s: Sentiment| sentiments.iter().filter(|&&x| x == s).count();
    let ratings: Vec<f64> = reviews.iter().filter_map(|r| r.rating).collect();
    let average_rating = (!ratings.is_empty()).then(|| round1(ratings.iter().sum::<f64>() / ratings.len() as f64));
    let mut themes: Vec<Theme> = THEMES
        .iter()
        .map(|(name, signals)| {
            let hits: Vec<usize> = (0..reviews.len()).filter(|&i| mentions(&reviews[i].text, signals)).collect();
            let negative = hits.iter().filter(|&&i| sentiments[i] == Sentiment::Negative).count();
            let positive = hits.iter().filter(|&&i| sentiments[i] == Sentiment::Positive).count();
            let want = if negative >= positive { Sentiment::Negative } else { Sentiment::Positive };
            let mut order = hits.clone();
            order.sort_by_key(|&i| (sentiments[i] != want, reviews[i].text.len()));
            let quotes = order.iter().take(2).map(|&i| reviews[i].text.clone()).collect();
            Theme { name: name.to_string(), mentions: hits.len(), positive, negative, quotes }
        })
        .filter(|t| t.mentions > 0)
        .collect();
    themes.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.name.cmp(&b.name)));
    let mut by_product: BTreeMap<&str, (usize, Vec<f64>, usize)> = BTreeMap::new();
    for (r, s) in reviews.iter().zip(&sentiments) {
        if let Some(p) = r.product_id.as_deref() {
            let e = by_product.entry(p).or_default();
            e.0 += 1;
            e.1.extend(r.rating);
            e.2 += (*s == Sentiment::Negative) as usize;
        }
    }
    let mut complaints: Vec<ProductStat> = by_product
        .into_iter()
        .filter(|(_, (_, _, neg))| *neg > 0)
        .map(|(p, (n, rs, neg))| ProductStat {
            product_id: p.to_string(),
            reviews: n,
            average_rating: (!rs.is_empty()).then(|| round1(rs.iter().sum::<f64>() / rs.len() as f64)),
            negative: neg,
        })
        .collect();
    complaints.sort_by(|a, b| b.negative.cmp(&a.negative).then(a.product_id.cmp(&b.product_id)));
    complaints.truncate(5);
    Report {
        total: reviews.len(),
        positive: count(Sentiment::Positive),
        neutral: count(Sentiment::Neutral),
        negative: count(Sentiment::Negative),
        average_rating,
        themes,
        complaints,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The report as sentences a summary may be made of (what customers like, what they complain
/// about, which products draw complaints), most important first.
pub fn fact_sentences(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let share = |n: usize| (100.0 * n as f64 / report.total.max(1) as f64).round() as usize;
    out.push(match report.average_rating {
        Some(a) => format!(
            "Of {} reviews, {} are positive and {} negative ({}% and {}%), with an average rating of {a} out of 5.",
            report.total,
            report.positive,
            report.negative,
            share(report.positive),
            share(report.negative)
        ),
        None => {
            format!("Of {} reviews, {} are positive and {} negative.", report.total, report.positive, report.negative)
        }
    });
    let mut praised: Vec<&Theme> = report.themes.iter().filter(|t| t.positive > t.negative).collect();
    praised.sort_by_key(|t| std::cmp::Reverse(t.positive));
    let mut complained: Vec<&Theme> =
        report.themes.iter().filter(|t| t.negative >= t.positive && t.negative > 0).collect();
    complained.sort_by_key(|t| std::cmp::Reverse(t.negative));
    for t in praised.iter().take(2) {
        let quote = t.quotes.first().map(|q| format!(" One customer wrote: \"{q}\"")).unwrap_or_default();
        out.push(format!(
            "Customers like the {}: {} positive mentions against {} negative.{quote}",
            t.name, t.positive, t.negative
        ));
    }
    for t in complained.iter().take(2) {
        let quote = t.quotes.first().map(|q| format!(" For example: \"{q}\"")).unwrap_or_default();
        out.push(format!(
            "The main complaint is {}: {} negative mentions against {} positive.{quote}",
            t.name, t.negative, t.positive
        ));
    }
    for c in report.complaints.iter().take(2) {
        let avg = c.average_rating.map(|a| format!(", averaging {a} stars")).unwrap_or_default();
        out.push(format!(
            "Product {} needs attention: {} of its {} reviews are negative{avg}.",
            c.product_id, c.negative, c.reviews
        ));
    }
    out
}
