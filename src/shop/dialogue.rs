//! A conversation with the shopper: what each message means given what came before, read
//! from its words (en, de, zh) and the state kept for the session, never from free model text.
//!
//! Each message becomes a [`Step`]: a search to run (a new one, or the current one refined:
//! cheaper, under a budget, in a colour, lighter, "show me more"), a policy question to
//! answer, or a reply made here from the catalog's own data: a product's attribute or
//! description sentence ("how much does it weigh?"), a comparison of the products shown, a
//! question back when a request is too broad ("a gift"), or a courteous "anything else?".
//! The caller runs searches and policy answers (with the model or without it) and reports
//! what it showed ([`Dialogue::shown`], [`Dialogue::answered`]), so that "it", "the cheaper
//! one" and "that tent" refer to what the shopper saw.

use std::sync::Arc;

use serde::Serialize;

use super::assist::Shop;
use super::catalog::Product;
use super::lexicon;
use super::query::{Constraints, Lang, Role, detect_lang, parse_constraints, request_words};
use super::retrieve::has_colour;
use super::route::{self, Route};
use super::suggest::{self, SuggestOptions};
use super::text::{self, is_cjk, stem, terms};

/// What a turn was, as `aisle converse --json` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Products found for a request (new or refined).
    Suggest,
    /// A policy answer.
    Answer,
    /// An answer about one product, from its data.
    Product,
    /// A comparison of two or three products.
    Compare,
    /// A question back: the request was too broad.
    Clarify,
    /// Products to put in the cart ("add the second one to my cart"): the caller adds them
    /// as its own "Add to cart" would.
    Cart,
    /// Nothing to show ("thanks").
    None,
}

/// One row of a comparison: an attribute and each product's value as the catalog has it
/// (`None` where a product lacks it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    pub values: Vec<Option<String>>,
}

/// A reply made from the catalog's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Said {
    pub kind: Kind,
    pub products: Vec<String>,
    pub text: String,
    /// The comparison table (compare turns): rows of attributes the products share.
    pub rows: Vec<Row>,
    /// Tappable follow-ups (clarify turns): texts the shopper may send as they are.
    pub chips: Vec<String>,
    /// The reply says the shop's data does not tell: a caller may offer to ask the shop.
    pub unknown: bool,
}

/// What the caller does with a message.
#[derive(Debug, Clone)]
pub enum Step {
    /// Run a suggestion for `request` with `opts` (constraints in force, products to skip),
    /// then report the products named with [`Dialogue::shown`].
    Suggest { request: String, opts: SuggestOptions },
    /// Answer `question` from the policies, then report it with [`Dialogue::answered`].
    Answer { question: String, lang: Lang },
    /// The reply, made here.
    Said(Said),
}

/// What the session remembers.
#[derive(Debug, Clone, Default)]
struct State {
    lang: Option<Lang>,
    /// The current search, as the shopper built it (messages joined), and its constraints.
    request: Option<String>,
    constraints: Constraints,
    /// Products of the last list shown, in order; every product shown for this search; and
    /// every product shown this session, the latest last ("the stove" after other searches).
    last: Vec<String>,
    seen: Vec<String>,
    history: Vec<String>,
    /// The product "it" means: the one last answered about or named alone.
    focus: Option<String>,
    /// The last policy question.
    question: Option<String>,
    /// The broad message a clarifying question was asked about.
    clarifying: Option<String>,
    /// The aspect (a position in [`ASPECTS`]) the last turn asked of a product, and the
    /// product; and the same of the turn before this one.
    asked: Option<(usize, String)>,
    asked_before: Option<(usize, String)>,
    last_kind: Option<Kind>,
}

/// A conversation over one shop.
pub struct Dialogue {
    shop: Arc<Shop>,
    state: State,
    /// The language forced by the caller, if any.
    lang: Option<Lang>,
}

// Cue words, matched on lower-cased whole words (Chinese: as substrings).
#[rustfmt::skip]
const CHEAPER: &[&str] = &["cheaper", "less expensive", "too expensive", "more affordable", "lower price", "cheapest",
    "günstiger", "billiger", "preiswerter", "zu teuer", "günstigeres", "billigeres", "günstigere",
    "便宜", "太贵", "实惠", "贵了"];
#[rustfmt::skip]
const PRICIER: &[&str] = &["more expensive", "pricier", "higher end", "premium", "better quality", "teurer", "hochwertiger", "贵一点", "更好的", "高端"];
#[rustfmt::skip]
const LIGHTER: &[&str] = &["lighter", "less heavy", "lightest", "leichter", "leichteres", "leichtere", "轻一点", "更轻", "轻便", "轻点"];
#[rustfmt::skip]
const MORE: &[&str] = &["show me more", "more options", "anything else", "something else", "other options", "others", "more like", "show more",
    "zeig mir mehr", "mehr davon", "weitere", "andere", "noch mehr", "sonst noch",
    "还有别的", "还有其他", "更多", "别的", "其他的"];
#[rustfmt::skip]
const COMPARE: &[&str] = &["compare", "comparison", "difference", "differences", "versus", "vs", "which is better", "which one is better", "which should i",
    "vergleich", "vergleiche", "vergleichen", "unterschied", "unterschiede", "welcher ist besser", "welches ist besser",
    "比较", "区别", "对比", "哪个好", "有什么不同", "差别", "比一比", "比比", "相比"];
#[rustfmt::skip]
const SEARCHING: &[&str] = &["anything", "any", "do you have", "do you sell", "do you carry", "got any", "are there", "have you got", "something",
    "habt ihr", "gibt es", "haben sie", "führt ihr", "führen sie", "etwas",
    "有没有", "有什么", "有哪些"];
#[rustfmt::skip]
const SUPERLATIVE: &[&str] = &["lightest", "heaviest", "longest battery", "battery lasts longest", "best battery", "cheapest", "most expensive",
    "leichteste", "leichtesten", "schwerste", "längste akku", "akku am längsten", "günstigste", "teuerste",
    "最轻", "最重", "续航最长", "最便宜", "最贵"];
#[rustfmt::skip]
const THANKS: &[&str] = &["thanks", "thank you", "thx", "great", "ok", "okay", "cool", "bye", "hello", "hi", "hey", "perfect", "got it", "nice", "alright", "no",
    "danke", "vielen dank", "alles klar", "klar", "super", "tschüss", "hallo", "prima", "gut", "perfekt", "nein",
    "that's all", "that's it", "das war's", "das wars", "passt schon",
    "谢谢", "好的", "再见", "你好", "明白", "知道了", "好", "不用了", "没有了", "先这样", "就这样"];
#[rustfmt::skip]
const BROAD: &[&str] = &["gift", "present", "something", "anything", "nice", "ideas", "idea", "recommend", "buy", "want", "need", "looking", "shopping",
    "geschenk", "etwas", "schönes", "ideen", "idee", "empfehlen", "kaufen", "suche", "brauche", "möchte",
    "礼物", "东西", "推荐", "买", "想", "送"];
/// A wish with no thing in it.
#[rustfmt::skip]
const VAGUE: &[&str] = &["something nice", "something special", "something cool", "something pretty",
    "etwas schönes", "was schönes", "etwas besonderes", "was besonderes", "was nettes", "etwas nettes",
    "好东西", "好看的东西", "特别的东西", "有意思的东西"];
/// Words that refer to something shown, and question words: never what a message is about.
#[rustfmt::skip]
const REFERRING: &[&str] = &["it", "its", "it's", "that", "this", "these", "those", "them", "they", "one", "ones", "both", "two", "three", "first", "second", "third", "last",
    "does", "do", "is", "are", "can", "could", "what", "whats", "what's", "how", "which", "will", "would", "has", "have", "come", "comes", "much", "many", "tell", "me", "about", "also", "there",
    "es", "das", "die", "der", "den", "dem", "diese", "dieser", "dieses", "beide", "beiden", "ist", "hat", "kann", "gibt", "gibts", "gibt's", "wie", "was", "welche", "welcher", "welches", "auch", "erste", "zweite", "dritte", "letzte",
    "它", "这个", "那个", "这款", "那款", "这", "那", "吗", "呢", "什么", "怎么", "多少", "哪个", "第一个", "第二个", "第三个", "最后一个"];
