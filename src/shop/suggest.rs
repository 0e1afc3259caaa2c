//! Grounded suggestions: retrieval chooses and orders the products, and the model chooses each
//! one's reason among its own description sentences.
//!
//! A suggestion reads: `{intro}\n1. {title} — {reason}\n2. ...`. Retrieval chooses and orders
//! the products (`make eval` measured the model's own choice of titles among the candidates:
//! it did not rank better, and it cost a prompt full of descriptions); each card is out before
//! the model runs. The model then *chooses* each reason among the product's own description
//! sentences through a token trie, so everything said about a product is the shop's text.
//! When nothing fits, the answer says so in our words and names the closest categories.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use super::assist::{AssistEvent, Shop, choose};
use super::constrain::TokenTrie;
use super::meaning;
use super::profile::Profile;
use super::prompt::{self, TITLE_SEPARATOR};
use super::query::{Constraints, Lang, detect_lang, parse_constraints};
use super::retrieve::Candidate;
use super::text::sentences;
use crate::engine::{Engine, EngineError};
use crate::generate::Decoder;

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
    /// Whether the products closest in meaning may join those words found, for a request that
    /// tells a need rather than names a product. A conversation's refinement of products shown
    /// keeps to what words find.
    pub by_meaning: bool,
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
            by_meaning: true,
        }
    }
}

/// Tokens of an item's number and title the model sees before choosing its sentence.
const CONTEXT_TITLE_TOKENS: usize = 12;

/// Positions one listed item may take (numbering, title, a sentence, newline), reserved before
/// starting one.
const ITEM_BUDGET: usize = 160;

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
    let rescues = opts.by_meaning && meaning::rescues(request);
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
