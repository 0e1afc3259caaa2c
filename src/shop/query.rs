//! Reading a shopper's request: its language, its words for search, and the constraints it
//! states (budget, colour, size) in English, German or Chinese.
//!
//! Prices are compared in the catalog's currency: "unter 300 €" against a dollar catalog means
//! 300 of the catalog's units (we never convert currencies, so we never invent an exchange rate).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    De,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("en") => Some(Lang::En),
            Some("de") => Some(Lang::De),
            Some("zh") => Some(Lang::Zh),
            _ => None,
        }
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3040..=0x30FF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

const GERMAN_WORDS: [&str; 40] = [
    "und",
    "ich",
    "für",
    "fuer",
    "unter",
    "bis",
    "mit",
    "nicht",
    "ein",
    "eine",
    "einen",
    "suche",
    "brauche",
    "möchte",
    "wie",
    "was",
    "ist",
    "der",
    "die",
    "das",
    "kann",
    "meine",
    "mein",
    "haben",
    "sie",
    "welche",
    "welcher",
    "gibt",
    "zurückgeben",
    "rücksendung",
    "versand",
    "größe",
    "euro",
    "geschenk",
    "jahre",
    "jährigen",
    "empfehlen",
    "oder",
    "auch",
    "wir",
];

/// The request's language: any CJK character means Chinese; German function words or umlauts
/// mean German; otherwise English.
pub fn detect_lang(text: &str) -> Lang {
    if text.chars().any(is_cjk) {
        return Lang::Zh;
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let german = words.iter().filter(|w| GERMAN_WORDS.contains(w)).count();
    let umlauts = lower.chars().any(|c| matches!(c, 'ä' | 'ö' | 'ü' | 'ß'));
    if german >= 2 || (german >= 1 && umlauts) || (umlauts && words.len() <= 3) { Lang::De } else { Lang::En }
}

/// Constraints stated in a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Constraints {
    pub max_price: Option<f64>,
    pub min_price: Option<f64>,
    /// Normalised English colour names.
    pub colors: Vec<String>,
    /// Requested size as written in catalogs ("M", "XL", "42").
    pub size: Option<String>,
}

impl Constraints {
    pub fn is_empty(&self) -> bool {
        *self == Constraints::default()
    }
}

/// Colour words in the three languages, mapped to the English name catalogs use.
const COLORS: [(&str, &str); 39] = [
    ("black", "black"),
    ("white", "white"),
    ("red", "red"),
    ("blue", "blue"),
    ("green", "green"),
    ("yellow", "yellow"),
    ("grey", "grey"),
    ("gray", "grey"),
    ("pink", "pink"),
    ("purple", "purple"),
    ("orange", "orange"),
    ("brown", "brown"),
    ("beige", "beige"),
    ("navy", "navy"),
    ("silver", "silver"),
    ("schwarz", "black"),
    ("weiß", "white"),
    ("weiss", "white"),
    ("rot", "red"),
    ("blau", "blue"),
    ("grün", "green"),
    ("gruen", "green"),
    ("gelb", "yellow"),
    ("grau", "grey"),
    ("rosa", "pink"),
    ("lila", "purple"),
    ("braun", "brown"),
    ("silbern", "silver"),
    ("黑色", "black"),
    ("白色", "white"),
    ("红色", "red"),
    ("蓝色", "blue"),
    ("绿色", "green"),
    ("黄色", "yellow"),
    ("灰色", "grey"),
    ("粉色", "pink"),
    ("紫色", "purple"),
    ("橙色", "orange"),
    ("棕色", "brown"),
];

/// A number written with `,` or `.` as thousands or decimal separator ("1,299.99", "49,90").
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let normalized = match (s.rfind(','), s.rfind('.')) {
        (Some(c), Some(d)) if c > d => s.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => s.replace(',', ""),
        (Some(c), None) if s.len() - c - 1 == 2 => s.replace(',', "."),
        (Some(_), None) => s.replace(',', ""),
        _ => s.to_string(),
    };
    normalized.parse().ok()
}

/// Numbers in `text` with their byte span.
fn numbers(text: &str) -> Vec<(usize, usize, f64)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_digit()
                    || ((b[i] == b',' || b[i] == b'.') && i + 1 < b.len() && b[i + 1].is_ascii_digit()))
            {
                i += 1;
            }
            if let Some(v) = parse_number(&text[start..i]) {
                out.push((start, i, v));
            }
        } else {
            i += 1;
        }
    }
    out
}

