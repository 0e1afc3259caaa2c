//! The shop's service policies (shipping, returns, sizes, payment...) as passages to answer
//! from. Schema: `{"passages": [{"id", "topic", "title", "text", "i18n": {"de": {"title",
//! "text"}, ...}}]}`; `id` and `text` required.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::retrieve::Bm25;

const MAX_PASSAGES: usize = 10_000;
const MAX_TEXT: usize = 4_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("policies are not valid JSON: {0}")]
    Json(String),
    #[error("policies have {0} passages (at most {MAX_PASSAGES})")]
    TooMany(usize),
    #[error("passage #{index}: {problem}")]
    Passage { index: usize, problem: String },
    #[error("passage id {0:?} appears twice")]
    DuplicateId(String),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LocalizedPassage {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Passage {
    pub id: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub i18n: BTreeMap<String, LocalizedPassage>,
}

impl Passage {
    pub fn title_in(&self, lang: &str) -> &str {
        self.i18n.get(lang).and_then(|l| l.title.as_deref()).unwrap_or(&self.title)
    }

    pub fn text_in(&self, lang: &str) -> &str {
        self.i18n.get(lang).and_then(|l| l.text.as_deref()).unwrap_or(&self.text)
    }
}

#[derive(Deserialize)]
struct PoliciesFile {
    #[serde(default)]
    shop: Option<String>,
    passages: Vec<serde_json::Value>,
}

pub struct Policies {
    pub shop: Option<String>,
    pub passages: Vec<Passage>,
    index: Bm25,
}

/// A passage that answers a question, and how well.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub index: usize,
    /// Coverage of the question's words by the passage (0..1).
    pub relevance: f64,
}

impl Policies {
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let file: PoliciesFile = serde_json::from_str(json).map_err(|e| PolicyError::Json(e.to_string()))?;
        if file.passages.len() > MAX_PASSAGES {
            return Err(PolicyError::TooMany(file.passages.len()));
        }
        let mut passages = Vec::with_capacity(file.passages.len());
        let mut ids = HashSet::new();
        for (index, raw) in file.passages.into_iter().enumerate() {
            let p: Passage =
                serde_json::from_value(raw).map_err(|e| PolicyError::Passage { index, problem: e.to_string() })?;
            if p.id.trim().is_empty() || p.text.trim().is_empty() {
                return Err(PolicyError::Passage { index, problem: "id and text must not be empty".into() });
            }
            let too_long =
                p.text.len() > MAX_TEXT || p.i18n.values().any(|l| l.text.as_ref().is_some_and(|t| t.len() > MAX_TEXT));
            if too_long {
                return Err(PolicyError::Passage { index, problem: format!("text longer than {MAX_TEXT} bytes") });
            }
            if !ids.insert(p.id.clone()) {
                return Err(PolicyError::DuplicateId(p.id));
            }
            passages.push(p);
        }
        let docs: Vec<Vec<(String, f32)>> = passages
            .iter()
            .map(|p| {
                let mut f = vec![(p.title.clone(), 2.0), (p.topic.clone(), 2.0), (p.text.clone(), 1.0)];
                for l in p.i18n.values() {
                    f.extend(l.title.clone().map(|t| (t, 2.0)));
                    f.extend(l.text.clone().map(|t| (t, 1.0)));
                }
                f
            })
            .collect();
        Ok(Policies { shop: file.shop, index: Bm25::new(&docs, 0.3, 0.5, true), passages })
    }

    /// The `k` best passages for `question` with at least `min_relevance` coverage, best first.
    pub fn top(&self, question: &str, k: usize, min_relevance: f64) -> Vec<Hit> {
        let scores = self.index.scores(question);
        let mut hits: Vec<Hit> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 > 0.0 && s.1 >= min_relevance)
            .map(|(index, s)| Hit { index, relevance: s.1 })
            .collect();
        hits.sort_by(|a, b| {
            let (sa, sb) = (scores[a.index], scores[b.index]);
            (sb.0 * sb.1).total_cmp(&(sa.0 * sa.1)).then(a.index.cmp(&b.index))
        });
        self.overview_first(&mut hits);
        hits.truncate(k);
        hits
    }

    /// A question that covers a later passage of a topic no better than its first ("你们的退货
    /// 政策是怎样的？" shares only 退货 with both "30-day returns" and "who pays for return
    /// shipping") is asked of the topic: the shop lists its overview first.
    fn overview_first(&self, hits: &mut [Hit]) {
        let Some(best) = hits.first().copied() else { return };
        let topic = &self.passages[best.index].topic;
        let earlier = hits
            .iter()
            .position(|h| {
                h.index < best.index && h.relevance >= best.relevance && &self.passages[h.index].topic == topic
            })
            .filter(|_| !topic.is_empty());
        if let Some(i) = earlier {
            hits[..=i].rotate_right(1);
        }
    }

    /// The best passage for `question`, if any shares a term with it.
    pub fn best(&self, question: &str) -> Option<Hit> {
        self.top(question, 1, 0.0).into_iter().next()
    }

    pub fn get(&self, id: &str) -> Option<&Passage> {
        self.passages.iter().find(|p| p.id == id)
    }
}
