//! Which job a shopper's message is for: a service question (answered from the policies) or a
//! shopping request (suggestions), and the policy passages that answer a question.

use serde::Serialize;

use super::assist::Shop;
use super::policy::Hit;
use super::query::Constraints;

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
