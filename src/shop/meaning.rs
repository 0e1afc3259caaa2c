//! What the sentence encoder adds to retrieval: every product as a vector of its title,
//! categories and first sentences, the request as a vector, and their cosine (see [`crate::encoder`]).
//!
//! A request is one of two things, and [`rescues`] tells them apart by its shape
//! ([`super::query::names_product`]):
//! - it *names* a product ("a blender", "a robot vacuum", "Habt ihr Fahrradhelme?"): words
//!   decide whether the shop has it, and the encoder only reorders what words found
//!   (reciprocal-rank fusion of the two orders), so a shop without robot vacuums says so;
//! - it describes a need, or a gift for someone with a hobby ("my phone always dies when I'm
//!   travelling", "送给喜欢下棋的爷爷的礼物"): the products closest in meaning join what words
//!   found (often nothing), and the fused order answers.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::catalog::{Catalog, Product};
use super::policy::{Passage, Policies};
use super::query::Constraints;
use super::retrieve::{Candidate, satisfies};
use super::text::sentences;
use crate::encoder::{Encoder, Side};

/// The encoder and the vectors of the catalog's products and the shop's policy passages.
pub struct Meaning {
    pub encoder: Arc<Encoder>,
    /// `[products + passages, dim]`, each row the mean of its texts' unit vectors
    /// ([`embed_row`]): the products in catalog order, then the
    /// policy passages in file order.
    vectors: Vec<f32>,
    products: usize,
    /// The last request and its vector: a conversation's turn plans the same text more than
    /// once.
    last: Mutex<Option<(String, Vec<f32>)>>,
}

/// The texts a product is embedded from, whose vectors it averages: its name (title and
/// categories), which says what it is, and the name with the description's leading sentences
/// up to [`PASSAGE_DESCRIPTION_CHARS`], which say what it is for ("keeps drinks cold all
/// day"), as a need is told. On `make eval` the sentences lifted hit@3 on the held-out sets by
/// 4–9 points but cost a few needs the name alone placed ("Abends auf dem Sofa friere ich"
/// went from the blankets to a cookware set); the average keeps both (whole descriptions
/// added nothing more at five times the work).
fn product_texts(p: &Product) -> [String; 2] {
    let name =
        if p.categories.is_empty() { p.title.clone() } else { format!("{}. {}", p.title, p.categories.join(", ")) };
    let mut text = name.clone();
    let mut taken = 0;
    for (k, s) in sentences(&p.description).into_iter().enumerate() {
        taken += s.chars().count();
        if k > 0 && taken > PASSAGE_DESCRIPTION_CHARS {
            break;
        }
        text.push_str(if k == 0 { ". " } else { " " });
        text.push_str(s);
    }
    [name, text]
}

/// How much of a description a product's passage takes (whole sentences; the first always).
const PASSAGE_DESCRIPTION_CHARS: usize = 200;

/// The text a policy passage is embedded from: its title and its (English) text; the encoder
/// is multilingual, so a German or Chinese question finds it as well.
pub fn policy_passage(p: &Passage) -> String {
    format!("{}. {}", p.title, p.text)
}

/// Every row embedded for a shop, as the texts whose vectors it averages: its products, then
/// its policy passages.
fn texts(catalog: &Catalog, policies: Option<&Policies>) -> Vec<Vec<String>> {
    let products = catalog.products.iter().map(|p| product_texts(p).to_vec());
    let policies = policies.into_iter().flat_map(|p| p.passages.iter().map(|q| vec![policy_passage(q)]));
    products.chain(policies).collect()
}

/// The mean of the texts' unit vectors (`[dim]`): its dot product with a request's vector is
/// the mean of their cosines.
fn embed_row(encoder: &Encoder, texts: &[String]) -> Vec<f32> {
    let mut row = vec![0f32; encoder.dim()];
    for t in texts {
        for (r, v) in row.iter_mut().zip(encoder.embed(t, Side::Passage)) {
            *r += v / texts.len() as f32;
        }
    }
    row
}

