//! The assistant's two jobs as token streams the caller pulls: grounded suggestions from the
//! catalog, and service answers from the policies.
//!
//! A suggestion reads: `{intro}\n1. {title} — {reason}\n2. ...`. We write the intro and the
//! numbering; the model *chooses* each title among the retrieved candidates through a token
//! trie (it cannot name anything else) and writes the reason freely, except that it may state
//! no number the product's own catalog entry does not contain, no currency sign and no link.
//! When nothing fits, the answer says so in our words and names the closest categories.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use super::catalog::{Catalog, Product};
use super::constrain::{NumberGuard, TokenClasses, TokenTrie, best_of};
use super::policy::Policies;
use super::profile::Profile;
use super::prompt::{self, TITLE_SEPARATOR};
use super::query::{Constraints, Lang, detect_lang, parse_constraints};
use super::retrieve::ProductIndex;
use crate::engine::{Engine, EngineError};
use crate::generate::Decoder;
use crate::tokenizer::StreamingDecoder;

/// What a suggestion or answer stream yields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AssistEvent {
    /// Text to show, in order (model output is untrusted: render it as text).
    Text { text: String },
    /// A catalog product the answer names; the card comes from the catalog.
    Product { id: String },
    /// The policy passage an answer is based on (shown as a quote).
    Passage { id: String },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestOptions {
    /// Most products to name.
    pub max_items: usize,
    /// Retrieved candidates the model chooses from.
    pub candidates: usize,
    /// Minimum relevance (BM25 score relative to the request's ideal) for a product to count as
    /// a match; below it the answer is "nothing fits". Calibrated by `make eval`.
    pub min_relevance: f64,
    /// Longest reason per product, in tokens.
    pub reason_tokens: usize,
    /// Force a language instead of detecting it from the request.
    pub lang: Option<Lang>,
    /// Who writes each product's one-sentence reason.
    pub reasons: Reasons,
}

/// Who writes the reason after each product's title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reasons {
    /// The model *chooses* one sentence of the product's own description (in the request's
    /// language) through a token trie: everything said about a product is the shop's text.
    /// A 135M model writing freely states features a product does not have.
    Pick,
    /// The model writes freely (numbers, prices and links still guarded). For experiments.
    Model,
    /// The first sentence of the product's description, without the model.
    Catalog,
}

/// The sentences of a description, each as written.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let s = first_sentence(rest);
        if !s.trim().is_empty() {
            out.push(s.trim());
        }
        rest = rest[s.len()..].trim_start();
    }
    out
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            max_items: 3,
            candidates: 5,
            min_relevance: 0.5,
            reason_tokens: 40,
            lang: None,
            reasons: Reasons::Pick,
        }
    }
}

/// Positions one listed item may take (numbering, title, a sentence, newline), reserved before
/// starting one. Longer reasons are cut by `reason_tokens` or by the sentence trie's length.
const ITEM_BUDGET: usize = 160;

/// The suggestion prompt, shortened (descriptions clipped, then fewer candidates) until the
/// session has room for it and for the items.
fn fitting_prompt(
    engine: &Engine,
    shop: &Shop,
    request: &str,
    candidates: &[usize],
    lang: Lang,
    opts: &SuggestOptions,
) -> Result<Vec<u32>, EngineError> {
    let capacity = engine.model.max_context();
    let reserve = ITEM_BUDGET * opts.max_items.min(candidates.len()).max(1);
    let mut last = Vec::new();
    for n in (1..=candidates.len()).rev() {
        for chars in [prompt::DESCRIPTION_CHARS, 120, 60, 0] {
            let products: Vec<&Product> = candidates[..n].iter().map(|&i| &shop.catalog.products[i]).collect();
            let messages = prompt::suggest_messages(&shop.name, request, &products, lang, chars);
            last = engine.chat_tokens(&messages)?;
            if last.len() + reserve.min(ITEM_BUDGET * n) <= capacity {
                return Ok(last);
            }
        }
    }
    Ok(last)
}

