//! Aisle: a shopping assistant that runs a small Llama-family language model entirely on the
//! shopper's device.
//!
//! ```text
//! bytes -> gguf (header, metadata, tensor index; slices of the buffer)
//!       -> config (LlamaConfig from metadata)   -> tokenizer + chat template (from metadata)
//!       -> weights (uploaded once to the device) -> model (embed, N x block, norm, head)
//!       -> logits (on the device) -> sampler -> token id -> streaming detokenizer -> text
//! ```
//!
//! The same library runs natively (the `aisle` CLI, on wgpu/Vulkan or burn's CPU backend) and
//! in the browser (wasm on WebGPU). Module by concept: [`gguf`], [`quant`], [`tokenizer`],
//! [`chat`], [`model`], [`sampler`], [`generate`], [`engine`], [`device`].

pub mod chat;
#[cfg(feature = "model")]
pub mod device;
#[cfg(feature = "model")]
pub mod encoder;
#[cfg(feature = "model")]
pub mod engine;
#[cfg(feature = "model")]
pub mod generate;
pub mod gguf;
#[cfg(feature = "model")]
pub mod kernels;
pub mod model;
pub mod quant;
pub mod sampler;
pub mod shop;
pub mod tokenizer;
#[cfg(all(target_family = "wasm", feature = "model"))]
pub mod web;
#[cfg(all(target_family = "wasm", feature = "feeds", not(feature = "model")))]
pub mod web_feed;

pub use chat::Message;
#[cfg(feature = "model")]
pub use engine::{Engine, EngineError, LoadOptions};
#[cfg(feature = "model")]
pub use generate::{GenerateOptions, Generation, Step};
pub use sampler::SamplerConfig;