/// Asking for a product itself ("tell me more about it", "show me the second one").
#[rustfmt::skip]
const DESCRIBE: &[&str] = &["more", "details", "detail", "describe", "info", "information", "show", "see", "look",
    "erzähl", "erzähle", "erzählen", "mehr", "infos", "beschreib", "beschreibe", "zeig", "zeige", "zeigen", "genauer",
    "介绍", "详细", "说说", "讲讲", "看看", "怎么样"];
#[rustfmt::skip]
const QUESTION: &[&str] = &["does", "do", "is", "are", "can", "could", "what", "whats", "what's", "how", "which", "will", "would", "has", "have", "tell me",
    "ist", "hat", "kann", "können", "gibt", "wie", "was", "welche", "welcher", "welches", "passt", "woraus", "wieviel", "wie viel",
    "吗", "呢", "什么", "怎么", "多少", "哪个", "哪些", "是否", "能不能", "可以", "多重", "多大", "多长", "多久", "几"];
#[rustfmt::skip]
const IT: &[&str] = &["it", "its", "it's", "that one", "this one", "that", "this", "es", "das", "der", "die", "dem", "den", "ihn", "它", "这个", "那个", "这款", "那款",
    "这条", "那条", "这件", "那件", "这双", "那双", "这把", "那把", "这台", "那台", "这只", "那只", "这套", "那套", "这张", "那张", "这块", "那块"];
#[rustfmt::skip]
const ORDINALS: &[(&[&str], usize)] = &[
    (&["first", "1st", "erste", "ersten", "erstes", "第一"], 0),
    (&["second", "2nd", "zweite", "zweiten", "zweites", "第二"], 1),
    (&["third", "3rd", "dritte", "dritten", "drittes", "第三"], 2),
];
/// A product shown, named by its price ("can the cheaper one crush ice?").
#[rustfmt::skip]
const CHEAPER_ONE: &[&str] = &["cheaper one", "cheapest", "günstigere", "günstigeren", "günstigste", "billigere", "billigste", "便宜的那", "最便宜"];
#[rustfmt::skip]
const PRICIER_ONE: &[&str] = &["more expensive one", "pricier one", "teurere", "teureren", "teuerste", "贵的那", "最贵"];
#[rustfmt::skip]
const CART: &[&str] = &["cart", "my basket", "shopping basket", "trolley", "warenkorb", "einkaufswagen", "购物车", "购物篮"];
#[rustfmt::skip]
const ADD: &[&str] = &["add", "put", "pop", "throw",
    "leg", "lege", "legen", "legt", "pack", "packe", "packen", "tu", "tue", "tun", "hinzufügen", "füge", "füg", "hinzu", "rein",
    "加入", "加到", "加进", "放进", "放入", "放到", "添加", "加一"];
#[rustfmt::skip]
const ALL: &[&str] = &["all of them", "them all", "all three", "add all", "put all", "everything", "alle", "allesamt", "全部", "都"];
#[rustfmt::skip]
const LAST_ONE: &[&str] = &["last one", "letzte", "letzten", "最后"];

/// Product questions about one attribute: the cue words, the attribute keys that answer
/// them, and what the answer is called in each language.
struct Aspect {
    cues: &'static [&'static str],
    keys: &'static [&'static str],
    names: [&'static str; 3],
    /// What a description sentence about it contains (lower-cased), when no attribute says.
    hints: &'static [&'static str],
}

#[rustfmt::skip]
const ASPECTS: &[Aspect] = &[
    Aspect { cues: &["weigh", "weight", "heavy", "gewicht", "wiegt", "schwer", "多重", "重量", "重吗"], keys: &["weight"], names: ["weight", "Gewicht", "重量"],
        hints: &[" kg", " g ", " g.", " g,", "weigh", "gewicht", "wiegt", "公斤", "克"] },
    Aspect { cues: &["made of", "material", "fabric", "what is it made", "aus was", "woraus", "stoff", "材质", "材料", "什么做的", "面料"], keys: &["material", "materials", "fabric"], names: ["material", "Material", "材质"],
        hints: &["cotton", "wool", "steel", "leather", "wood", "walnut", "maple", "oak", "plastic", "glass", "ceramic", "porcelain", "stoneware", "bamboo", "linen", "alumin", "silicone", "polyester", "nylon", "merino", "shearling", "jute", "rattan", "wicker", "velvet", "marble", "quartz", "brass", "iron", "copper", "silk", "satin", "acrylic", "stone", "down", "feather", "hemp", "sisal", "cork", "felt", "rubber", "foam", "fibers", "fibres",
            "material", "baumwolle", "wolle", "stahl", "leder", "holz", "kunststoff", "glas", "keramik", "porzellan", " samt", "marmor", "seide", "messing", "eisen", "stein", "daunen", "fasern", "quarz", "metall", "leinen", "bambus",
            "棉", "羊毛", "钢", "皮", "木", "塑料", "玻璃", "陶瓷", "瓷", "黄麻", "藤", "丝", "大理石", "石英", "铜", "铁", "羽绒"] },
    Aspect { cues: &["battery", "charge", "charging", "akku", "batterie", "laufzeit", "aufladen", "电池", "续航", "充电", "充满电"], keys: &["battery", "battery_life", "battery life", "battery_hours"], names: ["battery", "Akku", "电池"],
        hints: &["battery", "hours", "akku", "stunden", "电池", "续航", "小时"] },
    Aspect { cues: &["wash", "washable", "washing machine", "dishwasher", "clean", "care", "waschen", "waschbar", "waschmaschine", "spülmaschine", "spülmaschinenfest", "reinigen", "pflege", "洗", "机洗", "水洗", "洗碗机", "清洗"], keys: &["care"], names: ["care", "Pflege", "洗护"],
        hints: &["wash", "dishwasher", "clean", "dry clean", "wasch", "wäsch", "spülmasch", "reinig", "洗"] },
    Aspect { cues: &["waterproof", "water resistant", "water-resistant", "rain", "wasserdicht", "wasserfest", "regen", "防水"], keys: &["water_rating", "water_resistance", "waterproof"], names: ["water resistance", "Wasserschutz", "防水"],
        hints: &["waterproof", "water-resistant", "water resistant", "ipx", "wasserdicht", "wasserfest", "防水"] },
    Aspect { cues: &["dimension", "dimensions", "how big", "how large", "size", "sizes", "how tall", "how long", "how wide", "maße", "größe", "größen", "wie groß", "尺寸", "多大", "尺码", "大小"], keys: &["dimensions", "size", "sizes", "capacity"], names: ["size", "Größe", "尺寸"],
        hints: &[" cm", " mm", "inch", "\"", " l ", " ml", "zoll", "厘米", "毫米", "尺寸", "size", "größe"] },
    Aspect { cues: &["colour", "color", "colours", "colors", "farbe", "farben", "颜色"], keys: &["color", "colour", "colors", "colours"], names: ["colour", "Farbe", "颜色"],
        hints: &[] },
    Aspect { cues: &["brand", "who makes", "marke", "hersteller", "品牌"], keys: &["brand"], names: ["brand", "Marke", "品牌"], hints: &[] },
    Aspect { cues: &["how much is", "how much does it cost", "price", "cost", "kostet", "preis", "多少钱", "价格"], keys: &[], names: ["price", "Preis", "价格"], hints: &[] },
    Aspect { cues: &["in stock", "available", "availability", "verfügbar", "lieferbar", "auf lager", "有货", "现货"], keys: &[], names: ["availability", "Verfügbarkeit", "库存"], hints: &[] },
    Aspect { cues: &["made in", "where is it made", "where was it made", "country of origin", "origin", "hergestellt", "herkunft", "produziert", "产地", "哪里产", "哪国", "哪里生产", "哪里制造"], keys: &["origin", "country_of_origin", "made_in", "country"], names: ["origin", "Herkunft", "产地"],
        hints: &["made in", "hergestellt in", "produziert in", "产自", "产地"] },
    Aspect { cues: &["what's in", "what is in", "what's included", "included", "what comes with", "come with", "comes with", "in the box", "in the set",
            "was ist drin", "alles drin", "was ist dabei", "dabei", "enthalten", "lieferumfang", "was gehört dazu",
            "包含", "包括", "里面有", "附带", "配件"], keys: &["contents", "includes", "included", "in_the_box"], names: ["contents", "Inhalt", "内容"],
        hints: &["includes", "included", "comes with", "with ", "contains", "set of", "enthält", "inklusive", "mit ", "samt", "含", "包括", "附", "配"] },
];
/// The positions in [`ASPECTS`] answered from the product's price and stock, not attributes.
const PRICE: usize = 8;
const STOCK: usize = 9;
/// The position in [`ASPECTS`] of what comes with a product: asked with a thing named ("does it
/// come with stakes?"), only a sentence naming that thing answers, not any sentence with "with".
const CONTENTS: usize = 11;
/// Cues asking what comes with a product at all ("was ist in dem Set alles drin?"), which any
/// sentence of its contents answers.
const OPEN_CONTENTS: &[&str] = &[
    "what's in",
    "what is in",
    "what's included",
    "what comes with",
    "in the box",
    "in the set",
    "was ist drin",
    "alles drin",
    "was ist dabei",
    "lieferumfang",
    "was gehört dazu",
    "里面有",
];

