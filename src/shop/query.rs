//! Reading a shopper's request: its language, its words for search, and the constraints it
//! states (budget, colour, size) in English, German or Chinese.
//!
//! Prices are compared in the catalog's currency: "unter 300 €" against a dollar catalog means
//! 300 of the catalog's units (we never convert currencies, so we never invent an exchange rate).

use serde::Serialize;

use super::text::is_cjk;

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

#[rustfmt::skip]
const GERMAN_WORDS: &[&str] = &[
    "und", "ich", "für", "fuer", "unter", "bis", "mit", "nicht", "ein", "eine",
    "einen", "suche", "brauche", "möchte", "wie", "was", "ist", "der", "die", "das", "kann",
    "meine", "mein", "haben", "sie", "welche", "welcher", "gibt", "zurückgeben", "rücksendung",
    "versand", "größe", "euro", "geschenk", "jahre", "jährigen", "empfehlen", "oder", "auch", "wir",
    "ihr", "euch", "nach", "noch", "mir", "bei", "habt", "sind", "wird", "dem", "den", "zu", "von",
    "vom", "danke", "bitte", "schon", "nur", "sehr", "kostet", "liefert", "gibts",
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
    /// Search terms the request says it does not want ("not leather"), with their English
    /// words from the lexicon.
    pub exclude: Vec<String>,
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

/// Shades catalogs name in a product's colour, with the colour a shopper asks for ("in grey"
/// finds a charcoal blanket). Only the product's side: in a request, "olive", "sand" or
/// "walnut" may well be what the product is.
const SHADES: [(&str, &str); 28] = [
    ("charcoal", "grey"),
    ("anthracite", "grey"),
    ("anthrazit", "grey"),
    ("graphite", "grey"),
    ("slate", "grey"),
    ("ivory", "white"),
    ("cream", "white"),
    ("off-white", "white"),
    ("oatmeal", "beige"),
    ("sand", "beige"),
    ("taupe", "beige"),
    ("burgundy", "red"),
    ("olive", "green"),
    ("khaki", "green"),
    ("walnut", "brown"),
    ("tan", "brown"),
    ("emerald", "green"),
    ("sage", "green"),
    ("mint", "green"),
    ("lilac", "purple"),
    ("lavender", "purple"),
    ("mustard", "yellow"),
    ("terracotta", "orange"),
    ("coral", "pink"),
    ("crimson", "red"),
    ("maroon", "red"),
    ("cobalt", "blue"),
    ("turquoise", "blue"),
];

/// The colours a product's colour text names: its own words and the colour of each shade in
/// it (`"charcoal"` → also `"grey"`).
pub fn colour_names(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut out = lower.clone();
    for (shade, colour) in SHADES {
        if lower.split(|c: char| !c.is_alphanumeric() && c != '-').any(|w| w == shade) {
            out.push(' ');
            out.push_str(colour);
        }
    }
    out
}

/// The colours `text` names as whole words (English names; shades by their colour): a
/// description's words, where a substring ("red" in "tailored") must not count.
pub fn colours_named(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric() && c != '-').collect();
    COLORS.iter().chain(SHADES.iter()).filter(|(w, _)| words.contains(w)).map(|(_, c)| *c).collect()
}

/// Shades a request names only as colours, with the colour they are.
const REQUEST_SHADES: [(&str, &str); 2] = [("anthrazit", "grey"), ("anthracite", "grey")];

/// Every colour word a request may state, with the colour it is.
fn request_colours() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    COLORS.iter().chain(REQUEST_SHADES.iter())
}

