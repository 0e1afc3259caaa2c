//! Ranking catalog products (and policy passages) for a request: BM25 over language-aware
//! terms, with the request's constraints applied as filters and the shopper's profile as a
//! gentle boost.
//!
//! Terms: Latin-script words are lower-cased and lightly stemmed (English and German suffixes);
//! Chinese (and other CJK) text becomes overlapping character bigrams, plus single characters
//! for one-character words. A product is indexed with its title (weighted), categories,
//! attributes, description and every translation, so a German or Chinese request finds it
//! through the catalog's own `i18n` text.

use std::borrow::Cow;
use std::collections::HashMap;

use super::catalog::{Catalog, Product};
use super::profile::Profile;
use super::query::{Constraints, Lang, RequestWords, Role, detect_lang, request_words, request_words_named};
use super::text::{Piece, is_cjk, pieces, stem, terms, word_term};

const K1: f64 = 1.2;
const B: f64 = 0.75;

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

/// The key of a CJK character inside a document's bigram (`~申`). Stop characters cut Chinese
/// runs ("请" in "请问" and in "申请"), so a request can hold a lone character ("申") where a
/// document holds it in a bigram ("何申"): the lone character looks up this key too.
fn char_key(c: char) -> String {
    format!("~{c}")
}

/// One word of a request, its role, and the index keys that count as finding it.
struct QueryWord {
    keys: Vec<String>,
    cjk: bool,
    role: Role,
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
    /// How much a request word found only in secondary fields (descriptions) counts towards
    /// coverage, against 1 in a primary field.
    secondary_share: f64,
    /// Whether a request word also finds compounds it ends ("phones" in "headphones") in every
    /// language, or only in German requests. Products: German only ("stand" must not find a
    /// nightstand, "curtains" a word ending in "tain"); policies: every language (a question
    /// about "headphones" finds the electronics warranty through its compound head).
    compounds_everywhere: bool,
}

impl Bm25 {
    /// `docs[i]` is a list of (text, weight): a weight of 3 counts the field's terms 3 times.
    /// Fields of weight 2 or more (titles, categories) are *primary*: a request word found only
    /// in other fields (descriptions) counts `secondary_share` towards coverage, so "car" in
    /// "good for car camping" does not make a tent an answer to "a used car".
    pub fn new<S: AsRef<str>>(
        docs: &[Vec<(S, f32)>],
        unknown_weight: f64,
        secondary_share: f64,
        compounds_everywhere: bool,
    ) -> Self {
        let mut dict = Dictionary::default();
        let mut doc_len = Vec::with_capacity(docs.len());
        for (i, fields) in docs.iter().enumerate() {
            let doc = i as u32;
            let mut len = 0.0;
            for (text, weight) in fields {
                let primary = *weight >= 2.0;
                pieces(text.as_ref(), |piece| {
                    if let Piece::Cjk(t) = &piece {
                        for k in dict.char_ids(t).into_iter().flatten() {
                            dict.count(k, doc, weight * 0.5, primary);
                        }
                    }
                    let (term, head) = dict.ids(piece);
                    if let Some(h) = head {
                        dict.count(h, doc, weight * 0.5, primary);
                    }
                    if let Some(t) = term {
                        dict.count(t, doc, *weight, primary);
                        len += weight;
                    }
                });
            }
            dict.end_document(doc);
            doc_len.push(len);
        }
        let avg_len = doc_len.iter().map(|&l| l as f64).sum::<f64>() / doc_len.len().max(1) as f64;
        Bm25 {
            postings: dict.postings(),
            doc_len,
            avg_len: avg_len.max(1.0),
            unknown_weight,
            secondary_share,
            compounds_everywhere,
        }
    }

    fn idf(&self, df: usize) -> f64 {
        let n = self.doc_len.len() as f64;
        ((n - df as f64 + 0.5) / (df as f64 + 0.5) + 1.0).ln()
    }

