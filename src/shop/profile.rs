//! The shopper's profile: built in the browser from on-page events (products viewed, searches,
//! cart adds) and kept there; it reaches the model only as a ranking hint for this request.
//!
//! The page stores the raw events under its own storage namespace (see `www/profile.js`); this
//! module turns them into per-category interest weights.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, Product};

/// One on-page event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    View { id: String },
    Cart { id: String },
    Search { text: String },
}

/// Limits on what a profile may hold (it comes from the page, which we do not trust).
const MAX_EVENTS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Interest per catalog category, normalised so the strongest is 1.
    pub categories: BTreeMap<String, f64>,
    /// Products the shopper looked at or added (most recent last).
    pub seen: Vec<String>,
}

impl Profile {
    /// Weights: a view counts 1, a cart add 3; searches count 1 for each category of the
    /// products they would find (resolved by the caller through `search_categories`).
    pub fn from_events(events: &[Event], catalog: &Catalog, search_categories: impl Fn(&str) -> Vec<String>) -> Self {
        let mut w: BTreeMap<String, f64> = BTreeMap::new();
        let mut seen = Vec::new();
        for e in events.iter().rev().take(MAX_EVENTS) {
            match e {
                Event::View { id } | Event::Cart { id } => {
                    let weight = if matches!(e, Event::Cart { .. }) { 3.0 } else { 1.0 };
                    if let Some(p) = catalog.get(id) {
                        for c in &p.categories {
                            *w.entry(c.clone()).or_default() += weight;
                        }
                        if !seen.contains(id) {
                            seen.push(id.clone());
                        }
                    }
                }
                Event::Search { text } => {
                    for c in search_categories(text) {
                        *w.entry(c).or_default() += 1.0;
                    }
                }
            }
        }
        let max = w.values().cloned().fold(0.0, f64::max);
        if max > 0.0 {
            w.values_mut().for_each(|v| *v /= max);
        }
        seen.reverse();
        Profile { categories: w, seen }
    }

    /// How much the shopper cares about `p`'s categories, 0..1.
    pub fn affinity(&self, p: &Product) -> f64 {
        p.categories.iter().filter_map(|c| self.categories.get(c)).cloned().fold(0.0, f64::max)
    }

    /// The categories the shopper showed most interest in, strongest first.
    pub fn top_categories(&self, n: usize) -> Vec<String> {
        let mut v: Vec<(&String, &f64)> = self.categories.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter().take(n).map(|(c, _)| c.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }
}
