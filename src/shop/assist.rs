//! The assistant's two jobs as token streams the caller pulls: grounded suggestions from the
//! catalog, and service answers from the policies.
//!
//! A suggestion reads: `{intro}\n1. {title} — {reason}\n2. ...`. Retrieval chooses and orders
//! the products (`make eval` measured the model's own choice of titles among the candidates:
//! it did not rank better, and it cost a prompt full of descriptions); each card is out before
//! the model runs. The model then *chooses* each reason among the product's own description
//! sentences through a token trie, so everything said about a product is the shop's text.
//! When nothing fits, the answer says so in our words and names the closest categories.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::catalog::Catalog;
use super::constrain::{TokenTrie, best_of};
use super::meaning::{self, Meaning};
use super::policy::{Hit, Policies};
use super::profile::Profile;
use super::prompt::{self, TITLE_SEPARATOR};
use super::query::{Constraints, Lang, detect_lang, parse_constraints};
use super::retrieve::{Candidate, ProductIndex};
use crate::encoder::Encoder;
use crate::engine::{Engine, EngineError};
use crate::generate::Decoder;

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
    /// Retrieved candidates considered (the best `max_items` of them are named).
    pub candidates: usize,
    /// Minimum relevance (coverage of the request's core words) for a product to count as a
    /// match; below it the answer is "nothing fits". Calibrated by `make eval`.
    pub min_relevance: f64,
    /// Force a language instead of detecting it from the request.
    pub lang: Option<Lang>,
    /// Who chooses each product's one-sentence reason.
    pub reasons: Reasons,
    /// Constraints in force instead of those the request states (a conversation's, refined
    /// over several messages).
    pub constraints: Option<Constraints>,
    /// Products not to name (a conversation's "show me more", a "lighter one").
    pub skip: Vec<String>,
}

/// Who chooses the reason after each product's title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reasons {
    /// The model *chooses* one sentence of the product's own description (in the request's
    /// language) through a token trie. A 135M model writing freely states features a
    /// product does not have, so it never writes.
    Pick,
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
            lang: None,
            reasons: Reasons::Pick,
            constraints: None,
            skip: Vec::new(),
        }
    }
}

/// Tokens of an item's number and title the model sees before choosing its sentence.
const CONTEXT_TITLE_TOKENS: usize = 12;

/// Positions one listed item may take (numbering, title, a sentence, newline), reserved before
/// starting one.
const ITEM_BUDGET: usize = 160;

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
    /// The sentence encoder and product vectors, once loaded: retrieval by meaning as well.
    /// Set once, through a shared shop (in the browser the encoder arrives after the catalog,
    /// and the assistant and conversation already hold the shop).
    meaning: OnceLock<Meaning>,
}

impl Shop {
    pub fn new(catalog: Catalog, policies: Option<Policies>) -> Self {
        let index = ProductIndex::new(&catalog);
        let name = catalog
            .shop_name
            .clone()
            .or_else(|| policies.as_ref().and_then(|p| p.shop.clone()))
            .unwrap_or_else(|| "this shop".into());
        Shop { name, catalog, index, policies, meaning: OnceLock::new() }
    }

    /// The shop, also searching by meaning with `encoder` (every product and policy passage
    /// embedded now).
    pub fn with_encoder(self, encoder: Arc<Encoder>) -> Self {
        let meaning = Meaning::build(encoder, &self.catalog, self.policies.as_ref());
        self.with_meaning(meaning)
    }

    /// The shop, also searching by meaning (`meaning` built for this catalog).
    pub fn with_meaning(self, meaning: Meaning) -> Self {
        self.set_meaning(meaning);
        self
    }

    /// Starts searching by meaning too; a shop that already does keeps its first encoder.
    pub fn set_meaning(&self, meaning: Meaning) -> bool {
        self.meaning.set(meaning).is_ok()
    }