    /// The request's words with their keys: the word; English words for a German or Chinese
    /// one and English synonyms (the lexicon); a German compound as two words, its head and
    /// its modifier ("Weingläser": glass, wine), and for German requests the compound-head key
    /// and the longest indexed ending ("Handyhülle" -> "hülle"); and for a word the index lacks
    /// the indexed word one typo away ("skatebaord" -> "skateboard"). `text` is the request
    /// as written (the lexicon's Chinese words are found in it whole).
    fn query_words(&self, text: &str, request: &[(String, Role)]) -> Vec<QueryWord> {
        let mut words: Vec<QueryWord> = Vec::new();
        let zh_words: Vec<&str> = super::lexicon::chinese_words().filter(|w| text.contains(w)).collect();
        let german = self.compounds_everywhere || detect_lang(text) == Lang::De;
        let mut demoted: Vec<usize> = Vec::new();
        for (t, role) in request {
            if words.iter().any(|w| &w.keys[0] == t) {
                continue;
            }
            let chars: Vec<char> = t.chars().collect();
            let cjk = chars.iter().any(|c| is_cjk(*c));
            // A bigram across two of the lexicon's words ("步鞋" of "跑步|鞋") is no word.
            let junction = cjk
                && chars.len() == 2
                && !self.postings.contains_key(t)
                && !zh_words.iter().any(|w| w.contains(t.as_str()))
                && chars.iter().all(|c| zh_words.iter().any(|w| w.contains(*c)));
            if junction {
                continue;
            }
            let mut keys = vec![t.clone()];
            let mut role = *role;
            if cjk && chars.len() == 1 {
                keys.push(char_key(chars[0]));
                // Found only inside documents' bigrams, it helps a match but makes none alone,
                // unless the request has no other core word.
                if role == Role::Core && !self.postings.contains_key(t) {
                    role = Role::Context;
                    demoted.push(words.len());
                }
            }
            if german {
                keys.extend(head_key(t));
                if chars.len() >= COMPOUND_MIN {
                    keys.extend(
                        (1..=chars.len() - 4)
                            .map(|i| chars[i..].iter().collect::<String>())
                            .find(|e| self.postings.contains_key(e)),
                    );
                }
            }
            let mut english: Vec<&str> = super::lexicon::english_for(t);
            if cjk {
                english.extend(
                    zh_words.iter().filter(|w| w.contains(t.as_str())).flat_map(|w| super::lexicon::english_for(w)),
                );
            }
            if english.is_empty()
                && !cjk
                && let Some(parts) = super::lexicon::compound(t)
            {
                english = parts.head;
                let mut keys: Vec<String> = parts.modifier.iter().flat_map(|m| terms(m)).collect();
                if keys.is_empty() {
                    // A beginning the lexicon lacks counts when the catalog has the word itself.
                    keys.extend(terms(&parts.modifier_word).into_iter().filter(|k| self.postings.contains_key(k)));
                }
                if !keys.is_empty() {
                    words.push(QueryWord { keys, cjk, role: Role::Context });
                }
            }
            for en in english {
                keys.extend(terms(en));
            }
            // Only the thing asked for is read as a typo: a context word the shop lacks is
            // usually a word of its own ("a wedding toast" is no coaster).
            if keys.len() == 1 && !cjk && role == Role::Core && !self.postings.contains_key(t) {
                keys.extend(self.one_typo_away(t));
                if keys.len() == 1 {
                    // A misspelt German word the lexicon knows ("Schlafsak"), in English.
                    keys.extend(super::lexicon::english_for_typo(t).into_iter().flat_map(terms));
                }
            }
            words.push(QueryWord { keys, cjk, role });
        }
        if !words.iter().any(|w| w.role == Role::Core) {
            demoted.into_iter().for_each(|i| words[i].role = Role::Core);
        }
        words
    }

    /// Whether `term` of `text` is in a product's title or categories, as it is or by one of
    /// the keys a request word is searched with (its English words, a compound's head, the
    /// word one typo away).
    pub fn names(&self, text: &str, term: &str) -> bool {
        let word = self.query_words(text, &[(term.to_string(), Role::Core)]);
        let primary = |k: &String| self.postings.get(k).is_some_and(|l| l.iter().any(|p| p.2));
        word.iter().any(|w| w.keys.iter().any(primary))
    }