impl Meaning {
    /// Embeds every product and policy passage (natively ~25 ms a product, split across
    /// threads).
    pub fn build(encoder: Arc<Encoder>, catalog: &Catalog, policies: Option<&Policies>) -> Self {
        let mut embedding = Meaning::start(encoder, catalog, policies);
        #[cfg(not(target_family = "wasm"))]
        {
            use rayon::prelude::*;
            let rows: Vec<Vec<f32>> = embedding.rows.par_iter().map(|t| embed_row(&embedding.encoder, t)).collect();
            embedding.done = rows.concat();
        }
        embedding.step(usize::MAX);
        embedding.finish().expect("every text was embedded")
    }

    /// Starts embedding the shop a few rows at a time ([`Embedding::step`]), so that a
    /// single-threaded caller (the browser's worker) can answer between steps.
    pub fn start(encoder: Arc<Encoder>, catalog: &Catalog, policies: Option<&Policies>) -> Embedding {
        Embedding { rows: texts(catalog, policies), products: catalog.products.len(), done: Vec::new(), encoder }
    }

    /// Takes vectors computed before (by [`Meaning::vectors`]); `None` if they do not fit the
    /// shop and encoder.
    pub fn with_vectors(
        encoder: Arc<Encoder>,
        catalog: &Catalog,
        policies: Option<&Policies>,
        vectors: Vec<f32>,
    ) -> Option<Self> {
        let rows = catalog.products.len() + policies.map_or(0, |p| p.passages.len());
        (vectors.len() == rows * encoder.dim()).then(|| Meaning::new(encoder, vectors, catalog.products.len()))
    }

    fn new(encoder: Arc<Encoder>, vectors: Vec<f32>, products: usize) -> Self {
        Meaning { encoder, vectors, products, last: Mutex::new(None) }
    }

