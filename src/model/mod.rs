//! The Llama-family model (SmolLM2, Llama 3.x, Qwen2): its config, tensors, KV cache and the
//! forward paths (`cpu.rs`, `gpu.rs`, and the burn-ops `reference.rs` they are tested against).

pub mod config;
pub mod cpu;
pub mod gpu;
pub mod kv_cache;
pub mod llama;
#[cfg(feature = "reference")]
pub mod reference;
pub mod rope;
pub mod weights;

pub use config::{LlamaConfig, RopeKind};
pub use kv_cache::KvCache;
pub use llama::{ForwardPath, Llama};

use crate::gguf::GgufError;
use crate::quant::QuantError;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("tensor {tensor:?}: {source}")]
    Quant { tensor: String, source: QuantError },
    #[error("tensor {tensor:?} has shape {found:?}, expected {expected:?}")]
    Shape { tensor: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("no tokens to run")]
    EmptyInput,
    #[error("token id {0} is outside the vocabulary")]
    BadToken(u32),
    #[error("context full: {needed} positions needed, the session holds {capacity}")]
    ContextFull { needed: usize, capacity: usize },
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("reading results from the device failed: {0}")]
    Readback(String),
}
