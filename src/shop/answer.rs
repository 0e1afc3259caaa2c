//! Service answers, and every other text the model *selects* rather than writes
//! ([`Extractive`]): the sentence of the shop's policies that answers a question, and the
//! merchant's review summary.

use std::collections::VecDeque;
use std::sync::Arc;

use super::assist::{AssistEvent, Shop, choose};
use super::constrain::TokenTrie;
use super::prompt;
use super::query::{Lang, detect_lang};
use super::route::policy_passages;
use super::text::sentences;
use crate::engine::{Engine, EngineError};
use crate::generate::Decoder;

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
/// chosen by the model among the sentences of the best-matching passages, the rest of its
/// passage after it ([`ANSWER_SPAN`]), then the passage's id (the widget quotes it); or "I
/// don't know, please contact the shop" when no passage covers the question.
pub struct Answer {
    head: VecDeque<AssistEvent>,
    body: Option<Extractive>,
    /// Passage ids of each candidate sentence.
    sentence_passage: Vec<String>,
    /// The other sentences of each candidate sentence's passage, as said after it.
    sentence_rest: Vec<Option<String>>,
    /// The passage answered from, once chosen.
    pub passage: Option<String>,
}

/// Passages whose sentences an answer may choose from, and how many of their sentences.
const ANSWER_PASSAGES: usize = 3;
const ANSWER_SENTENCES: usize = 3;

/// Sentences of its passage an answer gives, the one chosen first: a policy's sentences lean on
/// each other ("To start a return, open Orders … or email support@…" and "Within one business
/// day we send a prepaid label"), and one alone answers "how do I return this?" by halves.
const ANSWER_SPAN: usize = 3;

/// The other sentences of `passage` (in `lang`) than `chosen`, in order, up to
/// [`ANSWER_SPAN`] with it, nearest first; `None` when it has no other.
fn rest_of(passage: &super::policy::Passage, chosen: &str, lang: Lang) -> Option<String> {
    let all = sentences(passage.text_in(lang.code()));
    let at = all.iter().position(|s| *s == chosen)?;
    let mut near: Vec<usize> = (0..all.len()).filter(|&i| i != at).collect();
    near.sort_by_key(|&i| i.abs_diff(at));
    near.truncate(ANSWER_SPAN - 1);
    near.sort_unstable();
    let rest: Vec<&str> = near.into_iter().map(|i| all[i]).collect();
    (!rest.is_empty()).then(|| rest.join(" "))
}

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
    /// (sentence, its passage's id, the rest of that passage: [`rest_of`])
    sentences: Vec<(String, String, Option<String>)>,
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
        let mut scored: Vec<(usize, String, &super::policy::Passage)> = Vec::new();
        for p in &passages {
            for s in sentences(p.text_in(lang.code())) {
                scored.push((word_overlap(question, s), s.to_string(), p));
            }
        }
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        let best = scored.first().map_or(0, |s| s.0);
        if best > 0 {
            scored.retain(|s| s.0 == best);
            // A tie across passages goes to the better passage (`passages` is best first):
            // "你们的退货政策是怎样的？" shares 退货 with every returns sentence, and the
            // overview answers it; the model chooses among that passage's sentences.
            let first = scored[0].2.id.clone();
            scored.retain(|s| s.2.id == first);
        }
        scored.truncate(ANSWER_SENTENCES);
        let sentences = scored
            .into_iter()
            .map(|(_, s, p)| {
                let rest = rest_of(p, &s, lang);
                (s, p.id.clone(), rest)
            })
            .collect();
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
            return Ok(Answer {
                head,
                body: None,
                sentence_passage: Vec::new(),
                sentence_rest: Vec::new(),
                passage: None,
            });
        };
        let messages = prompt::answer_messages(&shop.name, question, &grounds.passages, grounds.lang);
        let mut options = Vec::new();
        let mut sentence_passage = Vec::new();
        let mut sentence_rest = Vec::new();
        for (s, id, rest) in grounds.sentences {
            options.push(s);
            sentence_passage.push(id);
            sentence_rest.push(rest);
        }
        let body = Extractive::new(engine, &messages, options, 1)?;
        Ok(Answer { head: VecDeque::new(), body: Some(body), sentence_passage, sentence_rest, passage: None })
    }

    /// The answer without the model, at once: the sentence sharing the most words with the
    /// question (the first of a tie), the rest of its passage, then the passage; or "I don't
    /// know".
    pub fn quick(shop: &Shop, question: &str, lang: Option<Lang>, min_relevance: f64) -> Vec<AssistEvent> {
        let lang = lang.unwrap_or_else(|| detect_lang(question));
        let best = Grounds::find(shop, question, lang, min_relevance).and_then(|g| g.sentences.into_iter().next());
        match best {
            Some((text, id, rest)) => {
                let mut out = vec![AssistEvent::Text { text }];
                out.extend(rest.map(|r| AssistEvent::Text { text: format!(" {r}") }));
                out.push(AssistEvent::Passage { id });
                out
            }
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
            if let Some(rest) = self.sentence_rest[i].take() {
                self.head.push_back(AssistEvent::Text { text: format!(" {rest}") });
            }
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