    /// An indexed term one edit from `word` (a letter dropped, added, changed, or two
    /// neighbours swapped; the variant stemmed again: "grinedr" -> "grinder" -> "grind"), for
    /// words of five letters or more; the most frequent one when several are.
    fn one_typo_away(&self, word: &str) -> Option<String> {
        let w: Vec<char> = word.chars().collect();
        if w.len() < 5 {
            return None;
        }
        const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzäöüß";
        let mut variants: Vec<Vec<char>> = Vec::new();
        for i in 0..=w.len() {
            if i < w.len() {
                variants.push([&w[..i], &w[i + 1..]].concat());
            }
            if i + 1 < w.len() {
                let mut v = w.clone();
                v.swap(i, i + 1);
                variants.push(v);
            }
            for c in LETTERS.chars() {
                variants.push([&w[..i], &[c], &w[i..]].concat());
                if i < w.len() && w[i] != c {
                    variants.push([&w[..i], &[c], &w[i + 1..]].concat());
                }
            }
        }
        variants
            .into_iter()
            .map(|v| stem(&v.into_iter().collect::<String>()))
            .filter_map(|v| self.postings.get(&v).map(|list| (list.len(), v)))
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, v)| v)
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
        // A core word nothing in the index contains still counts (it is how "an electric
        // guitar" is told from an electric kettle), a little less than a rare known word.
        let weight = match (known_idf, word.role) {
            (Some(idf), _) => idf,
            (None, Role::Core) if word.cjk => 1.0,
            (None, Role::Core) => self.unknown_weight * self.idf(0),
            (None, _) => 0.0,
        };
        (weight, best)
    }

    /// (BM25 score, coverage) of every document for `query`, every word of it a core word.
    pub fn scores(&self, query: &str) -> Vec<(f64, f64)> {
        let words: Vec<(String, Role)> = terms(query).into_iter().map(|t| (t, Role::Core)).collect();
        self.score_words(query, &words, false)
    }

    /// (BM25 score, coverage) of every document for a request read into `words`.
    ///
    /// Coverage is over the core words; a context word a document has adds a quarter of its
    /// weight (never past 1). The last core word is the head of the phrase ("desk *chair*"):
    /// it ranks half again as much as the others.
    pub fn scores_of(&self, text: &str, words: &[(String, Role)]) -> Vec<(f64, f64)> {
        self.score_words(text, words, true)
    }

    /// Scores with or without the phrase head's extra weight (a question is no noun phrase).
    fn score_words(&self, text: &str, words: &[(String, Role)], phrase: bool) -> Vec<(f64, f64)> {
        let mut out = vec![(0.0, 0.0); self.doc_len.len()];
        let query = self.query_words(text, words);
        let head = query.iter().rposition(|w| w.role == Role::Core).filter(|_| phrase);
        let mut total = 0.0;
        for (i, word) in query.iter().enumerate() {
            let (weight, best) = self.word_scores(word);
            let rank = match word.role {
                Role::Core if Some(i) == head => 1.5,
                Role::Core => 1.0,
                _ => 0.5,
            };
            // The head weighs half again in coverage too ("a desk chair" is a chair), and so
            // does a core word no document has ("a dining table" is not a bedside table).
            let unknown_core = phrase && word.role == Role::Core && best.is_empty();
            let weight = if rank > 1.0 || unknown_core { 1.5 * weight } else { weight };
            if word.role == Role::Core {
                total += weight;
            }
            for (doc, (s, primary)) in best {
                let share = if primary { 1.0 } else { self.secondary_share };
                let o = &mut out[doc as usize];
                o.0 += rank * s;
                o.1 += match word.role {
                    Role::Core => weight * share,
                    Role::Context => 0.25 * weight * share,
                    Role::Soft => 0.0,
                };
            }
        }
        for o in out.iter_mut() {
            o.1 = if total > 0.0 { (o.1 / total).min(1.0) } else { 0.0 };
        }
        out
    }
}

