//! The model's hyper-parameters, read from GGUF metadata.

use crate::gguf::{Gguf, GgufError};

/// How RoPE pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeKind {
    /// llama.cpp's "normal" mode: adjacent pairs (2i, 2i+1). Arch `llama` GGUFs store q/k rows
    /// permuted for exactly this.
    Adjacent,
    /// "NeoX" mode: pairs (i, i + d/2). Qwen2 uses it.
    HalfSplit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub architecture: String,
    pub n_layers: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    /// Dimensions of each head that RoPE rotates (all of them for SmolLM2).
    pub rope_dims: usize,
    pub rope_base: f32,
    pub rope_kind: RopeKind,
    pub rms_eps: f32,
    pub context_length: usize,
    pub vocab_size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("unsupported architecture {0:?} (supported: llama, qwen2)")]
    UnsupportedArchitecture(String),
    #[error("inconsistent model metadata: {0}")]
    Inconsistent(String),
}

/// Upper bounds that no model we can run in a browser exceeds; they keep a hostile file from
/// asking for absurd buffers before any weight is read.
const MAX_LAYERS: usize = 512;
const MAX_EMBD: usize = 65_536;
const MAX_CONTEXT: usize = 1 << 20;

impl LlamaConfig {
    pub fn from_gguf(g: &Gguf) -> Result<Self, ConfigError> {
        let arch = g.architecture()?.to_string();
        let rope_kind = match arch.as_str() {
            "llama" => RopeKind::Adjacent,
            "qwen2" => RopeKind::HalfSplit,
            _ => return Err(ConfigError::UnsupportedArchitecture(arch)),
        };
        let key = |k: &str| format!("{arch}.{k}");
        let int = |k: &str| -> Result<usize, ConfigError> { Ok(g.get_u64(&key(k))? as usize) };
        let n_embd = int("embedding_length")?;
        let n_heads = int("attention.head_count")?;
        let n_kv_heads = match g.get(&key("attention.head_count_kv")) {
            Some(_) => int("attention.head_count_kv")?,
            None => n_heads,
        };
        let vocab_size = match g.get(&key("vocab_size")) {
            Some(_) => int("vocab_size")?,
            None => g.get_array("tokenizer.ggml.tokens")?.len(),
        };
        let head_dim = n_embd.checked_div(n_heads).unwrap_or(0);
        let rope_dims = match g.get(&key("rope.dimension_count")) {
            Some(_) => int("rope.dimension_count")?,
            None => head_dim,
        };
        let rope_base = match g.get(&key("rope.freq_base")) {
            Some(_) => g.get_f64(&key("rope.freq_base"))? as f32,
            None => 10_000.0,
        };
        let cfg = LlamaConfig {
            n_layers: int("block_count")?,
            n_embd,
            n_ff: int("feed_forward_length")?,
            n_heads,
            n_kv_heads,
            head_dim,
            rope_dims,
            rope_base,
            rope_kind,
            rms_eps: g.get_f64(&key("attention.layer_norm_rms_epsilon"))? as f32,
            context_length: int("context_length")?,
            vocab_size,
            architecture: arch,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: String| Err(ConfigError::Inconsistent(s));
        if self.n_layers == 0 || self.n_layers > MAX_LAYERS {
            return bad(format!("block_count {} (expected 1..={MAX_LAYERS})", self.n_layers));
        }
        if self.n_embd == 0 || self.n_embd > MAX_EMBD || self.n_ff == 0 || self.n_ff > 8 * MAX_EMBD {
            return bad(format!("embedding_length {} / feed_forward_length {}", self.n_embd, self.n_ff));
        }
        if self.n_heads == 0 || !self.n_embd.is_multiple_of(self.n_heads) {
            return bad(format!("{} heads do not divide embedding_length {}", self.n_heads, self.n_embd));
        }
        if self.n_kv_heads == 0 || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return bad(format!("{} KV heads do not divide {} heads", self.n_kv_heads, self.n_heads));
        }
        if self.rope_dims == 0 || self.rope_dims > self.head_dim || !self.rope_dims.is_multiple_of(2) {
            return bad(format!("rope.dimension_count {} for head_dim {}", self.rope_dims, self.head_dim));
        }
        if !(self.rms_eps > 0.0 && self.rms_eps < 1.0 && self.rope_base > 1.0 && self.rope_base.is_finite()) {
            return bad(format!("rms eps {} / rope base {}", self.rms_eps, self.rope_base));
        }
        if self.context_length == 0 || self.context_length > MAX_CONTEXT {
            return bad(format!("context_length {}", self.context_length));
        }
        if self.vocab_size == 0 {
            return bad("empty vocabulary".into());
        }
        Ok(())
    }

    /// Query heads that share one KV head (GQA group size).
    pub fn gqa_group(&self) -> usize {
        self.n_heads / self.n_kv_heads
    }

    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}