#[rustfmt::skip]
const WHICH: &[&str] = &["which", "welche", "welcher", "welches", "哪个", "哪款", "哪一个", "哪些"];
#[rustfmt::skip]
const PAIR: &[&str] = &["both", "the two", "these two", "those two", "two of them", "beide", "beiden", "die zwei", "两个", "这两", "俩"];

/// Whether `text` (lower-cased) contains `cue`: as whole words, or anywhere for Chinese.
fn has(text: &str, cue: &str) -> bool {
    if cue.chars().any(is_cjk) {
        return text.contains(cue);
    }
    let mut from = 0;
    while let Some(at) = text[from..].find(cue) {
        let start = from + at;
        let end = start + cue.len();
        let before = text[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        from = end;
    }
    false
}

fn any(text: &str, cues: &[&str]) -> bool {
    cues.iter().any(|c| has(text, c))
}

/// A weight in grams from text such as "1.1 kg", "850 g", "2 lb", "12 oz".
fn grams(text: &str) -> Option<f64> {
    let lower = text.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == ',') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect::<String>().replace(',', ".");
            let rest: String = chars[i..].iter().collect::<String>();
            let unit = rest.trim_start();
            let value: f64 = number.trim_end_matches('.').parse().ok()?;
            let word_end = |u: &str| unit[u.len()..].chars().next().is_none_or(|c| !c.is_alphabetic());
            for (u, factor) in [
                ("kg", 1000.0),
                ("g", 1.0),
                ("lbs", 453.6),
                ("lb", 453.6),
                ("oz", 28.35),
                ("公斤", 1000.0),
                ("克", 1.0),
            ] {
                if unit.starts_with(u) && (u.chars().any(is_cjk) || word_end(u)) {
                    return Some(value * factor);
                }
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Hours from text such as "30 h", "30 hours", "30 Stunden", "30小时".
fn hours(text: &str) -> Option<f64> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| c.is_whitespace() || c == '-').collect();
    for (i, w) in words.iter().enumerate() {
        let digits: String = w.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        if digits.is_empty() {
            continue;
        }
        let unit = w[digits.len()..].to_string() + " " + words.get(i + 1).copied().unwrap_or("");
        let unit = unit.trim_start();
        if ["h ", "h", "hr", "hours", "hour", "stunden", "std", "小时"].iter().any(|u| unit.starts_with(u)) {
            return digits.parse().ok();
        }
    }
    None
}

impl Dialogue {
    pub fn new(shop: Arc<Shop>, lang: Option<Lang>) -> Self {
        Dialogue { shop, state: State::default(), lang }
    }

    /// Goes on over another catalog of the same shop (a larger part of a sharded one): the
    /// state names products by id, so what was shown stays what "it" refers to.
    pub fn use_shop(&mut self, shop: Arc<Shop>) {
        self.shop = shop;
    }

    /// The products of the last list shown, in order.
    pub fn last_shown(&self) -> &[String] {
        &self.state.last
    }

    /// What to do with the shopper's next message.
    pub fn respond(&mut self, message: &str) -> Step {
        let lang = self.lang_of(message);
        self.state.lang = Some(lang);
        let low = message.to_lowercase();
        self.state.asked_before = self.state.asked.take();
        let step = self.read(message, &low, lang);
        if let Step::Said(s) = &step {
            self.state.last_kind = Some(s.kind);
            if let [only] = &s.products[..] {
                self.state.focus = Some(only.clone());
            }
        }
        step
    }

    /// The products a [`Step::Suggest`] named, in order.
    pub fn shown(&mut self, products: &[String]) {
        self.state.last_kind = Some(Kind::Suggest);
        if products.is_empty() {
            return; // "that's all": what was shown stays what "it" refers to
        }
        self.state.last = products.to_vec();
        for p in products {
            if !self.state.seen.contains(p) {
                self.state.seen.push(p.clone());
            }
            self.state.history.retain(|h| h != p);
            self.state.history.push(p.clone());
        }
        self.state.focus = (products.len() == 1).then(|| products[0].clone());
    }

    /// A [`Step::Answer`] was given: a short question after it may go on about the policies.
    pub fn answered(&mut self) {
        self.state.last_kind = Some(Kind::Answer);
    }

    fn lang_of(&self, message: &str) -> Lang {
        if let Some(l) = self.lang {
            return l;
        }
        // A short message ("ok", "show me more") keeps the conversation's language.
        match (detect_lang(message), self.state.lang) {
            (Lang::En, Some(previous)) if message.split_whitespace().count() <= 4 => previous,
            (detected, _) => detected,
        }
    }

    fn read(&mut self, message: &str, low: &str, lang: Lang) -> Step {
        let has_list = !self.state.last.is_empty();
        let constraints = parse_constraints(message);
        let topic = self.topic_words(message);
        if topic.is_empty() && constraints.is_empty() && any(low, THANKS) && !any(low, QUESTION) && !any(low, BROAD) {
            return said(Kind::None, Vec::new(), courtesy(lang));
        }
        if any(low, CART) && any(low, ADD) {
            return self.add_to_cart(message, low, lang);
        }
        // "Something nice for my office": a vague wish about a place or a person, naming no kind
        // of product the shop has, is as broad as "a gift".
        let vague = any(low, VAGUE)
            && self
                .shop
                .index
                .request_words(message)
                .words
                .iter()
                .all(|(w, r)| *r != Role::Core || lexicon::is_need(w));
        let broad = (topic.is_empty() || vague) && constraints.is_empty() && any(low, BROAD);
        // Before the policies: "Ich brauche was Schönes für meine neue Wohnung" is no question
        // about shoe sizes for sharing their "für".
        if broad && !has_list && self.state.clarifying.is_none() {
            return self.clarify(message, lang);
        }
        // "Is it made in Japan?" asks the product, though the shipping policy names Japan.
        let product_aspect = ASPECTS.iter().enumerate().any(|(i, a)| i != PRICE && i != STOCK && any(low, a.cues));
        if product_aspect
            && self.explicitly_referred(low)
            && (any(low, QUESTION) || message.contains('?') || message.contains('？'))
            && let Some(step) = self.about_product(message, low, lang)
        {
            return step;
        }
        if let Some(step) = self.policy(message, low, lang) {
            return step;
        }
        if has_list && any(low, COMPARE) {
            return self.compare(low, lang);
        }
        let asking = has_list && (any(low, QUESTION) || message.contains('?') || message.contains('？'));
        // "do you have anything …?" looks for products; "does it …?" asks about one, and so does
        // "最便宜的那双有哪些尺码？" (which sizes has the cheapest of them?).
        // "Is the sole any good on pavement?" asks about one; "any good" is no search.
        let searching = any(&low.replace("any good", "good"), SEARCHING)
            && !self.explicitly_referred(low)
            && !any(low, SUPERLATIVE);
        let about = asking && !searching;
        // A question about an attribute ("how much does the cheaper one weigh?") or the
        // best of those shown is about products, even with "cheaper" in it.
        let aspect = ASPECTS.iter().any(|a| any(low, a.cues)) || any(low, SUPERLATIVE);
        if about
            && aspect
            && let Some(step) = self.about_product(message, low, lang)
        {
            return step;
        }
        // "Can the cheaper one crush ice?" asks about a product shown; it refines nothing.
        let by_price = about && (any(low, CHEAPER_ONE) || any(low, PRICIER_ONE));
        let refining = self.state.request.is_some()
            && !by_price
            && (any(low, CHEAPER)
                || any(low, PRICIER)
                || any(low, LIGHTER)
                || any(low, MORE)
                || !constraints.is_empty());
        if refining && (topic.is_empty() || self.topic_is_current(&topic) || self.topic_is_follow_up(&topic)) {
            return self.refine(message, low, lang, constraints);
        }
        // "the second one", "das zweite", "第二个": that product itself.
        if topic.is_empty()
            && constraints.is_empty()
            && self.explicitly_referred(low)
            && let Some(step) = self.referenced(message, low).and_then(|id| self.describe(id, lang))
        {
            return step;
        }
        // A question whose words find no other product ("is the sole any good on pavement?",
        // "Wie viele Leute passen da rein?") is about those shown, in words their data may lack.
        // A question naming a kind of product never shown ("also need a chair, black if you
        // have one") is a new search, though a product shown is black too.
        let referred = self.explicitly_referred(low) || self.named_earlier(message).is_some();
        if about
            && (topic.is_empty()
                || self.topic_in_list(&topic)
                || (referred && !self.topic_is_new(&topic))
                || self.topic_is_follow_up(&topic))
            && let Some(step) = self.about_product(message, low, lang)
        {
            return step;
        }
        if let Some(broad) = self.state.clarifying.take() {
            // The answer to our question, or a new request (which wins).
            let both = format!("{broad}. {message}");
            // A message that finds products alone is a new request; one that finds none ("他很
            // 喜欢运动，预算50美元以内": he loves sports) answers the question.
            let alone = || {
                let opts = SuggestOptions { constraints: Some(parse_constraints(&both)), ..SuggestOptions::default() };
                !suggest::plan(&self.shop, message, None, &opts).candidates.is_empty()
            };
            let request = if !topic.is_empty() && alone() { message.to_string() } else { both.clone() };
            return self.search(request, parse_constraints(&both), lang);
        }
        if broad {
            return self.clarify(message, lang);
        }
        self.search(message.to_string(), constraints, lang)
    }