/// Whether a request word (as written or a search term of it) names a colour: a constraint,
/// not what the product is ("黑色的" after running shoes means black ones).
pub fn is_colour_word(word: &str) -> bool {
    let w = word.to_lowercase();
    let stemmed = super::text::stem(&w);
    request_colours().any(|(c, _)| *c == w || super::text::stem(c) == stemmed)
}

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
    for &(word, name) in request_colours() {
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
    for t in excluded_words(text) {
        let english: Vec<String> = super::lexicon::english_for(&t).into_iter().flat_map(super::text::terms).collect();
        c.exclude.push(t);
        c.exclude.extend(english);
    }
    c.exclude.dedup();
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

/// What a word of a request does for search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A word of the thing asked for ("running shoes", "a dining table"): a product must
    /// contain these to fit, and a core word no product contains means the shop lacks it.
    Core,
    /// A word around it ("for the gym", "who loves photography" once the core is elsewhere):
    /// it ranks, and counts half towards fit; when no product has it, it does not count.
    Context,
    /// Intent and quality words ("gift", "cozy", "comfortable"): they rank when a product has
    /// them and never make a request unanswerable.
    Soft,
}

/// A request read for search: its terms with their roles, and whether it asks for a gift.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestWords {
    pub words: Vec<(String, Role)>,
    pub gift: bool,
}

impl RequestWords {
    pub fn has_core(&self) -> bool {
        self.words.iter().any(|(_, r)| *r == Role::Core)
    }
}

/// Words about who an item is for, when, and the shopper's own situation: not about the
/// product, so they are not searched for ("my wife", "next weekend", "he's into cooking").
#[rustfmt::skip]
const FRAME: &[&str] = &[
    // en
    "someone", "somebody", "anyone", "everyone", "he",
    "she", "him", "her", "his", "hers", "they", "them", "their", "us", "myself", "birthday", "christmas",
    "xmas", "anniversary", "wedding", "housewarming", "valentine", "valentines", "graduation", "retirement",
    "holiday", "holidays", "occasion", "weekend", "week", "month", "tomorrow", "today", "tonight", "soon",
    "next", "trip", "vacation", "going", "go", "goes", "started", "starting", "start", "planning", "plan",
    "keep", "keeps", "dying", "help", "make", "making", "use", "using", "take", "taking", "bring", "stuff",
    "things", "idea", "ideas", "options", "everything", "enjoy", "enjoys", "into", "favorite", "favourite",
    "wants", "hosting", "host", "put", "somewhere", "plays", "play", "playing", "place", "work", "working",
    "works", "lot", "upgrade", "replacement", "beginner", "beginners", "apartment",
    // conversation: discourse words and "I'm after", never what is asked for
    "after", "ok", "okay", "actually", "hmm", "um", "well", "instead", "anyway", "different", "thing",
    "question", "please", "maybe", "perhaps", "also", "else", "other", "another",
    // de
    "er", "sie", "ihn", "ihm", "sein", "seine",
    "seinen", "jemand", "jemanden", "geburtstag", "weihnachten", "hochzeit", "jahrestag", "einweihung",
    "wohnung", "wochenende", "woche", "monat", "morgen", "heute", "nächste", "nächsten", "nächstes", "bald", "gehe",
    "gehen", "fahre", "fahren", "trinkt", "spielt", "spielen", "spiele", "macht", "geht", "idee", "ideen",
    "sachen", "alles", "braucht", "ach", "eigentlich", "egal", "doch", "mal", "sonst", "zeug", "frage",
    "bitte", "vielleicht", "andere", "anderes", "anderen",
];

/// Who an item is for: frame words too, and a part of a request that names one is about them
/// ("for my daughter's party"), never the thing asked for.
#[rustfmt::skip]
const PEOPLE: &[&str] = &[
    // en
    "wife", "husband", "dad", "daddy", "father", "mom", "mum", "mommy", "mother", "parents", "parent", "son",
    "daughter", "sister", "brother", "grandma", "grandmother", "granny", "grandpa", "grandfather",
    "grandparents", "nephew", "niece", "friend", "friends", "boyfriend", "girlfriend", "partner", "colleague",
    "coworker", "boss", "teacher", "neighbor", "neighbour",
    // de
    "frau", "ehefrau", "mann", "ehemann", "vater", "papa", "vati", "mutter", "mama", "mutti", "eltern",
    "sohn", "tochter", "schwester", "bruder", "oma", "opa", "großmutter", "großvater", "neffe", "nichte",
    "freund", "freundin", "freunde", "kollege", "kollegin",
];

