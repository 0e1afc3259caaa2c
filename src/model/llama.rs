//! The Llama-family forward pass: embed -> N × [RMSNorm, attention, RMSNorm, SwiGLU] -> norm -> head.

use burn::tensor::activation::silu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::ModelError;
use super::attention::{Rope, attention};
use super::config::LlamaConfig;
use super::cpu;
use super::gpu::{self, GpuWeights};
use super::kv_cache::KvCache;
use super::weights::{self, LayerWeights, Weights};
use crate::gguf::Gguf;

/// Which implementation of the forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardPath {
    /// Our own kernels on quantized weights (wgpu devices, supported weight formats).
    Kernels,
    /// Our own CPU loops on quantized weights (the CPU device, supported weight formats).
    CpuKernels,
    /// burn tensor operations on f32 weights: any device, any format; the reference.
    BurnOps,
}

/// The burn-ops path's state: f32 weights and RoPE tables.
struct BurnOps {
    weights: Weights,
    rope: Rope,
}

enum Imp {
    BurnOps(Box<BurnOps>),
    Kernels(Box<GpuWeights>),
    CpuKernels(Box<cpu::CpuWeights>),
}

pub struct Llama {
    pub config: LlamaConfig,
    imp: Imp,
    device: Device,
    /// Longest session this instance was prepared for (RoPE table and KV cache size).
    max_context: usize,
}

/// Whether `device` is one our kernels run on (burn's cubecl backend: wgpu).
fn runs_kernels(device: &Device) -> bool {
    matches!(device.as_dispatch(), burn::backend::DispatchDevice::Cube(_))
}

impl Llama {
    /// Loads the weights of `gguf` (parsed from `bytes`) onto `device`, for sessions of at most
    /// `max_context` tokens (capped at the model's own context length). The kernel path is
    /// chosen whenever the device and the weight formats allow it.
    pub fn load(gguf: &Gguf, bytes: &[u8], device: &Device, max_context: usize) -> Result<Self, ModelError> {
        Self::load_with(gguf, bytes, device, max_context, None)
    }

    /// As [`Llama::load`], with the path forced when `path` is given (tests compare both).
    pub fn load_with(
        gguf: &Gguf,
        bytes: &[u8],
        device: &Device,
        max_context: usize,
        path: Option<ForwardPath>,
    ) -> Result<Self, ModelError> {
        let config = LlamaConfig::from_gguf(gguf)?;
        let max_context = max_context.clamp(1, config.context_length);
        let gpu = runs_kernels(device);
        let fast = if gpu { ForwardPath::Kernels } else { ForwardPath::CpuKernels };
        let why_not = |p: ForwardPath| match p {
            ForwardPath::Kernels if gpu => gpu::unsupported(&config, gguf),
            ForwardPath::Kernels => Some("not a GPU device".to_string()),
            ForwardPath::CpuKernels if !gpu => cpu::unsupported(&config, gguf),
            ForwardPath::CpuKernels => Some("not the CPU device".to_string()),
            ForwardPath::BurnOps => None,
        };
        let path = match path {
            Some(p) => {
                if let Some(why) = why_not(p) {
                    return Err(ModelError::Unsupported(format!("the {p:?} path cannot run this model: {why}")));
                }
                p
            }
            None if why_not(fast).is_none() => fast,
            None => ForwardPath::BurnOps,
        };
        let imp = match path {
            ForwardPath::Kernels => {
                let freqs = weights::rope_freqs(&config, gguf, bytes)?;
                Imp::Kernels(Box::new(GpuWeights::load(&config, gguf, bytes, device, max_context, freqs.as_deref())?))
            }
            ForwardPath::CpuKernels => {
                let freqs = weights::rope_freqs(&config, gguf, bytes)?;
                Imp::CpuKernels(Box::new(cpu::CpuWeights::load(&config, gguf, bytes, max_context, freqs.as_deref())?))
            }
            ForwardPath::BurnOps => {
                let weights = Weights::load(&config, gguf, bytes, device)?;
                let rope = Rope::new(&config, max_context, weights.rope_freqs.as_deref(), device);
                Imp::BurnOps(Box::new(BurnOps { weights, rope }))
            }
        };
        Ok(Llama { config, imp, device: device.clone(), max_context })
    }

