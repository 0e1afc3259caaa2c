//! Shopping intelligence: the shop's catalog and policies, retrieval, prompts, constrained
//! decoding, and the shopper's on-device profile.

#[cfg(feature = "model")]
pub mod answer;
#[cfg(feature = "model")]
pub mod assist;
pub mod catalog;
pub mod constrain;
#[cfg(feature = "model")]
pub mod dialogue;
#[cfg(feature = "feeds")]
pub mod feed;
pub mod lexicon;
#[cfg(feature = "model")]
pub mod meaning;
pub mod policy;
pub mod profile;
pub mod prompt;
pub mod query;
pub mod retrieve;
pub mod reviews;
#[cfg(feature = "model")]
pub mod route;
#[cfg(feature = "model")]
pub mod suggest;
pub mod text;

#[cfg(feature = "model")]
pub use answer::Answer;
#[cfg(feature = "model")]
pub use assist::{AssistEvent, Shop};
pub use catalog::{Catalog, CatalogError, Product};
pub use policy::{Policies, PolicyError};
pub use profile::{Event, Profile};
pub use query::Lang;
#[cfg(feature = "model")]
pub use suggest::{Plan, SuggestOptions, Suggestion};