/// What [`Bm25::new`] builds the postings with. Terms get ids as first seen; each distinct word
/// is stemmed and looked up once (a catalog of 100,000 products meets most words thousands of
/// times), and a document's term frequencies are a short list found through `slot`, so indexing
/// costs about one hash lookup per word and no allocation per word.
#[derive(Default)]
struct Dictionary {
    /// term -> id
    terms: HashMap<String, usize>,
    /// word as written (lower-cased) -> its place in `words`
    seen: HashMap<String, usize>,
    /// (term id, compound-head key id) of each word seen
    words: Vec<(Option<usize>, Option<usize>)>,
    /// per term id: (document, weighted frequency, found in a primary field)
    lists: Vec<Vec<(u32, f32, bool)>>,
    /// per term id: the last document that had it, and its place in `doc`
    slot: Vec<(u32, usize)>,
    /// the current document's (term id, frequency, primary)
    doc: Vec<(usize, f32, bool)>,
    /// CJK character -> the id of its [`char_key`]
    chars: HashMap<char, usize>,
}

impl Dictionary {
    fn id(&mut self, term: String) -> usize {
        let next = self.lists.len();
        let id = *self.terms.entry(term).or_insert(next);
        if id == next {
            self.lists.push(Vec::new());
            self.slot.push((u32::MAX, 0));
        }
        id
    }

    /// The ids of a CJK bigram's [`char_key`]s (none for a lone character, itself a term),
    /// each built once per catalog.
    fn char_ids(&mut self, piece: &str) -> Option<[usize; 2]> {
        let mut cs = piece.chars();
        let (Some(a), Some(b), None) = (cs.next(), cs.next(), cs.next()) else { return None };
        Some([a, b].map(|c| match self.chars.get(&c) {
            Some(&id) => id,
            None => {
                let id = self.id(char_key(c));
                self.chars.insert(c, id);
                id
            }
        }))
    }

    /// The ids of a piece's term and of its compound-head key (words of 7 letters or more).
    fn ids(&mut self, piece: Piece<'_>) -> (Option<usize>, Option<usize>) {
        let word = match piece {
            Piece::Cjk(t) => return (Some(self.id(t)), None),
            Piece::Word(w) => w,
        };
        if let Some(&i) = self.seen.get(word) {
            return self.words[i];
        }
        let ids = match word_term(word) {
            None => (None, None),
            Some(t) => {
                let head = (t.chars().count() >= COMPOUND_MIN).then(|| head_key(&t)).flatten().map(|h| self.id(h));
                (Some(self.id(t)), head)
            }
        };
        self.seen.insert(word.to_string(), self.words.len());
        self.words.push(ids);
        ids
    }

    fn count(&mut self, id: usize, doc: u32, weight: f32, primary: bool) {
        if self.slot[id].0 != doc {
            self.slot[id] = (doc, self.doc.len());
            self.doc.push((id, 0.0, false));
        }
        let e = &mut self.doc[self.slot[id].1];
        e.1 += weight;
        e.2 |= primary;
    }

    fn end_document(&mut self, doc: u32) {
        for (id, f, primary) in self.doc.drain(..) {
            self.lists[id].push((doc, f, primary));
        }
    }

    fn postings(mut self) -> HashMap<String, Vec<(u32, f32, bool)>> {
        self.terms.into_iter().map(|(term, id)| (term, std::mem::take(&mut self.lists[id]))).collect()
    }
}