    /// A question back about a request too broad to answer well ("a gift", "something nice").
    fn clarify(&mut self, message: &str, lang: Lang) -> Step {
        self.state.clarifying = Some(message.to_string());
        Step::Said(Said {
            kind: Kind::Clarify,
            products: Vec::new(),
            text: clarify_question(lang).to_string(),
            rows: Vec::new(),
            chips: self.clarify_chips(message, lang),
            unknown: false,
        })
    }

    /// Whether the message points at one of the products shown ("it", "the second one", "the
    /// cheaper one", "that tent").
    fn explicitly_referred(&self, low: &str) -> bool {
        !self.state.last.is_empty()
            && (any(low, IT)
                || ORDINALS.iter().any(|(cues, _)| any(low, cues))
                || any(low, LAST_ONE)
                || self.named_in_list(low).is_some())
    }

    /// "Add the second one to my cart", "leg beide in den Warenkorb", "把它加入购物车": the
    /// products the message refers to (both, all of them, one by reference, or one it names),
    /// those in stock; out of stock or unclear, a reply that says so.
    fn add_to_cart(&mut self, message: &str, low: &str, lang: Lang) -> Step {
        let last = &self.state.last;
        let ids: Vec<String> = if any(low, PAIR) {
            last.iter().take(2).cloned().collect()
        } else if any(low, ALL) {
            last.clone()
        } else if last.is_empty() {
            self.named_in_catalog(message).into_iter().collect()
        } else {
            self.referenced(message, low).into_iter().collect()
        };
        let products: Vec<&Product> = ids.iter().filter_map(|id| self.shop.catalog.get(id)).collect();
        let (stocked, gone): (Vec<&Product>, Vec<&Product>) = products.into_iter().partition(|p| p.in_stock);
        let titles = |ps: &[&Product]| ps.iter().map(|p| p.title_in(lang.code())).collect::<Vec<_>>().join(", ");
        if stocked.is_empty() {
            return match gone.as_slice() {
                [] => said(Kind::None, Vec::new(), which_for_cart(lang).to_string()),
                _ => said(
                    Kind::Product,
                    gone.iter().map(|p| p.id.clone()).collect(),
                    format!("{} — {}", titles(&gone), in_stock_text(false, lang)),
                ),
            };
        }
        let mut text = format!("{} {}", to_cart_text(lang), titles(&stocked));
        if !gone.is_empty() {
            text.push_str(&format!(
                " ({} — {})",
                titles(&gone),
                in_stock_text(false, lang).trim_end_matches(['.', '。'])
            ));
        }
        said(Kind::Cart, stocked.iter().map(|p| p.id.clone()).collect(), text)
    }

    /// A new search: the state starts again from this message.
    fn search(&mut self, request: String, constraints: Constraints, lang: Lang) -> Step {
        self.state.request = Some(request.clone());
        self.state.constraints = constraints.clone();
        self.state.seen.clear();
        self.state.clarifying = None;
        // Asked of a product, then for products with it ("这条能机洗吗" then "那有没有可以直接
        // 机洗的毯子"): others are wanted, whatever that product's answer was.
        let low = request.to_lowercase();
        let skip = match &self.state.asked_before {
            Some((a, id)) if any(&low, ASPECTS[*a].cues) => vec![id.clone()],
            _ => Vec::new(),
        };
        let opts =
            SuggestOptions { lang: Some(lang), constraints: Some(constraints), skip, ..SuggestOptions::default() };
        Step::Suggest { request, opts }
    }

    /// The current search, refined by `message`: a budget, a colour or size, cheaper or
    /// pricier than what was shown, lighter, or more of the same.
    fn refine(&mut self, message: &str, low: &str, lang: Lang, stated: Constraints) -> Step {
        let mut c = self.state.constraints.clone();
        if stated.max_price.is_some() || stated.min_price.is_some() {
            c.max_price = stated.max_price;
            c.min_price = stated.min_price;
        }
        if !stated.colors.is_empty() {
            c.colors = stated.colors.clone();
        }
        if stated.size.is_some() {
            c.size = stated.size.clone();
        }
        c.exclude.extend(stated.exclude.iter().cloned());
        // "Cheaper", "lighter": than the product the shopper was looking at (the one answered
        // about, else the first shown).
        let reference: Vec<&Product> = {
            let focus = self.state.focus.as_ref().and_then(|f| self.shop.catalog.get(f));
            focus.into_iter().chain(self.last_products()).collect()
        };
        let mut skip = Vec::new();
        if any(low, CHEAPER) && stated.max_price.is_none() {
            if let Some(price) = reference.iter().find_map(|p| p.price) {
                c.max_price = Some(price - 0.01);
            }
        } else if any(low, PRICIER)
            && stated.min_price.is_none()
            && let Some(price) = reference.iter().find_map(|p| p.price)
        {
            c.min_price = Some(price + 0.01);
        }
        if any(low, LIGHTER)
            && let Some(limit) = reference.iter().find_map(|p| weight_of(p))
        {
            let heavier = self.shop.catalog.products.iter().filter(|p| weight_of(p).is_none_or(|w| w >= limit));
            skip.extend(heavier.map(|p| p.id.clone()));
        }
        if any(low, MORE) {
            skip.extend(self.state.seen.iter().cloned());
        }
        let base = self.state.request.clone().unwrap_or_default();
        skip.extend(self.below_shown(&base));

        let request = if self.topic_words(message).is_empty() { base } else { format!("{base}. {message}") };
        self.state.request = Some(request.clone());
        self.state.constraints = c.clone();
        let opts = SuggestOptions {
            lang: Some(lang),
            constraints: Some(c),
            skip,
            by_meaning: false,
            ..SuggestOptions::default()
        };
        if suggest::plan(&self.shop, &request, None, &opts).candidates.is_empty() {
            // Nothing more fits: say so, and keep what was shown as what "it" means.
            return said(Kind::Suggest, Vec::new(), thats_all(lang).to_string());
        }
        Step::Suggest { request, opts }
    }