    pub fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    /// A key for stored vectors: the encoder file's digest and every text embedded.
    pub fn key(encoder_digest: &[u8], catalog: &Catalog, policies: Option<&Policies>) -> String {
        let mut h = Sha256::new();
        h.update(encoder_digest);
        for row in texts(catalog, policies) {
            for t in row {
                h.update(t.as_bytes());
                h.update([0]);
            }
            h.update([1]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Cosine of the request with every product (`[products]`).
    pub fn similarities(&self, request: &str) -> Vec<f32> {
        let dim = self.encoder.dim();
        self.cosines(request, &self.vectors[..self.products * dim])
    }

    /// The policy passages that answer `question` by meaning, best first: none unless some
    /// passage is closer to it than every product is by [`SERVICE_MARGIN`] (a question about
    /// the shop, not a product request), then those within [`SERVICE_SPREAD`] of the best.
    /// Over the demo's policies every service question in en/de/zh clears the margin by
    /// 0.02–0.12, and every product request falls short of it.
    pub fn service(&self, question: &str) -> Vec<usize> {
        let dim = self.encoder.dim();
        let sims = self.cosines(question, &self.vectors[self.products * dim..]);
        let product = self.similarities(question).into_iter().fold(f32::MIN, f32::max);
        let mut idx: Vec<usize> = (0..sims.len()).collect();
        idx.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
        let Some(&best) = idx.first().map(|&i| &sims[i]) else { return Vec::new() };
        if best < product + SERVICE_MARGIN {
            return Vec::new();
        }
        idx.retain(|&i| sims[i] >= best - SERVICE_SPREAD);
        idx
    }

    /// Cosines of the request with each row of `rows` (`[n, dim]` → `[n]`).
    fn cosines(&self, request: &str, rows: &[f32]) -> Vec<f32> {
        let q = self.query(request);
        rows.chunks_exact(q.len()).map(|row| row.iter().zip(&q).map(|(a, b)| a * b).sum()).collect()
    }

    /// The request's vector (the last one is kept).
    fn query(&self, request: &str) -> Vec<f32> {
        // A poisoned lock only loses the memo.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((text, v)) = last.as_ref()
            && text == request
        {
            return v.clone();
        }
        let v = self.encoder.embed(&super::query::without_recipient(request), Side::Query);
        *last = Some((request.to_string(), v.clone()));
        v
    }
}

/// A shop being embedded, a few rows (products or policy passages) a step.
pub struct Embedding {
    encoder: Arc<Encoder>,
    /// Per row, the texts whose vectors it averages ([`texts`]).
    rows: Vec<Vec<String>>,
    products: usize,
    /// `[embedded, dim]`
    done: Vec<f32>,
}

impl Embedding {
    /// Embeds up to `n` more rows; the rows left afterwards.
    pub fn step(&mut self, n: usize) -> usize {
        let dim = self.encoder.dim();
        let from = self.done.len() / dim;
        for p in self.rows.iter().skip(from).take(n) {
            self.done.extend(embed_row(&self.encoder, p));
        }
        self.rows.len() - self.done.len() / dim
    }

    /// The finished vectors (`None` while texts are left).
    pub fn finish(self) -> Option<Meaning> {
        (self.done.len() == self.rows.len() * self.encoder.dim())
            .then(|| Meaning::new(self.encoder, self.done, self.products))
    }
}

/// Reorders word matches by reciprocal-rank fusion of the words' order and meaning's order
/// (`1/(K + rank)` summed; ties keep the words' order).
pub fn fuse(hits: &mut [Candidate], sims: &[f32]) {
    const K: f64 = 10.0;
    let mut by_meaning: Vec<usize> = (0..hits.len()).collect();
    by_meaning.sort_by(|&a, &b| sims[hits[b].index].total_cmp(&sims[hits[a].index]));
    let mut fused: Vec<(f64, usize)> = (0..hits.len()).map(|i| (1.0 / (K + i as f64), i)).collect();
    for (rank, &i) in by_meaning.iter().enumerate() {
        fused[i].0 += 1.0 / (K + rank as f64);
    }
    // A product with every word of the request stays ahead of those with only some of them:
    // meaning reorders within each ("藤编的椅子": the rattan chair before velvet ones).
    let complete = |i: usize| hits[i].relevance >= COMPLETE;
    fused.sort_by(|a, b| complete(b.1).cmp(&complete(a.1)).then(b.0.total_cmp(&a.0)).then(a.1.cmp(&b.1)));
    let order: Vec<Candidate> = fused.iter().map(|&(_, i)| hits[i].clone()).collect();
    hits.clone_from_slice(&order);
}

/// The coverage of a product that has every word of a request (up to rounding).
const COMPLETE: f64 = 0.999;

/// Whether meaning may add products words did not find: not when the request names a product
/// (whether the shop has it is then a matter of words), but when it describes a need.
pub fn rescues(request: &str) -> bool {
    !super::query::names_product(request)
}

/// The cosine a product needs to be suggested by meaning alone, and how far below the best
/// one the others may be.
const RESCUE_FLOOR: f32 = 0.76;
const RESCUE_SPREAD: f32 = 0.03;

/// How much closer than any product a policy passage must be for meaning to call a message a
/// service question, and how far below the best passage the others it offers may be.
const SERVICE_MARGIN: f32 = 0.02;
const SERVICE_SPREAD: f32 = 0.03;

/// The products closest in meaning that meet the constraints, one of each variant group.
pub fn nearest(
    catalog: &Catalog,
    sims: &[f32],
    c: &Constraints,
    skipped: &dyn Fn(usize) -> bool,
    k: usize,
) -> Vec<Candidate> {
    let mut idx: Vec<usize> = (0..sims.len()).filter(|&i| !skipped(i) && satisfies(&catalog.products[i], c)).collect();
    idx.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
    let Some(&best) = idx.first().map(|&i| &sims[i]) else { return Vec::new() };
    if best < RESCUE_FLOOR {
        return Vec::new();
    }
    let mut groups = std::collections::HashSet::new();
    idx.into_iter()
        .filter(|&i| sims[i] >= best - RESCUE_SPREAD)
        .filter(|&i| catalog.products[i].group.as_ref().is_none_or(|g| groups.insert(g.clone())))
        .take(k)
        .map(|index| Candidate { index, score: sims[index] as f64, relevance: sims[index] as f64 })
        .collect()
}