/// Frame words of Chinese requests, removed from the text before it is cut into bigrams.
#[rustfmt::skip]
const FRAME_ZH: &[&str] = &[
    "送给", "爸爸", "妈妈", "父亲", "母亲", "老婆", "妻子", "太太", "老公", "丈夫", "儿子", "女儿", "姐姐", "妹妹", "哥哥", "弟弟", "奶奶",
    "爷爷", "外婆", "外公", "男朋友", "女朋友", "朋友", "同事", "老板", "老师", "生日", "圣诞", "周末", "下周", "下个月", "明天", "需要", "喜欢",
    "适合", "美元", "孩子", "小孩", "想", "送", "去", "用",
];

/// Intent and quality words (see [`Role::Soft`]).
#[rustfmt::skip]
const SOFT: &[&str] = &[
    // en
    "gift", "gifts", "present", "presents", "cozy", "cosy", "comfy", "comfortable", "cute", "pretty",
    "beautiful", "lovely", "elegant", "stylish", "fancy", "classy", "luxurious", "luxury", "cool", "fun",
    "unique", "special", "perfect", "quality", "durable", "sturdy", "practical", "useful", "simple",
    "affordable", "inexpensive", "premium", "popular", "trendy", "small", "little", "big", "large", "bigger",
    "smaller", "satisfying", "easy", "low", "maintenance", "real", "proper", "decent", "warm", "retro",
    "vintage", "classic", "antique", "modern", "gear", "equipment", "item", "items", "product", "products",
    // de
    "geschenk", "geschenke", "geschenkidee", "geschenkideen", "gemütlich", "gemütliche", "gemütlicher",
    "gemütliches", "kuschelig", "kuschelige", "kuscheliger", "bequem", "bequeme", "bequemes", "bequemer",
    "schön", "schöne", "schönes", "nett", "nette", "nettes", "hübsch", "hübsche", "praktisch", "praktische", "günstig", "günstige",
    "billig", "groß", "große", "großes", "klein", "kleine", "kleines", "wenig", "pflege",
    // zh
    "礼物", "礼品", "舒适", "舒服", "好看", "漂亮", "便宜", "实用", "好用", "好养", "高档",
];

/// Intent words that mark a request for a gift.
#[rustfmt::skip]
const GIFT: &[&str] = &[
    "gift", "gifts", "present", "presents", "geschenk", "geschenke", "geschenkidee", "geschenkideen", "礼物",
    "礼品",
];

/// Words that end one part of a request and start the next ("headphones | for the gym").
#[rustfmt::skip]
const BREAK: &[&str] = &[
    "for", "to", "with", "that", "which", "who", "whom", "where", "when", "because", "so", "but", "under",
    "below", "over", "above", "around", "about", "between", "from", "like", "as", "if", "than", "at", "on",
    "in", "what", "für", "fürs", "mit", "unter", "bis", "über", "zum", "zur", "weil", "aber", "wenn", "dass",
    "als", "im", "am", "auf", "was", "die", "der", "das",
];

/// Words after which the next content word is unwanted ("not leather", "ohne Leder").
#[rustfmt::skip]
const NEGATION: &[&str] = &[
    "not", "isn", "isnt", "aren", "arent", "no", "without", "non", "except", "forget", "nicht", "kein",
    "keine", "keinen", "ohne", "vergiss",
];
#[rustfmt::skip]
const NEGATION_ZH: &[&str] = &[
    "不要", "不是", "没有", "不含",
];

/// Chinese yes-or-no question forms built from a negation ("有没有", "do you have"; "是不是",
/// "is it"; "要不要", "would you like"): they ask, they do not exclude.
const ZH_QUESTION_FORMS: [&str; 3] = ["有没有", "是不是", "要不要"];