/// Repetition penalty inside free text: the small model otherwise loops ("180 g; 180 g; ...").
const REPEAT_PENALTY: f32 = 1.3;

/// The first sentence of `text`: up to a full stop (or ! ?) followed by a space or the end,
/// so that "1.7 l" and "$5.95" do not end one; CJK full stops end one anywhere.
pub fn first_sentence(text: &str) -> &str {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let end = matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
        let at_break = chars.get(k + 1).is_none_or(|&(_, n)| n.is_whitespace() || !c.is_ascii());
        if end && at_break {
            return &text[..i + c.len_utf8()];
        }
    }
    text
}

/// A shop: its catalog with a search index, and its policies.
pub struct Shop {
    pub name: String,
    pub catalog: Catalog,
    pub index: ProductIndex,
    pub policies: Option<Policies>,
}

impl Shop {
    pub fn new(catalog: Catalog, policies: Option<Policies>) -> Self {
        let index = ProductIndex::new(&catalog);
        let name = catalog
            .shop_name
            .clone()
            .or_else(|| policies.as_ref().and_then(|p| p.shop.clone()))
            .unwrap_or_else(|| "this shop".into());
        Shop { name, catalog, index, policies }
    }

    /// Categories of the products a search text would find (for profiles built from searches).
    pub fn search_categories(&self, text: &str) -> Vec<String> {
        let hits = self.index.search(&self.catalog, text, &Constraints::default(), None, 3);
        hits.iter().flat_map(|c| self.catalog.products[c.index].categories.clone()).collect()
    }
}

/// The ranked products a request would be answered with, and why (for "why these suggestions?").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub lang: Lang,
    pub constraints: Constraints,
    /// Candidate product ids, best first (empty when nothing fits).
    pub candidates: Vec<String>,
    pub relevance: Vec<f64>,
    /// Categories the profile boosted.
    pub profile_categories: Vec<String>,
    /// Closest categories, when nothing fits.
    pub closest: Vec<String>,
}

/// Retrieval for a request: what [`Suggestion`] will choose from.
pub fn plan(shop: &Shop, request: &str, profile: Option<&Profile>, opts: &SuggestOptions) -> Plan {
    let lang = opts.lang.unwrap_or_else(|| detect_lang(request));
    let constraints = parse_constraints(request);
    let hits = shop.index.search(&shop.catalog, request, &constraints, profile, opts.candidates);
    let good: Vec<_> = hits.into_iter().filter(|h| h.relevance >= opts.min_relevance).collect();
    let closest = if good.is_empty() { closest_categories(shop, request) } else { Vec::new() };
    Plan {
        lang,
        candidates: good.iter().map(|h| shop.catalog.products[h.index].id.clone()).collect(),
        relevance: good.iter().map(|h| h.relevance).collect(),
        profile_categories: profile.map(|p| p.top_categories(3)).unwrap_or_default(),
        constraints,
        closest,
    }
}

/// Categories of the nearest products regardless of constraints, or the catalog's largest.
fn closest_categories(shop: &Shop, request: &str) -> Vec<String> {
    let mut cats: Vec<String> = Vec::new();
    for i in shop.index.nearest(request, 5) {
        for c in &shop.catalog.products[i].categories {
            if !cats.contains(c) {
                cats.push(c.clone());
            }
        }
    }
    if cats.is_empty() {
        cats = shop.catalog.categories();
    }
    cats.truncate(3);
    cats
}

enum Phase {
    /// Force the numbering of item `n` (1-based), then choose a title.
    StartItem(usize),
    /// Choosing a title: position in the trie.
    Title {
        item: usize,
        node: usize,
    },
    /// Writing the reason for `product`.
    Reason {
        item: usize,
        product: usize,
        written: usize,
    },
    /// Choosing one of the product's sentences: position in the sentence trie.
    Pick {
        item: usize,
        node: usize,
    },
    /// After item `n`: continue with another, or stop.
    Continue(usize),
    Done,
}

