//! The Llama-family model (SmolLM2, Llama 3.x, Qwen2): its config, tensors, KV cache and the
//! forward pass, written once (`forward.rs`) over the two product paths' operations (`cpu/`,
//! `gpu.rs`), and the burn-ops `reference.rs` they are tested against.
//!
//! Without the `model` feature (no burn) only the parts that need no device remain: the
//! config, the tensor reading and the CPU path with its kernels, so that those kernels can be
//! built and tested for any target (the SIMD128 ones under Node's WASI: `tests/cpu_kernels.rs`).

pub mod config;
pub mod cpu;
pub mod forward;
#[cfg(feature = "model")]
pub mod gpu;
#[cfg(feature = "model")]
pub mod kv_cache;
#[cfg(feature = "model")]
pub mod llama;
#[cfg(feature = "reference")]
pub mod reference;
pub mod rope;
pub mod weights;

pub use config::{LlamaConfig, RopeKind};
#[cfg(feature = "model")]
pub use kv_cache::KvCache;
#[cfg(feature = "model")]
pub use llama::{ForwardPath, Llama, Logits};

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
    #[error("the KV cache was made for another forward path (use this model's new_cache)")]
    WrongCache,
    #[error("every logit is NaN: the model or the device computed nothing usable")]
    NotANumber,
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("reading results from the device failed: {0}")]
    Readback(String),
}