/// The text a product is found by, weighted by field (text the product holds is borrowed).
fn product_fields(p: &Product) -> Vec<(Cow<'_, str>, f32)> {
    let mut f: Vec<(Cow<'_, str>, f32)> = vec![
        (p.title.as_str().into(), 3.0),
        (p.categories.join(" ").into(), 2.0),
        (p.description.as_str().into(), 1.0),
    ];
    for (k, v) in &p.attributes {
        f.push((format!("{k} {}", v.as_text()).into(), 1.0));
    }
    for l in p.i18n.values() {
        if let Some(t) = &l.title {
            f.push((t.as_str().into(), 3.0));
        }
        if let Some(d) = &l.description {
            f.push((d.as_str().into(), 1.0));
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
        let docs: Vec<Vec<(Cow<'_, str>, f32)>> = catalog.products.iter().map(product_fields).collect();
        // A word found only in a description counts 0.4: alone it does not reach the gate of
        // 0.5 ("a lamp" is not answered with a cushion whose description mentions one).
        ProductIndex { bm25: Bm25::new(&docs, 0.8, 0.4, false) }
    }

    /// Products matching `request`, best first, that satisfy `constraints` (and are in stock).
    /// The profile adds a small boost for categories the shopper has shown interest in; it
    /// never lets an unrelated product in (a product must match the request's words).
    ///
    /// A request that names no product, only a gift, a budget, a colour or a size ("gift ideas
    /// under 30 dollars"), is answered by *browsing*: the products that meet its constraints,
    /// those its soft words find first ("gift" finds a gifts category), one per category in
    /// turn, each with full relevance.
    pub fn search(
        &self,
        catalog: &Catalog,
        request: &str,
        c: &Constraints,
        profile: Option<&Profile>,
        k: usize,
    ) -> Vec<Candidate> {
        let words = self.request_words(request);
        let scores = self.bm25.scores_of(request, &words.words);
        if !words.has_core() {
            return if words.gift || !c.is_empty() { browse(catalog, &scores, c, profile, k) } else { Vec::new() };
        }
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
        let mut groups = Groups::default();
        out.retain(|c| groups.first(&catalog.products[c.index]));
        out.truncate(k);
        out
    }

    /// The request's words, its core in the part that names something this shop has.
    pub fn request_words(&self, request: &str) -> RequestWords {
        request_words_named(request, |t| self.bm25.names(request, t))
    }

    /// Best matches ignoring constraints and stock (to name the closest categories when
    /// nothing fits).
    pub fn nearest(&self, request: &str, k: usize) -> Vec<usize> {
        let RequestWords { words, .. } = self.request_words(request);
        let scores = self.bm25.scores_of(request, &words);
        let mut idx: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].0 > 0.0).collect();
        idx.sort_by(|&a, &b| scores[b].0.total_cmp(&scores[a].0));
        idx.truncate(k);
        idx
    }
}

/// One word of a request as an index it does not hold is searched for: the spellings that
/// count as finding it (the word as the shopper wrote it, the lexicon's English words for it),
/// and its role.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LookupWord {
    pub words: Vec<String>,
    pub role: Role,
}

/// The words to look `request` up with in an index held elsewhere: a catalog too large for the
/// browser's memory, served as a sharded static index that is fetched word by word. Each core
/// and context word of the request comes with its spellings: as written (such an index stems
/// with its own stemmer, so it gets words, not our stems), and the English words the lexicon
/// has for a German or Chinese word, a synonym, or what an activity needs ("camping": tent,
/// sleeping bag). Soft words ("gift", "cozy") count only when the request has no other word.
/// A product found by any spelling of a word has that word; the candidates it finds are then
/// ranked by [`ProductIndex::search`] like any catalog's.
pub fn lookup_words(request: &str) -> Vec<LookupWord> {
    let read = request_words(request);
    let lower = request.to_lowercase();
    // The words as written, cut as [`terms`] cuts them.
    let mut written: Vec<String> = Vec::new();
    pieces(request, |p| {
        if let Piece::Word(w) = p {
            written.push(w.to_string());
        }
    });
    let zh_words: Vec<&str> = super::lexicon::chinese_words().filter(|w| lower.contains(w)).collect();
    let mut out: Vec<LookupWord> = Vec::new();
    for (term, role) in &read.words {
        let role = match role {
            Role::Soft if read.has_core() => continue,
            Role::Soft => Role::Core,
            r => *r,
        };
        let cjk = term.chars().any(is_cjk);
        let mut words: Vec<String> = Vec::new();
        let mut add = |w: &str| {
            if !words.iter().any(|x| x == w) {
                words.push(w.to_string());
            }
        };
        if cjk {
            add(term);
        }
        for w in written.iter().filter(|w| word_term(w).as_deref() == Some(term.as_str())) {
            add(w);
        }
        let mut english = super::lexicon::english_for(term);
        if cjk {
            english.extend(
                zh_words.iter().filter(|w| w.contains(term.as_str())).flat_map(|w| super::lexicon::english_for(w)),
            );
        } else if english.is_empty() {
            english.extend(super::lexicon::compound(term).map(|c| c.head).unwrap_or_default());
        }
        english.iter().for_each(|w| add(w));
        if !words.is_empty() {
            out.push(LookupWord { words, role });
        }
    }
    out
}