    /// A refinement narrows what was asked for: the products `request` finds less well than
    /// every product shown for it ("anything under $35?" after champagne glasses names no
    /// coaster for sharing "glass"), which it then skips. None when what was shown came from
    /// meaning rather than words.
    fn below_shown(&self, request: &str) -> Vec<String> {
        let hits = self.shop.index.search(&self.shop.catalog, request, &Constraints::default(), None, usize::MAX);
        let id = |h: &super::retrieve::Candidate| &self.shop.catalog.products[h.index].id;
        let shown: Vec<f64> = hits.iter().filter(|h| self.state.last.contains(id(h))).map(|h| h.relevance).collect();
        if shown.len() < self.state.last.len() {
            return Vec::new();
        }
        let bar = shown.into_iter().fold(f64::INFINITY, f64::min);
        hits.iter().filter(|h| h.relevance < bar).map(|h| id(h).clone()).collect()
    }

    /// A policy question, a follow-up to one ("and for electronics?"), or a question about a
    /// product's policy ("what's the warranty on it?").
    fn policy(&mut self, message: &str, low: &str, lang: Lang) -> Option<Step> {
        self.shop.policies.as_ref()?;
        let covered = |q: &str| !route::policy_passages(&self.shop, q, 1, route::ANSWER_MIN_RELEVANCE).is_empty();
        // After a policy answer, a short "and for electronics?", or a question no product
        // answers ("Liefert ihr auch nach Deutschland?"), goes on about the policies.
        let after_answer = self.state.last_kind == Some(Kind::Answer);
        let with_last = self.state.question.as_ref().map(|q| format!("{q} {message}"));
        // A search, only when it can matter (after an answer), not on every message.
        let finds_products =
            || !suggest::plan(&self.shop, message, None, &SuggestOptions::default()).candidates.is_empty();
        let continues = message.split_whitespace().count() <= 6
            && any(
                low,
                &["and", "what about", "how about", "und", "was ist mit", "wie ist es mit", "那", "还有", "呢"],
            )
            && with_last.as_deref().is_some_and(covered);
        let follow_up = after_answer && (continues || !finds_products());
        let on_product = !self.state.last.is_empty() && any(low, IT) && covered(message);
        // "and for electronics?" means the last question about electronics; a question that
        // stands on its own stays as it is.
        // … unless it answers better alone ("Und wie lange Garantie gibt es darauf?").
        let relevance = |q: &str| self.shop.policies.as_ref().and_then(|p| p.best(q)).map_or(0.0, |h| h.relevance);
        let question = match with_last {
            Some(q) if continues && relevance(message) <= relevance(&q) => q,
            Some(q) if follow_up && !covered(message) => q,
            _ => message.to_string(),
        };
        let answer = route::route(&self.shop, message) == Route::Answer || follow_up || on_product;
        if !answer {
            return None;
        }
        // "on it": the product's categories help find the passage that covers it.
        let categories = on_product
            .then(|| self.referenced(message, low))
            .flatten()
            .and_then(|id| self.shop.catalog.get(&id).map(|p| p.categories.join(" ")));
        let question = match categories.map(|cats| format!("{question} {cats}")) {
            Some(with_categories) if covered(&with_categories) => with_categories,
            _ => question,
        };
        self.state.question = Some(question.clone());
        Some(Step::Answer { question, lang })
    }

    /// The product a message refers to among those shown: by an ordinal, "the cheaper one",
    /// words of its title ("that tent"), or "it".
    fn referenced(&self, message: &str, low: &str) -> Option<String> {
        let last = &self.state.last;
        if last.is_empty() {
            return None;
        }
        for (cues, i) in ORDINALS {
            if any(low, cues) && *i < last.len() {
                return Some(last[*i].clone());
            }
        }
        if any(low, LAST_ONE) {
            return last.last().cloned();
        }
        // "The cheaper one" weighs alternatives of one kind: those sharing a category with the
        // first shown ("beim günstigeren" of two coffee tables, not the cup shown after them).
        let products = self.last_products();
        let kin: Vec<&Product> = products
            .iter()
            .copied()
            .filter(|p| products.first().is_some_and(|f| p.categories.iter().any(|c| f.categories.contains(c))))
            .collect();
        let products = if kin.len() >= 2 { kin } else { products };
        let by_price = |cheapest: bool| {
            let priced = products.iter().filter(|p| p.price.is_some());
            let best = if cheapest {
                priced.min_by(|a, b| a.price.unwrap_or(0.0).total_cmp(&b.price.unwrap_or(0.0)))
            } else {
                priced.max_by(|a, b| a.price.unwrap_or(0.0).total_cmp(&b.price.unwrap_or(0.0)))
            };
            best.map(|p| p.id.clone())
        };
        if any(low, CHEAPER_ONE) {
            return by_price(true);
        }
        if any(low, PRICIER_ONE) {
            return by_price(false);
        }
        if let Some(id) = self.named_in_list(message).or_else(|| self.named_earlier(message)) {
            return Some(id);
        }
        if !any(low, IT)
            && let Some(id) = self.named_in_catalog(message)
        {
            return Some(id);
        }
        // A Chinese question needs no question mark: "坐垫能拆下来洗吗".
        if any(low, IT) || low.contains('?') || low.contains('？') || any(low, &["吗", "呢"]) {
            return self.state.focus.clone().filter(|f| last.contains(f)).or_else(|| last.first().cloned());
        }
        None
    }

    /// The shown product whose title (in any language) or categories share the most words
    /// with the message ("that tent", "入耳式那款"), if one shares more than the others.
    fn named_in_list(&self, message: &str) -> Option<String> {
        self.named_among_one(message, self.last_products())
    }

    /// A product shown earlier in the session, not in the last list, that the message names
    /// by its own words ("does the stove come with a gas canister?" after a search for
    /// cookware), if one shares more words than the others.
    fn named_earlier(&self, message: &str) -> Option<String> {
        let earlier = self.state.history.iter().rev().filter(|id| !self.state.last.contains(id));
        self.named_among_one(message, earlier.filter_map(|id| self.shop.catalog.get(id)).collect())
    }

    /// The one product of `among` sharing the most words (or its colour) with the message, if
    /// one shares more than the others.
    fn named_among_one(&self, message: &str, among: Vec<&Product>) -> Option<String> {
        let words = self.topic_words(message);
        // "the grey one": a colour names a product too.
        let colours = parse_constraints(message).colors;
        if words.is_empty() && colours.is_empty() {
            return None;
        }
        let mut scored: Vec<(usize, &Product)> = among
            .into_iter()
            .map(|p| {
                let own = naming(p);
                let coloured = !colours.is_empty() && has_colour(p, &colours);
                (words.iter().filter(|w| names_by(&own, w)).count() + usize::from(coloured), p)
            })
            .collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        match scored.as_slice() {
            [(n, p), rest @ ..] if *n > 0 && rest.first().is_none_or(|r| r.0 < *n) => Some(p.id.clone()),
            _ => None,
        }
    }

    /// The products of `among` the message names by words that set them apart, in the list's
    /// order ("glass" among champagne glasses names none of them, "Clink" one); for such words
    /// that none of them has ("the gold rimmed ones", not in the list), the catalog's clear
    /// best match for those words as well.
    fn named_among(&self, message: &str, among: &[String]) -> Vec<String> {
        let (mut out, rest) = self.telling_names(message, among);
        if let Some(id) = self.best_named(&rest)
            && !out.contains(&id)
        {
            out.push(id);
        }
        out
    }

    /// The products of `among` named by the message's telling words (those not all of them
    /// have), and the telling words none of them has.
    fn telling_names(&self, message: &str, among: &[String]) -> (Vec<String>, Vec<String>) {
        let words = self.topic_words(message);
        let products: Vec<&Product> = among.iter().filter_map(|id| self.shop.catalog.get(id)).collect();
        let namings: Vec<Vec<String>> = products.iter().map(|p| naming(p)).collect();
        let telling: Vec<&String> =
            words.iter().filter(|w| products.len() < 2 || !namings.iter().all(|n| n.contains(w))).collect();
        let out: Vec<String> = products
            .iter()
            .zip(&namings)
            .filter(|(_, n)| telling.iter().any(|w| n.contains(w)))
            .map(|(p, _)| p.id.clone())
            .collect();
        let rest: Vec<String> =
            telling.iter().filter(|w| !namings.iter().any(|n| n.contains(w))).map(|w| w.to_string()).collect();
        (out, rest)
    }

