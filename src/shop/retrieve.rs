//! Ranking catalog products (and policy passages) for a request: BM25 over language-aware
//! terms, with the request's constraints applied as filters and the shopper's profile as a
//! gentle boost.
//!
//! Terms: Latin-script words are lower-cased and lightly stemmed (English and German suffixes);
//! Chinese (and other CJK) text becomes overlapping character bigrams, plus single characters
//! for one-character words. A product is indexed with its title (weighted), categories,
//! attributes, description and every translation, so a German or Chinese request finds it
//! through the catalog's own `i18n` text.

use std::collections::HashMap;

use super::catalog::{Catalog, Product};
use super::profile::Profile;
use super::query::{Constraints, is_cjk};

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Words too common to carry meaning in a shopping request or a service question (en, de).
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "for",
    "to",
    "of",
    "in",
    "on",
    "at",
    "by",
    "with",
    "from",
    "is",
    "are",
    "was",
    "be",
    "i",
    "im",
    "me",
    "my",
    "we",
    "our",
    "you",
    "your",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "what",
    "which",
    "who",
    "how",
    "when",
    "where",
    "why",
    "can",
    "could",
    "would",
    "should",
    "will",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "get",
    "got",
    "buy",
    "find",
    "show",
    "tell",
    "give",
    "some",
    "any",
    "many",
    "much",
    "good",
    "best",
    "great",
    "nice",
    "new",
    "recommend",
    "recommendation",
    "looking",
    "look",
    "need",
    "want",
    "like",
    "likes",
    "love",
    "loves",
    "please",
    "suggest",
    "something",
    "anything",
    "thing",
    "under",
    "below",
    "over",
    "about",
    "around",
    "than",
    "less",
    "more",
    "cheap",
    "cheaper",
    "budget",
    "price",
    "dollars",
    "dollar",
    "usd",
    "eur",
    "euro",
    "euros",
    "year",
    "years",
    "old",
    "there",
    "here",
    "if",
    "so",
    "very",
    "really",
    "just",
    "also",
    "not",
    "no",
    "yes",
    "s",
    "t",
    "m",
    "ich",
    "und",
    "oder",
    "für",
    "fuer",
    "ein",
    "eine",
    "einen",
    "einem",
    "einer",
    "der",
    "die",
    "das",
    "den",
    "dem",
    "des",
    "mit",
    "von",
    "zu",
    "zum",
    "zur",
    "auf",
    "aus",
    "im",
    "in",
    "am",
    "an",
    "suche",
    "brauche",
    "möchte",
    "hätte",
    "gern",
    "gerne",
    "bitte",
    "unter",
    "bis",
    "über",
    "ist",
    "sind",
    "mein",
    "meine",
    "meinen",
    "gibt",
    "es",
    "wie",
    "was",
    "wann",
    "wo",
    "warum",
    "kann",
    "können",
    "viel",
    "viele",
    "habe",
    "haben",
    "zeit",
    "liebt",
    "lieben",
    "mag",
    "jahre",
    "jährig",
    "jährigen",
    "alt",
    "neu",
    "kaufen",
    "etwas",
    "welche",
    "welcher",
    "welches",
    "ihr",
    "ihre",
];

/// Chinese characters that carry no content in a request ("I want to buy one ...", "is there",
/// "recommend", budget words): they split a run before bigrams are taken.
const CJK_STOP: &str = "我你他她它们的了吗呢吧啊想要给买一个些这那有没什么怎样请帮找在和是能可以推荐预算元块内以下左右多少哪款种个台辆件双把对";

/// Strips common English and German inflections so that "shoes"/"shoe", "running"/"run",
/// "Kopfhörer"-like pairs meet.
pub fn stem(word: &str) -> String {
    let w = word;
    if w.chars().count() <= 3 {
        return w.to_string();
    }
    for suffix in ["ing", "ers", "ern", "ies", "es", "en", "er", "ed", "ly", "e", "s", "n"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return if suffix == "ies" { format!("{base}y") } else { base.to_string() };
        }
    }
    w.to_string()
}

/// Search terms of `text`: stemmed words (stop words and bare numbers dropped; budgets are
/// constraints, not words) and CJK character bigrams.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = text.to_lowercase();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        let keep = !word.is_empty() && !STOP.contains(&word.as_str()) && !word.chars().all(|c| c.is_ascii_digit());
        if keep {
            out.push(stem(word));
        }
        word.clear();
    };
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        match cjk.len() {
            0 => {}
            1 => out.push(cjk[0].to_string()),
            _ => out.extend(cjk.windows(2).map(|w| w.iter().collect::<String>())),
        }
        cjk.clear();
    };
    for c in lower.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            if CJK_STOP.contains(c) {
                flush_cjk(&mut cjk, &mut out);
            } else {
                cjk.push(c);
            }
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