/// Variants a feed listed one by one (one `group`: a jacket in S, M and L) are one product to a
/// shopper, so a ranking keeps the best-placed of each group, which has met the constraints (the
/// size asked for, in stock) like any product.
/// (The map's type is the catalog's id index's, so the browser build carries one copy of it.)
#[derive(Default)]
struct Groups(HashMap<String, usize>);

impl Groups {
    /// Whether `p` is the first of its group seen (always, for a product in no group).
    fn first(&mut self, p: &Product) -> bool {
        p.group.as_ref().is_none_or(|g| self.0.insert(g.clone(), 0).is_none())
    }
}

/// Products meeting `c`, ranked by `scores` (soft words), the profile, then the cheaper first;
/// taken one per first category in turn, so that a broad request sees the range.
fn browse(
    catalog: &Catalog,
    scores: &[(f64, f64)],
    c: &Constraints,
    profile: Option<&Profile>,
    k: usize,
) -> Vec<Candidate> {
    let mut pool: Vec<(f64, usize)> = (0..catalog.products.len())
        .filter(|&i| satisfies(&catalog.products[i], c))
        .map(|i| {
            let boost = profile.map_or(1.0, |pr| 1.0 + 0.15 * pr.affinity(&catalog.products[i]));
            ((1.0 + scores[i].0) * boost, i)
        })
        .collect();
    let price = |i: usize| catalog.products[i].price.unwrap_or(f64::MAX);
    pool.sort_by(|a, b| b.0.total_cmp(&a.0).then(price(a.1).total_cmp(&price(b.1))).then(a.1.cmp(&b.1)));
    let mut groups = Groups::default();
    pool.retain(|&(_, i)| groups.first(&catalog.products[i]));
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    while out.len() < k && !pool.is_empty() {
        let before = out.len();
        pool.retain(|&(score, index)| {
            let cat = catalog.products[index].categories.first().map_or("", String::as_str);
            if out.len() >= k || seen.contains(&cat) {
                return true;
            }
            seen.push(cat);
            out.push(Candidate { index, score, relevance: 1.0 });
            false
        });
        if out.len() == before {
            break;
        }
        seen.clear();
    }
    out
}

/// Whether the product's colour (its colour attributes and title, shades included; when they
/// name none, the description's first sentence, which says what the product is: "This pillow
/// cover is made of black shearling") is one of `colours` (English names, as
/// [`Constraints::colors`] has them).
pub fn has_colour(p: &Product, colours: &[String]) -> bool {
    use super::query::{colour_names, colours_named};
    let own = format!(
        "{} {} {}",
        p.attribute("color").unwrap_or_default(),
        p.attribute("colors").unwrap_or_default(),
        p.title
    );
    if colours_named(&own).is_empty() {
        let first = colours_named(super::text::first_sentence(&p.description));
        return colours.iter().any(|col| first.contains(&col.as_str()));
    }
    let text = colour_names(&own);
    colours.iter().any(|col| text.contains(col.as_str()) || (col == "grey" && text.contains("gray")))
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
    if !c.colors.is_empty() && !has_colour(p, &c.colors) {
        return false;
    }
    if !c.exclude.is_empty() {
        let mut text = format!("{} {}", p.title, p.categories.join(" "));
        for (k, v) in &p.attributes {
            text.push_str(&format!(" {k} {}", v.as_text()));
        }
        let words = terms(&text);
        if c.exclude.iter().any(|x| words.contains(x)) {
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