    /// A product the message names that was not shown ("does the stove come with …?" when no
    /// stove was listed): the catalog's clear best match for its words.
    fn named_in_catalog(&self, message: &str) -> Option<String> {
        self.best_named(&self.topic_words(message))
    }

    /// The catalog's clear best match for `words` (search terms), if its own name has one.
    fn best_named(&self, words: &[String]) -> Option<String> {
        if words.is_empty() {
            return None;
        }
        let hits = self.shop.index.search(&self.shop.catalog, &words.join(" "), &Constraints::default(), None, 2);
        let best = hits.first().filter(|h| h.relevance >= 0.99)?;
        let p = &self.shop.catalog.products[best.index];
        let own = naming(p);
        words.iter().any(|w| own.contains(w)).then(|| p.id.clone())
    }

    /// An answer about one product from its attributes and description, or "the shop's
    /// description doesn't say". "Which one is the lightest?" picks among those shown.
    fn about_product(&mut self, message: &str, low: &str, lang: Lang) -> Option<Step> {
        if let Some(step) = self.superlative(low, lang) {
            return Some(step);
        }
        if let Some(step) = self.which(message, low, lang) {
            return Some(step);
        }
        let id = self.referenced(message, low)?;
        let p = self.shop.catalog.get(&id)?.clone();
        let title = p.title_in(lang.code()).to_string();
        let aspect = ASPECTS.iter().position(|a| any(low, a.cues));
        self.state.asked = aspect.map(|a| (a, id.clone()));
        // Words beyond the aspect and the product's own name ("how tall is the *king*?") point
        // at a sentence first; "入耳式那款" only says which product.
        let aspect_words: Vec<String> =
            aspect.map(|a| ASPECTS[a].cues.iter().flat_map(|c| terms(c)).collect()).unwrap_or_default();
        let own = naming(&p);
        let names_it =
            |w: &String| own.contains(w) || lexicon::translate(w).into_iter().flat_map(terms).any(|e| own.contains(&e));
        let words = self.topic_words(message);
        let mut other: Vec<String> =
            words.iter().filter(|w| !aspect_words.contains(w) && !names_it(w)).cloned().collect();
        if other.is_empty() && aspect.is_none() {
            if words.is_empty() {
                // Nothing asked but the product ("tell me about the second one").
                return self.describe(id, lang);
            }
            // No aspect either ("what's in the shaker set?"): the sentence that speaks of it.
            other = words.clone();
        }
        // A sentence may use another word for it: "instructions" and a "24-page guide".
        let synonyms: Vec<String> =
            other.iter().flat_map(|w| lexicon::synonyms(w)).flat_map(terms).filter(|t| !other.contains(t)).collect();
        other.extend(synonyms);
        // An attribute the question names ("which CPUs…?", "with 16GB of RAM?") answers first.
        // An aspect answers from its own attributes; "blade" alone does not name blade_length.
        let named = p
            .attributes
            .iter()
            .filter(|_| aspect.is_none())
            .find(|(k, _)| terms(k).iter().all(|t| words.contains(t)))
            .map(|(k, v)| format!("{k}: {}", v.as_text()));
        // With an aspect asked, the sentence must speak of it too ("头戴的那个充满电能用多久？":
        // 头戴 only says which product; its sentence says nothing of the battery).
        let hints = aspect.map(|a| ASPECTS[a].hints).filter(|h| !h.is_empty());
        let specific = if other.is_empty() { None } else { self.sentence_about(&p, &other, hints, lang) };
        let fact = named.or(specific).or_else(|| match aspect {
            Some(PRICE) => p.price_label().map(|v| format!("{} {v}", ASPECTS[PRICE].names[lang_index(lang)])),
            Some(STOCK) => Some(in_stock_text(p.in_stock, lang).to_string()),
            Some(CONTENTS) if !other.is_empty() && !any(low, OPEN_CONTENTS) => None,
            Some(a) => aspect_fact(&p, &ASPECTS[a], lang),
            None => None,
        });
        // The aspect's data silent, a sentence on the other words still answers ("does the stove
        // come with a gas canister?": "…sold separately").
        let fact = fact.or_else(|| hints.and_then(|_| self.sentence_about(&p, &other, None, lang)));
        Some(match fact {
            Some(f) => said(Kind::Product, vec![id], format!("{title} — {f}")),
            None => unknown(vec![id], format!("{title} — {}", doesnt_say(lang))),
        })
    }

    /// A product itself: its title and its description's first two sentences, as the catalog
    /// has them (the card beside them shows its price and link).
    fn describe(&self, id: String, lang: Lang) -> Option<Step> {
        let p = self.shop.catalog.get(&id)?;
        let title = p.title_in(lang.code());
        let first: Vec<&str> = text::sentences(p.description_in(lang.code())).into_iter().take(2).collect();
        Some(if first.is_empty() {
            unknown(vec![id], format!("{title} — {}", doesnt_say(lang)))
        } else {
            said(Kind::Product, vec![id], format!("{title} — {}", first.join(" ")))
        })
    }

    /// The description sentence (shopper's language first, then English) sharing the most
    /// words with the question, if any shares one (and, given an aspect's `hints`, speaks of it).
    fn sentence_about(&self, p: &Product, words: &[String], hints: Option<&[&str]>, lang: Lang) -> Option<String> {
        let mut best: Option<(usize, String)> = None;
        let speaks = |s: &str| {
            let low = format!(" {} ", s.to_lowercase());
            hints.is_none_or(|h| h.iter().any(|h| low.contains(h)))
        };
        for text in [p.description_in(lang.code()), p.description.as_str()] {
            for s in text::sentences(text).into_iter().filter(|s| speaks(s)) {
                let own = lexicon::terms_with_english(s);
                let n = words.iter().filter(|w| own.contains(w)).count();
                if n > 0 && best.as_ref().is_none_or(|b| n > b.0) {
                    best = Some((n, s.to_string()));
                }
            }
        }
        best.map(|b| b.1)
    }

    /// "Which of those can go in the dishwasher?": the first of those shown (or those the
    /// message names) whose data speaks of it.
    fn which(&mut self, message: &str, low: &str, lang: Lang) -> Option<Step> {
        if !any(low, WHICH) {
            return None;
        }
        let aspect = ASPECTS.iter().find(|a| any(low, a.cues) && !a.hints.is_empty())?;
        let named = self.named_among(message, &self.state.last);
        let pool = if named.len() >= 2 { named } else { self.state.last.clone() };
        let pool = if any(low, PAIR) { pool.into_iter().take(2).collect() } else { pool };
        let found = pool
            .iter()
            .filter_map(|id| self.shop.catalog.get(id))
            .find_map(|p| aspect_fact(p, aspect, lang).map(|f| (p, f)));
        Some(match found {
            Some((p, fact)) => said(Kind::Product, vec![p.id.clone()], format!("{} — {fact}", p.title_in(lang.code()))),
            None => unknown(Vec::new(), doesnt_say(lang).to_string()),
        })
    }

    /// "Which one is the lightest / cheapest / has the longest battery life?" among those shown.
    fn superlative(&mut self, low: &str, lang: Lang) -> Option<Step> {
        type Measure = fn(&Product) -> Option<f64>;
        let (measure, highest): (Measure, bool) = if any(low, &["lightest", "leichteste", "leichtesten", "最轻"]) {
            (weight_of, false)
        } else if any(low, &["heaviest", "schwerste", "schwersten", "最重"]) {
            (weight_of, true)
        } else if any(
            low,
            &[
                "longest battery",
                "battery lasts longest",
                "best battery",
                "längste akku",
                "längsten akku",
                "akku am längsten",
                "续航最长",
                "电池最",
            ],
        ) {
            (battery_of, true)
        } else if any(low, &["cheapest", "günstigste", "günstigsten", "billigste", "最便宜"]) {
            (|p: &Product| p.price, false)
        } else if any(low, &["most expensive", "teuerste", "teuersten", "最贵"]) {
            (|p: &Product| p.price, true)
        } else {
            return None;
        };
        let products = self.last_products();
        let measured: Vec<(&Product, f64)> = products.iter().filter_map(|p| measure(p).map(|m| (*p, m))).collect();
        let best = measured.iter().copied().reduce(|a, b| if (b.1 > a.1) == highest && b.1 != a.1 { b } else { a });
        let Some((p, _)) = best else {
            return Some(unknown(Vec::new(), doesnt_say(lang).to_string()));
        };
        let fact = self.sentence_or_attribute(p, low, lang);
        let text = format!("{} — {fact}", p.title_in(lang.code()));
        Some(said(Kind::Product, vec![p.id.clone()], text))
    }