    /// Retrieval by meaning, once loaded.
    pub fn meaning(&self) -> Option<&Meaning> {
        self.meaning.get()
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
    let constraints = opts.constraints.clone().unwrap_or_else(|| parse_constraints(request));
    let wanted = (opts.candidates + opts.skip.len()).max(FUSED);
    let hits = shop.index.search(&shop.catalog, request, &constraints, profile, wanted);
    let skipped = |i: usize| opts.skip.contains(&shop.catalog.products[i].id);
    let mut good: Vec<Candidate> =
        hits.into_iter().filter(|h| h.relevance >= opts.min_relevance && !skipped(h.index)).collect();
    let rescues = meaning::rescues(request);
    // Embedding the request is the encoder's whole cost per request: only when meaning can
    // add products or has more than one to reorder.
    if let Some(m) = shop.meaning().filter(|_| rescues || good.len() > 1) {
        let sims = m.similarities(request);
        if rescues {
            // A need: the products closest in meaning join what words found.
            for c in meaning::nearest(&shop.catalog, &sims, &constraints, &skipped, opts.candidates) {
                if !good.iter().any(|g| g.index == c.index) {
                    good.push(c);
                }
            }
        }
        meaning::fuse(&mut good, &sims);
    }
    good.truncate(opts.candidates);
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

/// Word matches retrieved for the encoder to reorder (more than are shown, so that meaning can
/// lift a product words ranked sixth).
const FUSED: usize = 12;

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
    /// Name item `n` (1-based): its card and title line, also put in the model's context.
    StartItem(usize),
    /// Choosing one of the product's sentences: position in the sentence trie.
    Pick {
        item: usize,
        node: usize,
    },
    Done,
}

/// The model work of one answer: the prompt it prefilled, and the tokens it ran after the
/// prompt (titles and sentences put in its context, and the tokens it chose among).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Work {
    /// Prompt tokens run (those of its start that the last answer's cache held are not).
    pub prefill_tokens: usize,
    /// Prompt tokens whose keys and values were reused from the last answer.
    pub reused_tokens: usize,
    pub scored_tokens: usize,
}

/// A streamed, grounded suggestion.
pub struct Suggestion {
    shop: Arc<Shop>,
    /// The model's side, while reasons are being chosen (none when nothing fits or for
    /// [`Reasons::Catalog`]).
    dec: Option<Decoder>,
    plan: Plan,
    /// The products to name (catalog indices), in order.
    items: Vec<usize>,
    /// The current product's sentences, and a trie over them (each ending in a newline).
    sentences: Vec<String>,
    sentence_trie: TokenTrie,
    phase: Phase,
    queue: VecDeque<AssistEvent>,
    /// Product ids named so far.
    pub products: Vec<String>,
}

impl Suggestion {
    pub fn new(
        engine: Arc<Engine>,
        shop: Arc<Shop>,
        request: &str,
        profile: Option<&Profile>,
        opts: SuggestOptions,
    ) -> Result<Self, EngineError> {
        let engine = (opts.reasons == Reasons::Pick).then_some(engine);
        Self::build(engine, shop, request, profile, &opts)
    }

    /// The answer retrieval alone gives, at once: the same products in the same order as
    /// with the model, each with its description's first sentence. What a shopper sees
    /// before the model has arrived.
    pub fn quick(shop: Arc<Shop>, request: &str, profile: Option<&Profile>, opts: &SuggestOptions) -> Vec<AssistEvent> {
        let Ok(mut s) = Self::build(None, shop, request, profile, opts) else { return Vec::new() };
        let mut events = Vec::new();
        loop {
            events.extend(s.queue.drain(..));
            // Without a decoder nothing here can fail or wait.
            let Phase::StartItem(item) = s.phase else { return events };
            if s.start_item(item).is_err() {
                return events;
            }
        }
    }