    pub fn path(&self) -> ForwardPath {
        match self.imp {
            Imp::BurnOps(_) => ForwardPath::BurnOps,
            Imp::Kernels(_) => ForwardPath::Kernels,
            Imp::CpuKernels(_) => ForwardPath::CpuKernels,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn max_context(&self) -> usize {
        self.max_context
    }

    /// Bytes of weights on the device.
    pub fn weight_bytes(&self) -> u64 {
        match &self.imp {
            Imp::BurnOps(b) => b.weights.device_bytes,
            Imp::Kernels(w) => w.device_bytes,
            Imp::CpuKernels(w) => w.bytes,
        }
    }

    pub fn new_cache(&self) -> KvCache {
        match self.imp {
            Imp::CpuKernels(_) => KvCache::new_host(&self.config, self.max_context),
            _ => KvCache::new(&self.config, self.max_context, &self.device),
        }
    }

    /// Runs `tokens` at positions `cache.len()..`, appends them to the cache, and returns the
    /// logits of the last token, `[1, vocab]` (still on the device).
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor<2>, ModelError> {
        let pos = cache.len();
        let n = tokens.len();
        if n == 0 {
            return Err(ModelError::EmptyInput);
        }
        if pos + n > cache.capacity() {
            return Err(ModelError::ContextFull { needed: pos + n, capacity: cache.capacity() });
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.config.vocab_size) {
            return Err(ModelError::BadToken(bad));
        }
        let logits = match &self.imp {
            Imp::Kernels(w) => w.forward(&self.config, tokens, cache),
            Imp::BurnOps(b) => self.forward_burn(&b.weights, &b.rope, tokens, cache),
            Imp::CpuKernels(w) => {
                let logits = w.forward(&self.config, tokens, cache);
                let n = logits.len();
                Tensor::from_data(TensorData::new(logits, [1, n]), &self.device)
            }
        };
        cache.advance(n);
        Ok(logits)
    }

    fn forward_burn(&self, weights: &Weights, rope: &Rope, tokens: &[u32], cache: &mut KvCache) -> Tensor<2> {
        let n = tokens.len();
        let x = self.hidden_burn(weights, rope, tokens, cache); // [n, n_embd]
        let last = x.slice([n - 1..n, 0..self.config.n_embd]); // [1, n_embd]
        let h = rms_norm(last, &weights.output_norm, self.config.rms_eps);
        h.matmul(weights.head().clone()) // [1, vocab]
    }

    /// The residual stream after the last block, `[n, n_embd]`.
    fn hidden_burn(&self, weights: &Weights, rope: &Rope, tokens: &[u32], cache: &mut KvCache) -> Tensor<2> {
        let pos = cache.len();
        let mut x = self.embed(weights, tokens); // [n, n_embd]
        for (i, layer) in weights.layers.iter().enumerate() {
            x = self.block(rope, i, layer, x, cache, pos);
        }
        x
    }

    /// `[n, n_embd]` rows of the embedding table.
    fn embed(&self, weights: &Weights, tokens: &[u32]) -> Tensor<2> {
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [tokens.len()]), &self.device);
        weights.embd_t.clone().select(1, ids).swap_dims(0, 1)
    }

    fn block(
        &self,
        rope: &Rope,
        i: usize,
        w: &LayerWeights,
        x: Tensor<2>,
        cache: &mut KvCache,
        pos: usize,
    ) -> Tensor<2> {
        let cfg = &self.config;
        let [n, _] = x.dims();
        let h = rms_norm(x.clone(), &w.attn_norm, cfg.rms_eps);
        let q = w.wq.forward(h.clone()).reshape([n, cfg.n_heads, cfg.head_dim]);
        let k = w.wk.forward(h.clone()).reshape([n, cfg.n_kv_heads, cfg.head_dim]);
        let v = w.wv.forward(h).reshape([n, cfg.n_kv_heads, cfg.head_dim]);
        let q = rope.apply(q, pos).swap_dims(0, 1); // [n_heads, n, hd]
        let k = rope.apply(k, pos).swap_dims(0, 1); // [n_kv, n, hd]
        let v = v.swap_dims(0, 1); // [n_kv, n, hd]
        let (k_all, v_all) = cache.append(i, pos, k, v);
        let attn = attention(cfg, q, k_all, v_all, pos); // [n, n_heads·hd]
        let x = x + w.wo.forward(attn);

        let h = rms_norm(x.clone(), &w.ffn_norm, cfg.rms_eps);
        let gate = silu(w.w_gate.forward(h.clone()));
        let up = w.w_up.forward(h);
        x + w.w_down.forward(gate * up)
    }
}

/// `x / sqrt(mean(x²) + eps) · w` over the last axis. `x: [n, d]`, `w: [d]`.
pub fn rms_norm(x: Tensor<2>, w: &Tensor<1>, eps: f32) -> Tensor<2> {
    let ms = x.clone().square().mean_dim(1); // [n, 1]
    x * ms.add_scalar(eps).sqrt().recip() * w.clone().unsqueeze_dim::<2>(0)
}