    fn sentence_or_attribute(&self, p: &Product, low: &str, lang: Lang) -> String {
        let aspect = ASPECTS.iter().find(|a| any(low, a.cues) && !a.keys.is_empty());
        let attr = aspect.and_then(|a| aspect_attribute(p, a).map(|v| (a, v)));
        match attr {
            Some((a, v)) => format!("{}: {v}", a.names[lang_index(lang)]),
            None => p.price_label().unwrap_or_default(),
        }
    }

    /// A comparison of the products the message names, or of those last shown (up to three):
    /// price and the attributes at least two of them have, values as the catalog has them.
    fn compare(&mut self, low: &str, lang: Lang) -> Step {
        let last = self.state.last.clone();
        let mut ids: Vec<String> = ORDINALS
            .iter()
            .filter(|(cues, i)| any(low, cues) && *i < last.len())
            .map(|(_, i)| last[*i].clone())
            .collect();
        if ids.len() < 2 {
            ids = self.named_to_compare(low, &last);
        }
        if ids.len() < 2 {
            let n = if any(low, PAIR) { 2 } else { 3 };
            ids = last.iter().take(n).cloned().collect();
        }
        let products: Vec<Product> = ids.iter().filter_map(|id| self.shop.catalog.get(id).cloned()).collect();
        let mut keys: Vec<String> = Vec::new();
        for p in &products {
            for k in p.attributes.keys() {
                let shared = products.iter().filter(|q| q.attributes.contains_key(k)).count() >= 2;
                if shared && !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let price = ASPECTS[PRICE].names[lang_index(lang)].to_string();
        let mut rows = vec![Row { name: price, values: products.iter().map(Product::price_label).collect() }];
        rows.extend(
            keys.iter().map(|k| Row { name: k.clone(), values: products.iter().map(|p| p.attribute(k)).collect() }),
        );
        let differing: Vec<String> = rows
            .iter()
            .filter(|r| r.values.iter().flatten().collect::<std::collections::BTreeSet<_>>().len() > 1)
            .map(|r| {
                let each: Vec<String> = products
                    .iter()
                    .zip(&r.values)
                    .filter_map(|(p, v)| v.as_ref().map(|v| format!("{} {v}", p.title_in(lang.code()))))
                    .collect();
                format!("{}: {}", r.name, each.join(", "))
            })
            .collect();
        let text =
            if differing.is_empty() { same_data(lang).to_string() } else { format!("{}.", differing.join("; ")) };
        let ids = products.iter().map(|p| p.id.clone()).collect();
        Step::Said(Said { kind: Kind::Compare, products: ids, text, rows, chips: Vec::new(), unknown: false })
    }

    /// The products a comparison names. One named alone is compared with the one asked about
    /// ("compare it with the watch with the Milanese strap", "跟 Leather Weave Chair 比一比"),
    /// else with the first shown of its kind ("the big one with the personal one with the
    /// bottles": the other blender, not the blanket shown after them).
    fn named_to_compare(&self, low: &str, last: &[String]) -> Vec<String> {
        let in_list = self.telling_names(low, last).0;
        let mut named = if in_list.len() == 1 && any(low, IT) { in_list } else { self.named_among(low, last) };
        if let [one] = &named[..] {
            let focus = self.state.focus.clone().filter(|f| f != one && last.contains(f));
            let kin = || {
                let cats = self.shop.catalog.get(one).map(|p| p.categories.clone()).unwrap_or_default();
                last.iter()
                    .filter(|id| *id != one)
                    .find(|id| self.shop.catalog.get(id).is_some_and(|p| p.categories.iter().any(|c| cats.contains(c))))
                    .cloned()
            };
            if let Some(other) = focus.or_else(kin) {
                named.push(other);
            }
        }
        // In the list's order, those found further in the catalog after them.
        named.sort_by_key(|id| last.iter().position(|l| l == id).unwrap_or(last.len()));
        named
    }

    /// Chips for a question back: categories and price bands.
    /// The categories are those of the products the message finds, if it finds any ("something
    /// nice for my office": furniture, electronics), else the catalog's largest.
    fn clarify_chips(&self, message: &str, lang: Lang) -> Vec<String> {
        let found = suggest::plan(&self.shop, message, None, &SuggestOptions::default()).candidates;
        let mut chips: Vec<String> = Vec::new();
        for p in found.iter().filter_map(|id| self.shop.catalog.get(id)) {
            if let Some(c) = p.categories.first().filter(|c| !chips.contains(c)) {
                chips.push(c.clone());
            }
        }
        if chips.is_empty() {
            chips = self.shop.catalog.categories();
        }
        chips.truncate(3);
        let mut prices: Vec<f64> = self.shop.catalog.products.iter().filter_map(|p| p.price).collect();
        prices.sort_by(f64::total_cmp);
        if prices.len() >= 4 {
            let band = |q: f64| {
                let v = prices[((prices.len() - 1) as f64 * q) as usize];
                (v / 5.0).ceil() * 5.0
            };
            for v in [band(0.25), band(0.5)] {
                let chip = match lang {
                    Lang::En => format!("under {v:.0}"),
                    Lang::De => format!("unter {v:.0}"),
                    Lang::Zh => format!("{v:.0}以内"),
                };
                if !chips.contains(&chip) {
                    chips.push(chip);
                }
            }
        }
        chips
    }

    /// The words a message is about, beyond referring, asking and refining: stemmed search
    /// terms (with the lexicon's English words for German and Chinese ones).
    fn topic_words(&self, message: &str) -> Vec<String> {
        let mut cleaned = message.to_lowercase();
        // The longest cues first: "先这样" goes whole before "这" of it does.
        let mut cues: Vec<&str> =
            [REFERRING, CHEAPER, PRICIER, LIGHTER, MORE, THANKS, COMPARE, BROAD, DESCRIBE].concat();
        cues.sort_by_key(|c| std::cmp::Reverse(c.chars().count()));
        for cue in cues {
            if cue.chars().any(is_cjk) {
                cleaned = cleaned.replace(cue, " ");
            } else if cue.contains(' ') {
                // A phrase is a cue whole ("too expensive"): its words are not the topic.
                cleaned = format!(" {cleaned} ").replace(&format!(" {cue} "), "  ");
            }
        }
        // The lexicon's Chinese words, longest first, are words of their own: "入耳式" is
        // earbuds, and its bigram "耳式" would name on-ear headphones (贴耳式) as well.
        let mut out: Vec<String> = Vec::new();
        let zh = cleaned.chars().any(is_cjk);
        for w in lexicon::chinese_words().filter(|_| zh) {
            if cleaned.contains(w) {
                cleaned = cleaned.replace(w, " ");
                out.push(w.to_string());
                out.extend(lexicon::translate(w).into_iter().flat_map(terms));
            }
        }
        let words = request_words(&cleaned);
        // The request's words are stems: a cue matches as written or stemmed.
        let skip = |w: &str| {
            [REFERRING, CHEAPER, PRICIER, LIGHTER, MORE, THANKS, COMPARE, BROAD, DESCRIBE]
                .iter()
                .any(|l| l.iter().any(|c| *c == w || (!c.contains(' ') && stem(c) == w)))
        };
        for (w, _) in words.words {
            if skip(&w) || w.chars().all(|c| c.is_ascii_digit()) || super::query::is_colour_word(&w) {
                continue;
            }
            for t in terms(&w) {
                if !skip(&t) {
                    out.push(t);
                }
            }
            for e in lexicon::translate(&w) {
                out.extend(terms(e));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether the message's words are among the current search's (the same subject).
    fn topic_is_current(&self, topic: &[String]) -> bool {
        let Some(request) = &self.state.request else { return false };
        let current = self.topic_words(request);
        topic.iter().any(|w| current.contains(w))
    }

    /// Words that only add to the current search ("for women", "for day hikes"): no
    /// product is found by them alone, or only products already shown.
    fn topic_is_follow_up(&self, topic: &[String]) -> bool {
        let words: String = topic.join(" ");
        let hits = self.shop.index.search(&self.shop.catalog, &words, &Constraints::default(), None, 3);
        hits.iter().all(|h| h.relevance < 0.5 || self.state.last.contains(&self.shop.catalog.products[h.index].id))
    }

    /// Words that find products (by themselves) none of which this session has shown: a new
    /// subject, not a question about what was shown.
    /// Words the products shown have in their own data ("can I get it with 16GB of RAM?" after a
    /// laptop with RAM 8GB or 16GB) do not count: those are asked of them.
    fn topic_is_new(&self, topic: &[String]) -> bool {
        let shown: Vec<String> = self.last_products().iter().flat_map(|p| own_words(p, true)).collect();
        let rest: Vec<&str> = topic.iter().filter(|w| !shown.contains(w)).map(String::as_str).collect();
        if rest.is_empty() {
            return false;
        }
        let hits = self.shop.index.search(&self.shop.catalog, &rest.join(" "), &Constraints::default(), None, 3);
        let good: Vec<&String> =
            hits.iter().filter(|h| h.relevance >= 0.5).map(|h| &self.shop.catalog.products[h.index].id).collect();
        !good.is_empty() && !good.iter().any(|id| self.state.history.contains(id))
    }

    /// Whether the message's words name something in the list shown.
    fn topic_in_list(&self, topic: &[String]) -> bool {
        self.last_products().iter().any(|p| {
            let own = own_words(p, false);
            topic.iter().any(|w| own.contains(w))
        })
    }

    fn last_products(&self) -> Vec<&Product> {
        self.state.last.iter().filter_map(|id| self.shop.catalog.get(id)).collect()
    }
}

/// A reply made here, without a table or chips.
fn said(kind: Kind, products: Vec<String>, text: String) -> Step {
    Step::Said(Said { kind, products, text, rows: Vec::new(), chips: Vec::new(), unknown: false })
}

/// A reply saying the shop's data does not tell (about `products`).
fn unknown(products: Vec<String>, text: String) -> Step {
    Step::Said(Said { kind: Kind::Product, products, text, rows: Vec::new(), chips: Vec::new(), unknown: true })
}

/// The words a shopper may name a product by: its titles, categories and colour.
fn naming(p: &Product) -> Vec<String> {
    let mut own: Vec<String> = terms(&p.title);
    own.extend(p.categories.iter().flat_map(|c| terms(c)));
    for key in ["color", "colour", "colors"] {
        own.extend(p.attribute(key).map(|c| terms(&c)).unwrap_or_default());
    }
    for l in p.i18n.values() {
        own.extend(l.title.as_deref().map(terms).unwrap_or_default());
    }
    own
}

/// A product's words (with the lexicon's English for German and Chinese ones): title,
/// categories, description in every language, and with `attributes` their names and values.
fn own_words(p: &Product, attributes: bool) -> Vec<String> {
    let mut own = lexicon::terms_with_english(&format!("{} {} {}", p.title, p.categories.join(" "), p.description));
    for l in p.i18n.values() {
        own.extend(l.title.as_deref().map(lexicon::terms_with_english).unwrap_or_default());
        own.extend(l.description.as_deref().map(lexicon::terms_with_english).unwrap_or_default());
    }
    if attributes {
        for (k, v) in &p.attributes {
            own.extend(lexicon::terms_with_english(&format!("{k} {}", v.as_text())));
        }
    }
    own
}

/// Whether `word` is one of a product's naming words (`own`), or one letter from one of five
/// letters or more: German and English share many such words ("Vanille" and vanilla,
/// "Kamera" and camera) that no lexicon lists.
fn names_by(own: &[String], word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    own.iter().any(|o| {
        o == word
            || (w.len() >= 5 && !w.iter().any(|c| is_cjk(*c)) && lexicon::one_edit(&w, &o.chars().collect::<Vec<_>>()))
    })
}

/// What the product's data says about `aspect`: its attribute, else the first description
/// sentence (the shopper's language first, then English) that speaks of it.
fn aspect_fact(p: &Product, aspect: &Aspect, lang: Lang) -> Option<String> {
    if let Some(v) = aspect_attribute(p, aspect) {
        return Some(format!("{}: {v}", aspect.names[lang_index(lang)]));
    }
    // The sentence that speaks of it most ("washed by hand or in a gentle cycle with mild
    // detergent" over "require some special care … harsh detergents").
    let speaks = |s: &str| {
        let low = format!(" {} ", s.to_lowercase());
        aspect.hints.iter().map(|h| low.matches(h).count()).sum::<usize>()
    };
    [p.description_in(lang.code()), p.description.as_str()].into_iter().find_map(|text| {
        let mut best: Option<(usize, &str)> = None;
        for s in text::sentences(text) {
            let n = speaks(s);
            if n > 0 && best.is_none_or(|b| n > b.0) {
                best = Some((n, s));
            }
        }
        best.map(|b| b.1.to_string())
    })
}

/// The product's attribute for `aspect`: one of its keys, else an attribute whose name ends
/// in one ("monitor size", "frame weight").
fn aspect_attribute(p: &Product, aspect: &Aspect) -> Option<String> {
    aspect.keys.iter().find_map(|k| p.attribute(k)).or_else(|| {
        p.attributes.iter().find_map(|(name, v)| {
            let last = name.to_lowercase().rsplit([' ', '_', '-']).next().unwrap_or_default().to_string();
            aspect.keys.contains(&last.as_str()).then(|| v.as_text())
        })
    })
}

fn weight_of(p: &Product) -> Option<f64> {
    p.attribute("weight").as_deref().and_then(grams).or_else(|| grams(&p.description))
}

fn battery_of(p: &Product) -> Option<f64> {
    let attr = p.attributes.iter().find(|(k, _)| k.contains("battery")).map(|(_, v)| v.as_text());
    attr.as_deref().and_then(hours).or_else(|| {
        text::sentences(&p.description).into_iter().filter(|s| s.to_lowercase().contains("batter")).find_map(hours)
    })
}

fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::De => 1,
        Lang::Zh => 2,
    }
}

fn courtesy(lang: Lang) -> String {
    match lang {
        Lang::En => "You're welcome. Is there anything else I can help you find?",
        Lang::De => "Gern geschehen. Kann ich Ihnen noch bei etwas anderem helfen?",
        Lang::Zh => "不客气。还有什么可以帮您找的吗？",
    }
    .into()
}

fn clarify_question(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Happy to help. Who is it for, and do you have a budget in mind?",
        Lang::De => "Gern. Für wen ist es, und haben Sie ein Budget?",
        Lang::Zh => "乐意帮忙。是送给谁的？预算大概多少？",
    }
}

fn thats_all(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "That's all we have that fits: nothing else in our catalog matches.",
        Lang::De => "Mehr haben wir dazu leider nicht: nichts anderes in unserem Sortiment passt.",
        Lang::Zh => "符合条件的就这些了：我们的商品中没有其他合适的。",
    }
}

fn to_cart_text(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "To your cart:",
        Lang::De => "In den Warenkorb:",
        Lang::Zh => "加入购物车：",
    }
}