/// Heads of compound words. German writes "Trekkingzelt", "Handyhülle", "Duftkerze" where a
/// request says "Zelt", "Hülle", "Kerze": a long word is also indexed by its last four letters
/// (`~zelt`), and a request's word looks up that key too. Short words get no such key in
/// documents, so "mower" (`~ower`) does not meet "power".
fn head_key(term: &str) -> Option<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 4 || chars.iter().any(|c| is_cjk(*c) || c.is_ascii_digit()) {
        return None;
    }
    Some(format!("~{}", chars[chars.len() - 4..].iter().collect::<String>()))
}

const COMPOUND_MIN: usize = 7;

/// One word of a request and the index keys that count as finding it.
struct QueryWord {
    keys: Vec<String>,
    cjk: bool,
}

/// A BM25 index over documents given as weighted text fields, with a second measure,
/// *coverage*: the idf-weighted share of the request's words a document contains, which says
/// whether a document is about the request at all (BM25 only orders).
pub struct Bm25 {
    /// term -> (document, weighted term frequency, found in a primary field)
    postings: HashMap<String, Vec<(u32, f32, bool)>>,
    doc_len: Vec<f32>,
    avg_len: f64,
    /// How much a request word that no document contains counts against coverage, relative to
    /// the rarest possible word: high for products ("an electric guitar" must not find a
    /// kettle), low for policies (a question names products the policies never mention).
    unknown_weight: f64,
}

impl Bm25 {
    /// `docs[i]` is a list of (text, weight): a weight of 3 counts the field's terms 3 times.
    /// Fields of weight 2 or more (titles, categories) are *primary*: a request word found only
    /// in other fields (descriptions) counts half towards coverage, so "car" in "good for car
    /// camping" does not make a tent an answer to "a used car".
    pub fn new(docs: &[Vec<(String, f32)>], unknown_weight: f64) -> Self {
        let mut postings: HashMap<String, Vec<(u32, f32, bool)>> = HashMap::new();
        let mut doc_len = Vec::with_capacity(docs.len());
        for (i, fields) in docs.iter().enumerate() {
            let mut tf: HashMap<String, (f32, bool)> = HashMap::new();
            let mut len = 0.0;
            for (text, weight) in fields {
                let primary = *weight >= 2.0;
                for t in terms(text) {
                    if t.chars().count() >= COMPOUND_MIN
                        && let Some(h) = head_key(&t)
                    {
                        let e = tf.entry(h).or_default();
                        e.0 += weight * 0.5;
                        e.1 |= primary;
                    }
                    let e = tf.entry(t).or_default();
                    e.0 += weight;
                    e.1 |= primary;
                    len += weight;
                }
            }
            for (t, (f, primary)) in tf {
                postings.entry(t).or_default().push((i as u32, f, primary));
            }
            doc_len.push(len);
        }
        let avg_len = doc_len.iter().map(|&l| l as f64).sum::<f64>() / doc_len.len().max(1) as f64;
        Bm25 { postings, doc_len, avg_len: avg_len.max(1.0), unknown_weight }
    }

    fn idf(&self, df: usize) -> f64 {
        let n = self.doc_len.len() as f64;
        ((n - df as f64 + 0.5) / (df as f64 + 0.5) + 1.0).ln()
    }

    /// The request's words with their keys: the word, its compound head key, for a long word
    /// the longest ending that is itself indexed ("Handyhülle" -> "hülle"), and English words
    /// for German or Chinese ones (the lexicon).
    fn query_words(&self, query: &str) -> Vec<QueryWord> {
        let mut words: Vec<QueryWord> = Vec::new();
        let zh_words: Vec<&str> = super::lexicon::chinese_words().filter(|w| query.contains(w)).collect();
        for t in terms(query) {
            if words.iter().any(|w| w.keys[0] == t) {
                continue;
            }
            let chars: Vec<char> = t.chars().collect();
            let cjk = chars.iter().any(|c| is_cjk(*c));
            let mut keys = vec![t.clone()];
            keys.extend(head_key(&t));
            if chars.len() >= COMPOUND_MIN {
                keys.extend(
                    (1..=chars.len() - 4)
                        .map(|i| chars[i..].iter().collect::<String>())
                        .find(|e| self.postings.contains_key(e)),
                );
            }
            let mut english: Vec<&str> = super::lexicon::english_for(&t);
            if cjk {
                english.extend(
                    zh_words.iter().filter(|w| w.contains(t.as_str())).flat_map(|w| super::lexicon::english_for(w)),
                );
            }
            for en in english {
                keys.extend(terms(en));
            }
            words.push(QueryWord { keys, cjk });
        }
        words
    }

