//! The assistant's jobs as token streams the caller pulls, on one [`Shop`]: grounded
//! suggestions from the catalog ([`super::suggest`]), service answers from the policies
//! ([`super::answer`]), and which of the two a message is for ([`super::route`]). Here: the
//! shop they share, the events they stream, and the one step where the model chooses.
//!
//! The model never writes about a product or a policy: it *chooses* among the shop's own
//! sentences through a token trie ([`super::constrain`]), so everything said is the shop's text.

use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::catalog::Catalog;
use super::constrain::best_of;
use super::meaning::Meaning;
use super::policy::Policies;
use super::query::Constraints;
use super::retrieve::ProductIndex;
use crate::encoder::Encoder;
use crate::engine::EngineError;
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

/// The model's choice among `allowed` tokens. A single allowed token is taken without asking
/// the model (it runs with the next choice, batched): a sentence costs one forward pass
/// where the trie branches, not one per token.
pub(super) async fn choose(dec: &mut Decoder, allowed: impl Iterator<Item = u32>) -> Result<Option<u32>, EngineError> {
    let allowed: Vec<u32> = allowed.collect();
    if let [only] = allowed[..] {
        return Ok(Some(only));
    }
    let logits = dec.logits().await?;
    Ok(best_of(&logits, allowed.into_iter()))
}