const MAX_WORDS: [&str; 24] = [
    "under",
    "below",
    "less than",
    "max",
    "maximum",
    "at most",
    "up to",
    "no more than",
    "cheaper than",
    "within",
    "budget",
    "unter",
    "bis",
    "maximal",
    "höchstens",
    "hoechstens",
    "weniger als",
    "nicht mehr als",
    "billiger als",
    "budget von",
    "以内",
    "以下",
    "不超过",
    "低于",
];
const MIN_WORDS: [&str; 9] = ["over", "above", "more than", "at least", "über", "ueber", "mindestens", "以上", "超过"];
const AROUND_WORDS: [&str; 6] = ["around", "about", "roughly", "etwa", "ungefähr", "左右"];

/// Budget, colours and size stated in `text`.
pub fn parse_constraints(text: &str) -> Constraints {
    let lower = text.to_lowercase();
    let mut c = Constraints::default();
    let nums = numbers(&lower);
    for &(start, end, value) in &nums {
        let before = &lower[lower.floor_char_boundary(start.saturating_sub(24))..start];
        let after = &lower[end..lower.ceil_char_boundary((end + 16).min(lower.len()))];
        let money_near = before.trim_end().ends_with(['$', '€', '£', '¥'])
            || ["$", "€", "eur", "euro", "usd", "dollar", "元", "块", "£", "¥", "rmb"]
                .iter()
                .any(|m| after.trim_start().starts_with(m));
        let zh_after = |w: &str| after.contains(w);
        let is_max = MAX_WORDS.iter().any(|w| before.contains(w)) || zh_after("以内") || zh_after("以下");
        let is_min = MIN_WORDS.iter().any(|w| before.contains(w)) || zh_after("以上");
        let around = AROUND_WORDS.iter().any(|w| before.contains(w) || after.contains(w));
        let size_word = ["size", "größe", "groesse", "gr.", "尺码", "码", "eu ", "us "]
            .iter()
            .any(|w| before.trim_end().ends_with(w.trim()));
        if size_word && !money_near {
            c.size = Some(format!("{value}"));
            continue;
        }
        if !(money_near || is_max || is_min) {
            continue;
        }
        if around {
            // "around $40" tolerates a little over.
            c.max_price = Some(value * 1.25);
        } else if is_min && !is_max {
            c.min_price = Some(value);
        } else if is_max || money_near {
            c.max_price = Some(c.max_price.map_or(value, |m: f64| m.min(value)));
        }
    }
    // "between 20 and 50" / "zwischen 20 und 50"
    if (lower.contains("between") || lower.contains("zwischen")) && nums.len() >= 2 {
        c.min_price = Some(nums[0].2.min(nums[1].2));
        c.max_price = Some(nums[0].2.max(nums[1].2));
    }
    for (word, name) in COLORS {
        let found = if word.chars().any(is_cjk) {
            lower.contains(word)
        } else {
            lower
                .split(|ch: char| !ch.is_alphanumeric())
                .any(|w| w == word || w.strip_suffix('e') == Some(word) || w.strip_suffix("en") == Some(word))
        };
        if found && !c.colors.iter().any(|x| x == name) {
            c.colors.push(name.to_string());
        }
    }
    if c.size.is_none() {
        c.size = letter_size(text);
    }
    c
}

/// A clothing size written as a word: "size M", "Größe L", "in XL", "尺码M".
fn letter_size(text: &str) -> Option<String> {
    const SIZES: [&str; 7] = ["XXL", "XL", "XS", "S", "M", "L", "XXS"];
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for (i, w) in words.iter().enumerate() {
        let upper = w.to_uppercase();
        let prev = if i > 0 { words[i - 1].to_lowercase() } else { String::new() };
        let sized = ["size", "größe", "groesse", "gr", "in"].contains(&prev.as_str());
        if SIZES.contains(&upper.as_str()) && (sized || (w.len() >= 2 && *w == upper)) {
            return Some(upper);
        }
        for p in ["尺码", "码"] {
            if let Some(rest) = w.strip_prefix(p)
                && SIZES.contains(&rest.to_uppercase().as_str())
            {
                return Some(rest.to_uppercase());
            }
        }
    }
    None
}