    /// For each word: its coverage weight (idf; low for an unknown CJK bigram, which is
    /// usually a pair straddling two words), and per document its best BM25 contribution and
    /// whether it was found in a primary field.
    fn word_scores(&self, word: &QueryWord) -> (f64, HashMap<u32, (f64, bool)>) {
        let mut best: HashMap<u32, (f64, bool)> = HashMap::new();
        // The word's own idf when it is indexed, else that of its rarest indexed key.
        let mut known_idf: Option<f64> = self.postings.get(&word.keys[0]).map(|l| self.idf(l.len()));
        let own = known_idf.is_some();
        for key in &word.keys {
            let Some(list) = self.postings.get(key) else { continue };
            let idf = self.idf(list.len());
            if !own {
                known_idf = Some(known_idf.map_or(idf, |k: f64| k.max(idf)));
            }
            for &(doc, tf, primary) in list {
                let tf = tf as f64;
                let norm = K1 * (1.0 - B + B * self.doc_len[doc as usize] as f64 / self.avg_len);
                let s = idf * tf * (K1 + 1.0) / (tf + norm);
                let e = best.entry(doc).or_default();
                *e = (e.0.max(s), e.1 || primary);
            }
        }
        // A word nothing in the index contains still counts (it is how "an electric guitar"
        // is told from an electric kettle), a little less than a rare known word.
        let weight = match known_idf {
            Some(idf) => idf,
            None if word.cjk => 1.0,
            None => self.unknown_weight * self.idf(0),
        };
        (weight, best)
    }

    /// (BM25 score, coverage) of every document for `query`.
    pub fn scores(&self, query: &str) -> Vec<(f64, f64)> {
        let mut out = vec![(0.0, 0.0); self.doc_len.len()];
        let mut total = 0.0;
        for word in self.query_words(query) {
            let (weight, best) = self.word_scores(&word);
            total += weight;
            for (doc, (s, primary)) in best {
                out[doc as usize].0 += s;
                out[doc as usize].1 += if primary { weight } else { weight * 0.5 };
            }
        }
        if total > 0.0 {
            out.iter_mut().for_each(|o| o.1 /= total);
        }
        out
    }
}

/// The text a product is found by, weighted by field.
fn product_fields(p: &Product) -> Vec<(String, f32)> {
    let mut f = vec![(p.title.clone(), 3.0), (p.categories.join(" "), 2.0), (p.description.clone(), 1.0)];
    for (k, v) in &p.attributes {
        f.push((format!("{k} {}", v.as_text()), 1.0));
    }
    for l in p.i18n.values() {
        if let Some(t) = &l.title {
            f.push((t.clone(), 3.0));
        }
        if let Some(d) = &l.description {
            f.push((d.clone(), 1.0));
        }
    }
    f
}

/// A product that fits a request, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub index: usize,
    pub score: f64,
    /// Coverage: the idf-weighted share of the request's words this product contains (0..1),
    /// comparable across requests; the gate for "does anything fit".
    pub relevance: f64,
}

/// The catalog's search index.
pub struct ProductIndex {
    bm25: Bm25,
}

impl ProductIndex {
    pub fn new(catalog: &Catalog) -> Self {
        let docs: Vec<Vec<(String, f32)>> = catalog.products.iter().map(product_fields).collect();
        ProductIndex { bm25: Bm25::new(&docs, 0.8) }
    }

    /// Products matching `request`, best first, that satisfy `constraints` (and are in stock).
    /// The profile adds a small boost for categories the shopper has shown interest in; it
    /// never lets an unrelated product in (a product must match the request's words).
    pub fn search(
        &self,
        catalog: &Catalog,
        request: &str,
        c: &Constraints,
        profile: Option<&Profile>,
        k: usize,
    ) -> Vec<Candidate> {
        let scores = self.bm25.scores(request);
        let mut out: Vec<Candidate> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 > 0.0)
            .filter(|(i, _)| satisfies(&catalog.products[*i], c))
            .map(|(index, &(s, coverage))| {
                let boost = profile.map_or(1.0, |pr| 1.0 + 0.15 * pr.affinity(&catalog.products[index]));
                Candidate { index, score: s * coverage * boost, relevance: coverage }
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        out.truncate(k);
        out
    }

    /// Best matches ignoring constraints and stock (to name the closest categories when
    /// nothing fits).
    pub fn nearest(&self, request: &str, k: usize) -> Vec<usize> {
        let scores = self.bm25.scores(request);
        let mut idx: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].0 > 0.0).collect();
        idx.sort_by(|&a, &b| scores[b].0.total_cmp(&scores[a].0));
        idx.truncate(k);
        idx
    }
}

/// Whether `p` meets the request's constraints: in stock, within budget, in a requested colour,
/// available in the requested size (products without sizes are size-independent).
pub fn satisfies(p: &Product, c: &Constraints) -> bool {
    if !p.in_stock {
        return false;
    }
    if let Some(max) = c.max_price
        && p.price.is_none_or(|price| price > max)
    {
        return false;
    }
    if let Some(min) = c.min_price
        && p.price.is_none_or(|price| price < min)
    {
        return false;
    }
    if !c.colors.is_empty() {
        let text = format!(
            "{} {} {}",
            p.attribute("color").unwrap_or_default(),
            p.attribute("colors").unwrap_or_default(),
            p.title
        )
        .to_lowercase();
        if !c.colors.iter().any(|col| text.contains(col.as_str()) || (col == "grey" && text.contains("gray"))) {
            return false;
        }
    }
    if let Some(size) = &c.size {
        let sizes = p.attribute("sizes").or_else(|| p.attribute("size"));
        if let Some(sizes) = sizes
            && !sizes.split([',', ' ', '/']).any(|s| s.trim().eq_ignore_ascii_case(size))
        {
            return false;
        }
    }
    true
}