    /// Retrieval, the cards' order and the "nothing fits" answer; the model's side when
    /// `engine` is given.
    fn build(
        engine: Option<Arc<Engine>>,
        shop: Arc<Shop>,
        request: &str,
        profile: Option<&Profile>,
        opts: &SuggestOptions,
    ) -> Result<Self, EngineError> {
        let plan = plan(&shop, request, profile, opts);
        let mut queue = VecDeque::new();
        let items: Vec<usize> = plan
            .candidates
            .iter()
            .filter_map(|id| shop.catalog.products.iter().position(|p| &p.id == id))
            .take(opts.max_items)
            .collect();
        let (dec, phase) = match engine {
            _ if items.is_empty() => {
                let constrained = !plan.constraints.is_empty();
                queue
                    .push_back(AssistEvent::Text { text: prompt::nothing_fits(plan.lang, &plan.closest, constrained) });
                (None, Phase::Done)
            }
            None => (None, Phase::StartItem(1)),
            Some(engine) => {
                let messages = prompt::suggest_messages(&shop.name, request, plan.lang);
                let fitted = engine.fit_chat(&messages, ITEM_BUDGET * items.len())?;
                (Some(Decoder::new(engine, fitted.prompt)?), Phase::StartItem(1))
            }
        };
        Ok(Suggestion {
            shop,
            dec,
            plan,
            items,
            sentences: Vec::new(),
            sentence_trie: TokenTrie::default(),
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
            prefill_tokens: d.prefilled(),
            reused_tokens: d.reused(),
            scored_tokens: d.tokens_run().saturating_sub(d.prefilled()),
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

    async fn step(&mut self) -> Result<(), EngineError> {
        match self.phase {
            Phase::StartItem(item) => self.start_item(item),
            Phase::Pick { item, node } => self.pick_step(item, node).await,
            Phase::Done => Ok(()),
        }
    }

    /// Item `item`'s card and title line at once; then its reason (chosen by the model, or
    /// the description's first sentence).
    fn start_item(&mut self, item: usize) -> Result<(), EngineError> {
        let Some(&product) = self.items.get(item - 1) else {
            self.phase = Phase::Done;
            return Ok(());
        };
        if self.dec.as_ref().is_some_and(|d| d.room() < ITEM_BUDGET) {
            self.phase = Phase::Done; // the session is full: end the list rather than fail
            return Ok(());
        }
        let lang = self.plan.lang.code();
        let p = &self.shop.catalog.products[product];
        let title = p.title_in(lang);
        let line = format!("{item}. {title}{TITLE_SEPARATOR}");
        let lead = if item == 1 { format!("{}\n", prompt::intro(self.plan.lang)) } else { "\n".to_string() };
        self.queue.push_back(AssistEvent::Text { text: lead.clone() });
        self.queue.push_back(AssistEvent::Product { id: p.id.clone() });
        self.queue.push_back(AssistEvent::Text { text: line.clone() });
        self.products.push(p.id.clone());
        let options: Vec<String> = sentences(p.description_in(lang)).into_iter().map(String::from).collect();
        let Some(dec) = self.dec.as_mut() else {
            // Without the model: the shop's own first sentence.
            self.queue.push_back(AssistEvent::Text { text: options.first().cloned().unwrap_or_default() });
            self.phase = Phase::StartItem(item + 1);
            return Ok(());
        };
        // The model's context gets the list as the shopper sees it, less what tells its next
        // choice little and costs a forward pass per token: the intro, a long title's tail
        // (Chinese titles run to 20 tokens), and each chosen sentence after its last choice
        // point.
        let tokenizer = &dec.engine().tokenizer;
        let mut tokens = tokenizer.encode(&format!("{}{item}. {title}", if item == 1 { "" } else { "\n" }), false)?;
        tokens.truncate(CONTEXT_TITLE_TOKENS);
        tokens.extend(tokenizer.encode(TITLE_SEPARATOR, false)?);
        dec.push(&tokens);
        let phrases = options
            .iter()
            .map(|o| dec.engine().tokenizer.encode(&format!("{o}\n"), false))
            .collect::<Result<Vec<_>, _>>()?;
        if phrases.len() > 1 {
            self.sentence_trie = TokenTrie::new(&phrases);
            self.sentences = options;
            self.phase = Phase::Pick { item, node: 0 };
        } else {
            // One sentence (or none): nothing to choose.
            let sentence = options.first().cloned().unwrap_or_default();
            self.queue.push_back(AssistEvent::Text { text: sentence });
            self.phase = Phase::StartItem(item + 1);
        }
        Ok(())
    }

    /// One step of choosing a sentence of the product's description.
    async fn pick_step(&mut self, item: usize, node: usize) -> Result<(), EngineError> {
        let dec = self.dec.as_mut().ok_or(EngineError::Finished)?;
        if dec.room() < 2 {
            self.phase = Phase::Done;
            return Ok(());
        }
        let Some(tok) = choose(dec, self.sentence_trie.allowed(node)).await? else {
            self.phase = Phase::Done;
            return Ok(());
        };
        dec.push(&[tok]);
        let Some(next) = self.sentence_trie.step(node, tok) else {
            self.phase = Phase::Done;
            return Ok(());
        };
        match self.sentence_trie.phrase_at(next).filter(|_| self.sentence_trie.is_leaf(next)) {
            Some(chosen) => {
                self.queue.push_back(AssistEvent::Text { text: self.sentences[chosen].clone() });
                // The sentence's tokens after its last choice point have not run: leave them out.
                let dec = self.dec.as_mut().ok_or(EngineError::Finished)?;
                dec.drop_unrun(0);
                self.phase = Phase::StartItem(item + 1);
            }
            None => self.phase = Phase::Pick { item, node: next },
        }
        Ok(())
    }
}

/// The model's choice among `allowed` tokens. A single allowed token is taken without asking
/// the model (it runs with the next choice, batched): a sentence costs one forward pass
/// where the trie branches, not one per token.
async fn choose(dec: &mut Decoder, allowed: impl Iterator<Item = u32>) -> Result<Option<u32>, EngineError> {
    let allowed: Vec<u32> = allowed.collect();
    if let [only] = allowed[..] {
        return Ok(Some(only));
    }
    let logits = dec.logits().await?;
    Ok(best_of(&logits, allowed.into_iter()))
}

/// Which job a shopper's message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Suggest,
    Answer,
}

/// Service question or shopping request? A policy passage must match well, and strictly better
/// than any product does (on a tie the shopper most likely named a product); or, with the
/// encoder, be closer in meaning than every product ([`meaning_passages`]).
pub fn route(shop: &Shop, text: &str) -> Route {
    let Some(policies) = shop.policies.as_ref() else { return Route::Suggest };
    let sharing = policies.top(text, usize::MAX, 0.0);
    if answers_by_words(shop, text, sharing.first()) || !meaning_passages(shop, &sharing, text, 1).is_empty() {
        Route::Answer
    } else {
        Route::Suggest
    }
}

/// Whether the best passage by words (`best`) covers the message and beats every product.
fn answers_by_words(shop: &Shop, text: &str, best: Option<&Hit>) -> bool {
    let Some(hit) = best.filter(|h| h.relevance >= ANSWER_MIN_RELEVANCE) else { return false };
    let product =
        shop.index.search(&shop.catalog, text, &Constraints::default(), None, 1).first().map_or(0.0, |c| c.relevance);
    hit.relevance > product
}

/// The policy passages (indices, best first, at most `k`) that answer `question`: those whose
/// words cover it by `min_relevance`, or else those meaning finds ([`meaning_passages`]).
/// Meaning's passages are not added to the words' (nor do they reorder them): the answer's
/// sentence is chosen by shared words across the passages, and "Was kostet bei euch der
/// Versand?" then took express shipping's "kostet 14,95 $" over standard shipping's.
pub fn policy_passages(shop: &Shop, question: &str, k: usize, min_relevance: f64) -> Vec<usize> {
    let Some(policies) = shop.policies.as_ref() else { return Vec::new() };
    // Every passage sharing a word, best first; those covering the question are its prefix.
    let sharing = policies.top(question, usize::MAX, 0.0);
    let covering: Vec<usize> =
        sharing.iter().filter(|h| h.relevance >= min_relevance).take(k).map(|h| h.index).collect();
    if covering.is_empty() { meaning_passages(shop, &sharing, question, k) } else { covering }
}

/// The passages the encoder finds for a service question ([`Meaning::service`]) among those
/// sharing at least one word with it (`sharing`): meaning alone also finds the contact passage
/// for "what is the weather tomorrow?", and a question that shares no word with any passage is
/// not embedded.
fn meaning_passages(shop: &Shop, sharing: &[Hit], question: &str, k: usize) -> Vec<usize> {
    let Some(m) = shop.meaning().filter(|_| !sharing.is_empty()) else { return Vec::new() };
    m.service(question).into_iter().filter(|&i| sharing.iter().any(|h| h.index == i)).take(k).collect()
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
    let s = super::lexicon::terms_with_english(sentence);
    super::lexicon::terms_with_english(question).iter().filter(|w| s.contains(w)).count()
}

/// What an answer chooses from: the best-matching passages, and their sentences that share
/// the most words with the question, each with its passage's id.
struct Grounds<'a> {
    lang: Lang,
    passages: Vec<&'a super::policy::Passage>,
    sentences: Vec<(String, String)>,
}

impl<'a> Grounds<'a> {
    /// `None` when no passage covers the question ("I don't know").
    fn find(shop: &'a Shop, question: &str, lang: Lang, min_relevance: f64) -> Option<Self> {
        let policies = shop.policies.as_ref()?;
        let hits = policy_passages(shop, question, ANSWER_PASSAGES, min_relevance);
        if hits.is_empty() {
            return None;
        }
        let passages: Vec<&super::policy::Passage> = hits.iter().map(|&i| &policies.passages[i]).collect();
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
        let sentences = scored.into_iter().map(|(_, s, id)| (s, id)).collect();
        Some(Grounds { lang, passages, sentences })
    }
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
        let Some(grounds) = Grounds::find(shop, question, lang, min_relevance) else {
            let head = VecDeque::from([AssistEvent::Text { text: prompt::dont_know(lang).into() }]);
            return Ok(Answer { head, body: None, sentence_passage: Vec::new(), passage: None });
        };
        let messages = prompt::answer_messages(&shop.name, question, &grounds.passages, grounds.lang);
        let (options, sentence_passage): (Vec<String>, Vec<String>) = grounds.sentences.into_iter().unzip();
        let body = Extractive::new(engine, &messages, options, 1)?;
        Ok(Answer { head: VecDeque::new(), body: Some(body), sentence_passage, passage: None })
    }

    /// The answer without the model, at once: the sentence sharing the most words with the
    /// question (the first of a tie), then its passage; or "I don't know".
    pub fn quick(shop: &Shop, question: &str, lang: Option<Lang>, min_relevance: f64) -> Vec<AssistEvent> {
        let lang = lang.unwrap_or_else(|| detect_lang(question));
        let best = Grounds::find(shop, question, lang, min_relevance).and_then(|g| g.sentences.into_iter().next());
        match best {
            Some((text, id)) => vec![AssistEvent::Text { text }, AssistEvent::Passage { id }],
            None => vec![AssistEvent::Text { text: prompt::dont_know(lang).into() }],
        }
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