/// The model work of one answer: the prompt it prefilled, and the tokens it ran after the
/// prompt (forced text, and the tokens it chose among titles and sentences).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Work {
    pub prefill_tokens: usize,
    pub scored_tokens: usize,
}

/// A streamed, grounded suggestion.
pub struct Suggestion {
    shop: Arc<Shop>,
    dec: Option<Decoder>,
    classes: Arc<TokenClasses>,
    plan: Plan,
    opts: SuggestOptions,
    /// Candidates (catalog indices) not yet named.
    remaining: Vec<usize>,
    trie: TokenTrie,
    trie_products: Vec<usize>,
    /// The current product's sentences, and a trie over them (each ending in a newline).
    sentences: Vec<String>,
    sentence_trie: TokenTrie,
    guard: NumberGuard,
    text: StreamingDecoder,
    /// The reason being written (to end it after one sentence).
    reason: String,
    phase: Phase,
    queue: VecDeque<AssistEvent>,
    /// Product ids named so far.
    pub products: Vec<String>,
}

impl Suggestion {
    pub fn new(
        engine: Arc<Engine>,
        shop: Arc<Shop>,
        classes: Arc<TokenClasses>,
        request: &str,
        profile: Option<&Profile>,
        opts: SuggestOptions,
    ) -> Result<Self, EngineError> {
        let plan = plan(&shop, request, profile, &opts);
        let mut queue = VecDeque::new();
        let remaining: Vec<usize> =
            plan.candidates.iter().filter_map(|id| shop.catalog.products.iter().position(|p| &p.id == id)).collect();
        let (dec, phase) = if remaining.is_empty() {
            let constrained = !plan.constraints.is_empty();
            queue.push_back(AssistEvent::Text { text: prompt::nothing_fits(plan.lang, &plan.closest, constrained) });
            (None, Phase::Done)
        } else {
            let tokens = fitting_prompt(&engine, &shop, request, &remaining, plan.lang, &opts)?;
            (Some(Decoder::new(engine, tokens)?), Phase::StartItem(1))
        };
        Ok(Suggestion {
            shop,
            dec,
            classes,
            plan,
            opts,
            remaining,
            trie: TokenTrie::default(),
            trie_products: Vec::new(),
            sentences: Vec::new(),
            sentence_trie: TokenTrie::default(),
            guard: NumberGuard::default(),
            text: StreamingDecoder::new(),
            reason: String::new(),
            phase,
            queue,
            products: Vec::new(),
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The model work this answer has cost so far.
    pub fn work(&self) -> Work {
        self.dec.as_ref().map_or(Work::default(), |d| Work {
            prefill_tokens: d.prompt_tokens().len(),
            scored_tokens: d.generated_tokens().len(),
        })
    }

    /// The next event; `None` when the suggestion is complete.
    pub async fn next(&mut self) -> Result<Option<AssistEvent>, EngineError> {
        while self.queue.is_empty() {
            if matches!(self.phase, Phase::Done) {
                if let Some(d) = self.dec.as_mut() {
                    d.release();
                }
                return Ok(None);
            }
            self.step().await?;
        }
        Ok(self.queue.pop_front())
    }

    /// Stops early (abort).
    pub fn stop(&mut self) {
        self.phase = Phase::Done;
        self.queue.clear();
        if let Some(d) = self.dec.as_mut() {
            d.release();
        }
    }

    pub fn decoder(&self) -> Option<&Decoder> {
        self.dec.as_ref()
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        let engine = self.dec.as_ref().expect("decoder while generating").engine();
        Ok(engine.tokenizer.encode(text, false)?)
    }

    async fn step(&mut self) -> Result<(), EngineError> {
        match self.phase {
            Phase::StartItem(item) => self.start_item(item),
            Phase::Title { item, node } => self.title_step(item, node).await,
            Phase::Reason { item, product, written } => self.reason_step(item, product, written).await,
            Phase::Pick { item, node } => self.pick_step(item, node).await,
            Phase::Continue(item) => self.continue_step(item).await,
            Phase::Done => Ok(()),
        }
    }

    fn start_item(&mut self, item: usize) -> Result<(), EngineError> {
        if self.dec.as_ref().expect("decoder").room() < ITEM_BUDGET {
            self.phase = Phase::Done; // the session is full: end the list rather than fail
            return Ok(());
        }
        let lead = if item == 1 { format!("{}\n1.", prompt::intro(self.plan.lang)) } else { format!("{item}.") };
        let tokens = self.encode(&lead)?;
        let lang = self.plan.lang.code();
        let mut phrases = Vec::new();
        for &p in &self.remaining {
            let title = self.shop.catalog.products[p].title_in(lang);
            phrases.push(self.encode(&format!(" {title}{TITLE_SEPARATOR}"))?);
        }
        self.trie = TokenTrie::new(&phrases);
        self.trie_products = self.remaining.clone();
        self.dec.as_mut().expect("decoder").push(&tokens);
        if item == 1 {
            self.queue.push_back(AssistEvent::Text { text: format!("{}\n", prompt::intro(self.plan.lang)) });
        }
        self.phase = Phase::Title { item, node: 0 };
        Ok(())
    }

    async fn title_step(&mut self, item: usize, node: usize) -> Result<(), EngineError> {
        let dec = self.dec.as_mut().expect("decoder");
        if dec.room() < 2 {
            self.phase = Phase::Done;
            return Ok(());
        }
        let Some(tok) = choose(dec, self.trie.allowed(node)).await? else {
            self.phase = Phase::Done;
            return Ok(());
        };
        dec.push(&[tok]);
        let next = self.trie.step(node, tok).expect("an allowed token");
        if !self.trie.is_leaf(next) {
            self.phase = Phase::Title { item, node: next };
            return Ok(());
        }
        let phrase = self.trie.phrase_at(next).expect("a leaf ends a phrase");
        let product = self.trie_products[phrase];
        self.remaining.retain(|&p| p != product);
        let p = &self.shop.catalog.products[product];
        self.guard = NumberGuard::new(&format!("{} {} {}", p.title, p.description, attribute_text(p)));
        self.products.push(p.id.clone());
        self.queue.push_back(AssistEvent::Product { id: p.id.clone() });
        let lang = self.plan.lang.code();
        let title = p.title_in(lang);
        self.queue.push_back(AssistEvent::Text { text: format!("{item}. {title}{TITLE_SEPARATOR}") });
        let description = p.description_in(lang).to_string();
        let options: Vec<String> = sentences(&description).into_iter().map(String::from).collect();
        if self.opts.reasons == Reasons::Model {
            self.text = StreamingDecoder::new();
            self.reason.clear();
            self.phase = Phase::Reason { item, product, written: 0 };
        } else if self.opts.reasons == Reasons::Pick && options.len() > 1 {
            let phrases = options.iter().map(|o| self.encode(&format!("{o}\n"))).collect::<Result<Vec<_>, _>>()?;
            self.sentence_trie = TokenTrie::new(&phrases);
            self.sentences = options;
            self.phase = Phase::Pick { item, node: 0 };
        } else {
            // The shop's own words: the first sentence of the description, in the request's
            // language; the model's context gets them too, so it chooses the next item knowing.
            let sentence = options.first().cloned().unwrap_or_default();
            let tokens = self.encode(&format!("{sentence}\n"))?;
            self.dec.as_mut().expect("decoder").push(&tokens);
            self.queue.push_back(AssistEvent::Text { text: sentence });
            self.phase = Phase::Continue(item);
        }
        Ok(())
    }

    /// Whether free text may continue with `t`.
    fn free_token_ok(&self, t: u32, eog: &[u32]) -> bool {
        let c = &self.classes;
        if eog.contains(&t) {
            return true;
        }
        !c.banned_free[t as usize] && self.guard.allows(c, t)
    }

    async fn reason_step(&mut self, item: usize, product: usize, written: usize) -> Result<(), EngineError> {
        let dec = self.dec.as_mut().expect("decoder");
        let eog = dec.engine().tokenizer.end_of_generation().to_vec();
        let mut logits = dec.logits().await?;
        let dec = self.dec.as_ref().expect("decoder");
        penalize_repeats(&mut logits, dec.generated_tokens(), REPEAT_PENALTY);
        let n = logits.len() as u32;
        let first = written == 0;
        // A reason starts with a word (not a number, not punctuation) and may not end at once.
        let ok = |t: u32| {
            self.free_token_ok(t, &eog)
                && (!first || (self.classes.word_start[t as usize] && !eog.contains(&t)))
                && !(written < 3 && self.classes.has_newline(t))
        };
        let Some(tok) = best_of(&logits, (0..n).filter(|&t| ok(t))) else {
            self.end_reason()?;
            self.phase = Phase::Continue(item);
            return Ok(());
        };
        let dec = self.dec.as_mut().expect("decoder");
        if eog.contains(&tok) {
            dec.push(&[tok]);
            self.flush_text();
            self.phase = Phase::Done;
            return Ok(());
        }
        let bytes = self.classes.bytes[tok as usize].clone();
        if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            // The reason ends at the newline: keep what came before it on this line.
            dec.push(&[tok]);
            let head = String::from_utf8_lossy(&bytes[..nl]).into_owned();
            self.emit_text(&head)?;
            self.flush_text();
            self.phase = Phase::Continue(item);
            return Ok(());
        }
        dec.push(&[tok]);
        self.guard.accept(&self.classes, tok);
        let piece = self.text.push(&self.dec.as_ref().expect("decoder").engine().tokenizer, tok)?;
        self.reason.push_str(&piece);
        self.emit(piece);
        let written = written + 1;
        let sentence_done = written >= 3
            && first_sentence(&self.reason).len() < self.reason.trim_end().len() + 1
            && ends_sentence(&self.reason);
        if sentence_done || written >= self.opts.reason_tokens || self.dec.as_ref().expect("decoder").room() < 24 {
            self.end_reason()?;
            self.phase = Phase::Continue(item);
        } else {
            self.phase = Phase::Reason { item, product, written };
        }
        Ok(())
    }

    /// One step of choosing a sentence of the product's description.
    async fn pick_step(&mut self, item: usize, node: usize) -> Result<(), EngineError> {
        let dec = self.dec.as_mut().expect("decoder");
        if dec.room() < 2 {
            self.phase = Phase::Done;
            return Ok(());
        }
        let Some(tok) = choose(dec, self.sentence_trie.allowed(node)).await? else {
            self.end_reason()?;
            self.phase = Phase::Continue(item);
            return Ok(());
        };
        dec.push(&[tok]);
        let next = self.sentence_trie.step(node, tok).expect("an allowed token");
        if !self.sentence_trie.is_leaf(next) {
            self.phase = Phase::Pick { item, node: next };
            return Ok(());
        }
        let chosen = self.sentence_trie.phrase_at(next).expect("a leaf ends a sentence");
        self.queue.push_back(AssistEvent::Text { text: self.sentences[chosen].clone() });
        self.phase = Phase::Continue(item);
        Ok(())
    }

    /// Closes the reason line: flushes text and puts the newline in the model's context.
    fn end_reason(&mut self) -> Result<(), EngineError> {
        self.flush_text();
        let newline = self.encode("\n")?;
        self.dec.as_mut().expect("decoder").push(&newline);
        Ok(())
    }

    /// Emits text that did not come token by token (the part of a token before a newline).
    fn emit_text(&mut self, text: &str) -> Result<(), EngineError> {
        if text.is_empty() {
            return Ok(());
        }
        let engine = self.dec.as_ref().expect("decoder").engine().clone();
        for id in engine.tokenizer.encode(text, false)? {
            let piece = self.text.push(&engine.tokenizer, id)?;
            self.reason.push_str(&piece);
            self.emit(piece);
        }
        Ok(())
    }

    async fn continue_step(&mut self, item: usize) -> Result<(), EngineError> {
        if item >= self.opts.max_items || self.remaining.is_empty() || self.dec.as_ref().expect("decoder").room() < 64 {
            self.phase = Phase::Done;
            return Ok(());
        }
        // The model decides between another item and the end of its reply.
        let next_number = self.encode(&format!("{}", item + 1))?;
        let dec = self.dec.as_mut().expect("decoder");
        let stop = dec.engine().tokenizer.end_of_generation().to_vec();
        let logits = dec.logits().await?;
        let choice = best_of(&logits, stop.iter().copied().chain(next_number.first().copied()));
        if choice.is_some_and(|c| next_number.first() == Some(&c)) {
            self.queue.push_back(AssistEvent::Text { text: "\n".into() });
            self.phase = Phase::StartItem(item + 1);
        } else {
            self.phase = Phase::Done;
        }
        Ok(())
    }

    fn emit(&mut self, piece: String) {
        if !piece.is_empty() {
            self.queue.push_back(AssistEvent::Text { text: piece });
        }
    }

    fn flush_text(&mut self) {
        let rest = self.text.finish();
        self.emit(rest);
    }
}

/// The model's choice among `allowed` tokens. A single allowed token is taken without asking
/// the model (it runs with the next choice, batched): a title or sentence costs one forward
/// pass where it branches, not one per token.
async fn choose(dec: &mut Decoder, allowed: impl Iterator<Item = u32>) -> Result<Option<u32>, EngineError> {
    let allowed: Vec<u32> = allowed.collect();
    if let [only] = allowed[..] {
        return Ok(Some(only));
    }
    let logits = dec.logits().await?;
    Ok(best_of(&logits, allowed.into_iter()))
}

/// Whether `text` ends a sentence (a full stop after a digit is a decimal point).
fn ends_sentence(text: &str) -> bool {
    let t = text.trim_end();
    let mut rev = t.chars().rev();
    match (rev.next(), rev.next()) {
        (Some('.'), Some(prev)) => !prev.is_ascii_digit(),
        (Some('!' | '?' | '。' | '！' | '？'), _) => true,
        _ => false,
    }
}

/// llama.cpp's repetition penalty over `seen` tokens (positive logits divided, negative
/// multiplied).
fn penalize_repeats(logits: &mut [f32], seen: &[u32], penalty: f32) {
    let mut done = std::collections::HashSet::new();
    for &t in seen {
        if let Some(l) = logits.get_mut(t as usize)
            && done.insert(t)
        {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

fn attribute_text(p: &Product) -> String {
    p.attributes.iter().map(|(k, v)| format!("{k} {}", v.as_text())).collect::<Vec<_>>().join(" ")
}

/// Which job a shopper's message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Suggest,
    Answer,
}

/// Service question or shopping request? A policy passage must match well, and strictly better
/// than any product does (on a tie the shopper most likely named a product).
pub fn route(shop: &Shop, text: &str) -> Route {
    let Some(hit) = shop.policies.as_ref().and_then(|p| p.best(text)) else { return Route::Suggest };
    if hit.relevance < ANSWER_MIN_RELEVANCE {
        return Route::Suggest;
    }
    let product =
        shop.index.search(&shop.catalog, text, &Constraints::default(), None, 1).first().map_or(0.0, |c| c.relevance);
    if hit.relevance > product { Route::Answer } else { Route::Suggest }
}

/// Minimum relevance for a policy passage to answer from (below: "I don't know"). Calibrated
/// by `make eval`.
pub const ANSWER_MIN_RELEVANCE: f64 = 0.4;

/// Text the model *selects* rather than writes: it chooses, through a token trie, up to `k`
/// of the given sentences (each at most once), in the order it prefers, and may stop early. A
/// 135M model asked to paraphrase a return policy says "we do not accept PayPal" when the
/// policy says it does; choosing among the shop's own sentences cannot.
pub struct Extractive {
    dec: Option<Decoder>,
    sentences: Vec<String>,
    /// Token sequences of each sentence as the model writes it (followed by a newline).
    phrases: Vec<Vec<u32>>,
    chosen: Vec<usize>,
    k: usize,
    queue: VecDeque<AssistEvent>,
}

impl Extractive {
    pub fn new(
        engine: Arc<Engine>,
        messages: &[crate::chat::Message],
        sentences: Vec<String>,
        k: usize,
    ) -> Result<Self, EngineError> {
        let tokens = engine.chat_tokens(messages)?;
        let phrases = sentences
            .iter()
            .map(|s| engine.tokenizer.encode(&format!("{s}\n"), false))
            .collect::<Result<Vec<_>, _>>()?;
        let dec = if sentences.is_empty() { None } else { Some(Decoder::new(engine, tokens)?) };
        Ok(Extractive { dec, sentences, phrases, chosen: Vec::new(), k: k.max(1), queue: VecDeque::new() })
    }

    pub async fn next(&mut self) -> Result<Option<AssistEvent>, EngineError> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(Some(e));
        }
        let Some(dec) = self.dec.as_mut() else { return Ok(None) };
        let left: Vec<usize> = (0..self.sentences.len()).filter(|i| !self.chosen.contains(i)).collect();
        let longest = left.iter().map(|&i| self.phrases[i].len()).max().unwrap_or(0);
        if self.chosen.len() >= self.k || left.is_empty() || dec.room() < longest + 2 {
            self.stop();
            return Ok(None);
        }
        let trie = TokenTrie::new(&left.iter().map(|&i| self.phrases[i].clone()).collect::<Vec<_>>());
        let eog = dec.engine().tokenizer.end_of_generation().to_vec();
        let mut node = 0;
        loop {
            // After the first sentence the model may end its reply instead of adding one.
            let may_stop = node == 0 && !self.chosen.is_empty();
            let allowed = trie.allowed(node).chain(eog.iter().copied().filter(|_| may_stop));
            let Some(tok) = choose(dec, allowed).await? else { break };
            if eog.contains(&tok) {
                break;
            }
            dec.push(&[tok]);
            node = trie.step(node, tok).expect("an allowed token");
            if trie.is_leaf(node) {
                let i = left[trie.phrase_at(node).expect("a leaf ends a sentence")];
                self.chosen.push(i);
                let sep = if self.chosen.len() > 1 { " " } else { "" };
                return Ok(Some(AssistEvent::Text { text: format!("{sep}{}", self.sentences[i]) }));
            }
        }
        self.stop();
        Ok(None)
    }

    pub fn stop(&mut self) {
        self.queue.clear();
        if let Some(mut d) = self.dec.take() {
            d.release();
        }
    }

    pub fn decoder(&self) -> Option<&Decoder> {
        self.dec.as_ref()
    }

    /// Indices of the sentences chosen so far.
    pub fn chosen(&self) -> &[usize] {
        &self.chosen
    }
}

/// A streamed service answer: the sentence of the shop's policies that answers the question,
/// chosen by the model among the sentences of the best-matching passages, then the passage it
/// comes from (quoted in full); or "I don't know, please contact the shop" when no passage
/// covers the question.
pub struct Answer {
    head: VecDeque<AssistEvent>,
    body: Option<Extractive>,
    /// Passage ids of each candidate sentence.
    sentence_passage: Vec<String>,
    /// The passage answered from, once chosen.
    pub passage: Option<String>,
}

/// Passages whose sentences an answer may choose from, and how many of their sentences.
const ANSWER_PASSAGES: usize = 3;
const ANSWER_SENTENCES: usize = 3;

/// Search terms (with the lexicon's English words) that `question` and `sentence` share.
fn word_overlap(question: &str, sentence: &str) -> usize {
    let expand = |text: &str| -> Vec<String> {
        let mut t = super::text::terms(text);
        let english: Vec<String> =
            t.iter().flat_map(|w| super::lexicon::translate(w)).flat_map(super::text::terms).collect();
        t.extend(english);
        t.sort();
        t.dedup();
        t
    };
    let s = expand(sentence);
    expand(question).iter().filter(|w| s.contains(w)).count()
}

impl Answer {
    pub fn new(
        engine: Arc<Engine>,
        shop: &Shop,
        question: &str,
        lang: Option<Lang>,
        min_relevance: f64,
    ) -> Result<Self, EngineError> {
        let lang = lang.unwrap_or_else(|| detect_lang(question));
        let hits = shop.policies.as_ref().map(|p| p.top(question, ANSWER_PASSAGES, min_relevance)).unwrap_or_default();
        let Some(policies) = shop.policies.as_ref().filter(|_| !hits.is_empty()) else {
            let head = VecDeque::from([AssistEvent::Text { text: prompt::dont_know(lang).into() }]);
            return Ok(Answer { head, body: None, sentence_passage: Vec::new(), passage: None });
        };
        let passages: Vec<&super::policy::Passage> = hits.iter().map(|h| &policies.passages[h.index]).collect();
        // The sentences that share the most words with the question; the model breaks ties (a
        // 135M model chooses poorly among many sentences, and not much better among a few).
        let mut scored: Vec<(usize, String, String)> = Vec::new();
        for p in &passages {
            for s in sentences(p.text_in(lang.code())) {
                scored.push((word_overlap(question, s), s.to_string(), p.id.clone()));
            }
        }
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        let best = scored.first().map_or(0, |s| s.0);
        if best > 0 {
            scored.retain(|s| s.0 == best);
        }
        scored.truncate(ANSWER_SENTENCES);
        let (options, sentence_passage): (Vec<String>, Vec<String>) =
            scored.into_iter().map(|(_, s, id)| (s, id)).unzip();
        let messages = prompt::answer_messages(&shop.name, question, &passages, lang);
        let body = Extractive::new(engine, &messages, options, 1)?;
        Ok(Answer { head: VecDeque::new(), body: Some(body), sentence_passage, passage: None })
    }

    pub async fn next(&mut self) -> Result<Option<AssistEvent>, EngineError> {
        if let Some(e) = self.head.pop_front() {
            return Ok(Some(e));
        }
        let Some(body) = self.body.as_mut() else { return Ok(None) };
        let event = body.next().await?;
        if self.passage.is_none()
            && let Some(&i) = body.chosen().first()
        {
            let id = self.sentence_passage[i].clone();
            self.passage = Some(id.clone());
            self.head.push_back(AssistEvent::Passage { id });
        }
        match event {
            Some(e) => Ok(Some(e)),
            None => Ok(self.head.pop_front()),
        }
    }

    pub fn stop(&mut self) {
        self.head.clear();
        if let Some(b) = self.body.as_mut() {
            b.stop();
        }
    }
}

/// A summary of reviews for the merchant: the model chooses three of the report's fact
/// sentences (the numbers and quotes are the analysis's own).
pub fn review_summary(engine: Arc<Engine>, report: &super::reviews::Report) -> Result<Extractive, EngineError> {
    let facts = super::reviews::fact_sentences(report);
    let messages = prompt::review_summary_messages(&facts.join("\n"));
    Extractive::new(engine, &messages, facts, 3)
}