/// Filler between a negation and what it negates ("isn't made of jute").
#[rustfmt::skip]
const NEGATION_FILLER: &[&str] = &[
    "t", "made", "of", "any", "too", "a", "an", "the", "from", "aus", "mit", "zu",
];

/// The request's words with their roles. Its parts are cut at punctuation and at [`BREAK`]
/// words; the *core* is the first part with a non-soft word (the last, in Chinese, where the
/// head comes after 的: "适合健身房的耳机"); frame words are dropped, negated words too (they
/// are [`Constraints::exclude`]), and budgets are constraints, not words.
pub fn request_words(text: &str) -> RequestWords {
    request_words_named(text, |_| true)
}

/// [`request_words`] for a shop that says which terms name its products (`named`: a title or
/// category has them). When the part that would be the core is a few words that name none ("hi! looking for a tent",
/// "he's turning 9 and is obsessed with science", "ich fang grad mit dem Joggen an"), the core
/// is the first part (the last, in Chinese) with a word the shop names, unless that part is
/// about who the item is for ("a unicorn costume for my daughter's party"). A request that asks
/// for a thing outright ("habt ihr Fahrradhelme? …"), or whose first part says more, keeps
/// it: that is how a product the shop lacks is still told apart.
pub fn request_words_named(text: &str, named: impl Fn(&str) -> bool) -> RequestWords {
    let lower = text.to_lowercase();
    let mut parts: Vec<String> = vec![String::new()];
    let mut about_people = std::collections::HashSet::new();
    let mut gift = false;
    let zh = lower.chars().any(is_cjk);
    let (mut cleaned, _) = cut_zh_negations(&lower);
    if zh {
        for w in FRAME_ZH {
            cleaned = cleaned.replace(w, "的");
        }
    }
    let (kept, _) = drop_negated(split_words(&cleaned));
    for word in kept {
        if word.chars().all(|c| !c.is_alphanumeric()) || BREAK.contains(&word.as_str()) || word == "的" {
            parts.push(String::new());
            continue;
        }
        gift |= GIFT.iter().any(|g| word.contains(g));
        if PEOPLE.contains(&word.as_str()) {
            about_people.insert(parts.len() - 1);
            continue;
        }
        if FRAME.contains(&word.as_str()) {
            continue;
        }
        let part = parts.last_mut().expect("one part at least");
        part.push_str(&word);
        part.push(' ');
    }
    // A colour is a constraint (see [`parse_constraints`]), never the core of a request.
    let soft = |t: &str| SOFT.iter().any(|s| super::text::stem(s) == t || *s == t) || is_colour_word(t);
    // (terms, whether the part names who the item is for)
    let kept: Vec<(Vec<String>, bool)> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| (super::text::terms(p), about_people.contains(&i)))
        .filter(|(t, _)| !t.is_empty())
        .collect();
    let parts: Vec<Vec<String>> = kept.iter().map(|(t, _)| t.clone()).collect();
    let find = |f: &dyn Fn(&Vec<String>) -> bool| if zh { parts.iter().rposition(f) } else { parts.iter().position(f) };
    let mut core = find(&|p| p.iter().any(|t| !soft(t)));
    let limit = if zh { NAMED_TERMS_ZH } else { NAMED_TERMS - 1 };
    let aside = |p: &Vec<String>| {
        let content: Vec<&String> = p.iter().filter(|t| !soft(t)).collect();
        content.len() <= limit && !content.iter().any(|t| named(t))
    };
    if core.is_some_and(|i| aside(&parts[i])) && !asks_for_a_thing(&lower) {
        let names_it = |i: usize| !kept[i].1 && parts[i].iter().any(|t| !soft(t) && named(t));
        let found =
            if zh { (0..parts.len()).rev().find(|&i| names_it(i)) } else { (0..parts.len()).find(|&i| names_it(i)) };
        core = found.or(core);
    }
    let mut words = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        for t in part {
            let role = if soft(t) {
                Role::Soft
            } else if Some(i) == core {
                Role::Core
            } else {
                Role::Context
            };
            if !words.iter().any(|(w, _): &(String, Role)| w == t) {
                words.push((t.clone(), role));
            }
        }
    }
    RequestWords { words, gift }
}