fn which_for_cart(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Which product shall I add? Tell me its name, or use “Add to cart” on its card.",
        Lang::De => {
            "Welches Produkt soll ich hinzufügen? Nennen Sie es, oder nutzen Sie „In den Warenkorb“ auf seiner Karte."
        }
        Lang::Zh => "要加入哪件商品？请告诉我名称，或点击商品卡片上的“加入购物车”。",
    }
}

/// The answer when a product's data does not tell.
pub fn doesnt_say(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "the shop's description doesn't say.",
        Lang::De => "dazu sagt die Beschreibung des Shops nichts.",
        Lang::Zh => "商店的描述中没有提到这一点。",
    }
}

fn same_data(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "The catalog lists the same values for these products.",
        Lang::De => "Der Katalog nennt für diese Produkte dieselben Werte.",
        Lang::Zh => "目录中这些商品的参数相同。",
    }
}

fn in_stock_text(in_stock: bool, lang: Lang) -> &'static str {
    match (in_stock, lang) {
        (true, Lang::En) => "in stock.",
        (false, Lang::En) => "out of stock at the moment.",
        (true, Lang::De) => "auf Lager.",
        (false, Lang::De) => "derzeit nicht auf Lager.",
        (true, Lang::Zh) => "有货。",
        (false, Lang::Zh) => "目前缺货。",
    }
}