/// `text` with who the item is for made neutral ("my wife, she loves tea" and "my husband, he
/// loves tea" read the same): what the encoder reads, so that a request for a wife and the same
/// request for a husband find the same products. (Words ignore these words already: they are
/// [`FRAME`] words.)
pub fn without_recipient(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let lower = word.to_lowercase();
        let neutral = NEUTRAL.iter().find(|(_, words)| words.contains(&lower.as_str())).map(|(n, _)| *n);
        out.push_str(neutral.unwrap_or(word));
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphabetic() && !is_cjk(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    for (neutral, words) in NEUTRAL_ZH {
        for w in *words {
            out = out.replace(w, neutral);
        }
    }
    out
}

/// Words for who an item is for, each group read as one neutral word.
#[rustfmt::skip]
const NEUTRAL: &[(&str, &[&str])] = &[
    ("someone", &["wife", "husband", "dad", "daddy", "father", "mom", "mum", "mommy", "mother", "son", "daughter",
        "sister", "brother", "grandma", "grandmother", "granny", "grandpa", "grandfather", "nephew", "niece",
        "boyfriend", "girlfriend"]),
    ("they", &["he", "she"]),
    // "her" is both "him" and "his": one word for all four.
    ("their", &["him", "his", "her", "hers"]),
    ("jemand", &["frau", "ehefrau", "mann", "ehemann", "vater", "papa", "vati", "mutter", "mama", "mutti", "sohn",
        "tochter", "schwester", "bruder", "oma", "opa", "großmutter", "großvater", "neffe", "nichte", "freund",
        "freundin"]),
    ("mein", &["meinen", "meine", "meinem", "meiner"]),
    ("sie", &["er"]),
    ("ihr", &["ihn", "ihm", "sein", "seine", "seinen", "seinem", "seiner", "ihre", "ihren", "ihrem", "ihrer"]),
];

#[rustfmt::skip]
const NEUTRAL_ZH: &[(&str, &[&str])] = &[
    ("家人", &["男朋友", "女朋友", "爸爸", "妈妈", "父亲", "母亲", "老婆", "妻子", "太太", "老公", "丈夫", "儿子", "女儿", "姐姐",
        "妹妹", "哥哥", "弟弟", "奶奶", "爷爷", "外婆", "外公", "姥姥", "姥爷"]),
    ("他", &["她"]),
];

/// Whether a request names a product rather than a need: it is short ("a lamp", "dog food",
/// "一台洗衣机": at most a few words besides who it is for), or it asks for a thing outright
/// ("do you have a robot vacuum? …", "Habt ihr Fahrradhelme?", "有没有投影仪？…") and that
/// thing is not "something". A need told as a situation ("my phone is always dead by the
/// afternoon") is neither.
pub fn names_product(text: &str) -> bool {
    let words = request_words(text);
    let lower = text.to_lowercase();
    // A gift for someone who likes a thing, or "something cozy for…", names no product.
    if words.gift || asks_for_something(&lower) {
        return false;
    }
    let content = words.words.iter().filter(|(_, r)| *r != Role::Soft).count();
    let limit = if text.chars().any(is_cjk) { NAMED_TERMS_ZH } else { NAMED_TERMS };
    (content > 0 && content <= limit) || asks_for_a_thing(&lower)
}

/// Whether the request asks for "something" anywhere ("something cozy for…", "ich brauche was
/// Bequemes", 想要点…东西): a word of [`UNNAMED`], or its Chinese words within a run of
/// Chinese text (which [`split_words`] keeps whole).
fn asks_for_something(lower: &str) -> bool {
    let words = split_words(lower);
    UNNAMED.iter().any(|u| if u.chars().any(is_cjk) { lower.contains(u) } else { words.iter().any(|w| w == u) })
}

/// Content terms of a request short enough to be a product's name (Chinese counts character
/// pairs).
const NAMED_TERMS: usize = 3;
const NAMED_TERMS_ZH: usize = 4;

/// How shoppers ask whether a shop has a thing.
const ASKING: &[&str] = &[
    "do you have",
    "do you sell",
    "do you carry",
    "do you stock",
    "have you got",
    "got any",
    "habt ihr",
    "haben sie",
    "gibt es",
    "verkauft ihr",
    "verkaufen sie",
    "führt ihr",
    "führen sie",
    "有没有",
    "你们卖",
    "有卖",
    "卖不卖",
];

/// What asking for "something" says instead of a thing.
const UNNAMED: &[&str] = &["something", "anything", "etwas", "was", "irgendwas", "东西", "什么"];

/// Whether `lower` asks for a named thing: an asking phrase, not followed by "something".
fn asks_for_a_thing(lower: &str) -> bool {
    ASKING.iter().any(|a| {
        lower.match_indices(a).any(|(at, _)| {
            let rest = lower[at + a.len()..].trim_start();
            let next: String = rest.chars().take(16).collect();
            !UNNAMED.iter().any(|u| next.find(u).is_some_and(|i| i < 8))
        })
    })
}

/// The words a request says it does not want ("a couch that isn't leather" -> leather).
pub fn excluded_words(text: &str) -> Vec<String> {
    let (cleaned, mut negated) = cut_zh_negations(&text.to_lowercase());
    negated.extend(drop_negated(split_words(&cleaned)).1);
    negated.iter().flat_map(|w| super::text::terms(w)).collect()
}

/// `text` with each Chinese negation and what it negates (up to two characters, to 的) cut
/// out (a 的 in their place), and what they negated.
fn cut_zh_negations(text: &str) -> (String, Vec<String>) {
    let mut cleaned = text.to_string();
    // "有没有毯子？" asks whether there are blankets: its 没有 negates nothing.
    for question in ZH_QUESTION_FORMS {
        cleaned = cleaned.replace(question, "的");
    }
    let mut negated = Vec::new();
    for neg in NEGATION_ZH {
        while let Some(at) = cleaned.find(neg) {
            let after = at + neg.len();
            let span: String = cleaned[after..].chars().take_while(|c| is_cjk(*c) && *c != '的').take(2).collect();
            cleaned.replace_range(at..after + span.len(), "的");
            negated.push(span);
        }
    }
    (cleaned, negated)
}

/// `words` without the negations, the filler after them ("isn't made of") and the word each
/// negates; and those negated words.
fn drop_negated(words: Vec<String>) -> (Vec<String>, Vec<String>) {
    let (mut kept, mut negated) = (Vec::new(), Vec::new());
    let mut negate_next = false;
    for word in words {
        if NEGATION.contains(&word.as_str()) {
            negate_next = true;
        } else if !negate_next {
            kept.push(word);
        } else if !NEGATION_FILLER.contains(&word.as_str()) {
            negate_next = false;
            negated.push(word);
        }
    }
    (kept, negated)
}

/// Words, runs of punctuation and single CJK characters, in order (spaces dropped).
fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() && !is_cjk(c) {
            cur.push(c);
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if is_cjk(c) {
            // A run of CJK text stays one word; 的 and punctuation separate runs.
            match out.last_mut() {
                Some(last) if c != '的' && last.chars().last().is_some_and(|l| is_cjk(l) && l != '的') => {
                    last.push(c)
                }
                _ => out.push(c.to_string()),
            }
        } else if !c.is_whitespace() && c != '\'' && c != '’' && c != '-' {
            out.push(c.to_string());
        } else if c == '\'' || c == '’' {
            // "isn't" reads as "isn" + "t", as search terms do.
            out.push(String::new());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.retain(|w| !w.is_empty());
    out
}
