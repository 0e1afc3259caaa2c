//! The reference forward pass: burn tensor operations on f32 weights dequantized at load, on
//! any device and for any weight type the reference in [`crate::quant`] dequantizes.
//!
//! It is what the kernel paths (`cpu/`, `gpu.rs`) are tested against, written as directly
//! as the math: linear weights stored transposed, `[in, out]`, so that a projection is a plain
//! `x @ W` with `x: [tokens, in]`. It is built only with the `reference` cargo feature (the
//! tests enable it), never in the browser build and never chosen by [`super::Llama::load`]:
//! its f32 weights are four to eight times the file's size, and its ops cost the browser build
//! about a quarter of its bytes.

use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::ModelError;
use super::config::{LlamaConfig, RopeKind};
use super::kv_cache::LayerCache;
use super::rope::rope_tables;
use super::weights::{dequantized, rope_freqs, tensor_of_shape};
use crate::gguf::{Gguf, TensorInfo};

/// One transformer block's weights.
struct LayerWeights {
    pub attn_norm: Tensor<1>, // [n_embd]
    pub wq: Linear,           // [n_embd, n_heads * head_dim]
    pub wk: Linear,           // [n_embd, n_kv_heads * head_dim]
    pub wv: Linear,           // [n_embd, n_kv_heads * head_dim]
    pub wo: Linear,           // [n_heads * head_dim, n_embd]
    pub ffn_norm: Tensor<1>,  // [n_embd]
    pub w_gate: Linear,       // [n_embd, n_ff]
    pub w_up: Linear,         // [n_embd, n_ff]
    pub w_down: Linear,       // [n_ff, n_embd]
}

/// `y = x @ W (+ b)`.
struct Linear {
    pub weight: Tensor<2>,       // [in, out]
    pub bias: Option<Tensor<1>>, // [out]
}

impl Linear {
    /// `x: [tokens, in]` -> `[tokens, out]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.clone());
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze_dim::<2>(0),
            None => y,
        }
    }
}

struct Weights {
    /// The token embedding, transposed: `[n_embd, vocab]`. It doubles as the LM head when the
    /// file has no `output.weight` (tied embeddings), so it is stored once in the layout the
    /// head's matmul wants; an embedding lookup selects columns.
    pub embd_t: Tensor<2>,
    /// `[n_embd, vocab]` when the file has its own `output.weight`.
    pub output: Option<Tensor<2>>,
    pub output_norm: Tensor<1>,
    pub layers: Vec<LayerWeights>,
    /// Llama 3 RoPE frequency divisors (`rope_freqs.weight`), one per rotated pair.
    pub rope_freqs: Option<Vec<f32>>,
    /// Bytes the weights occupy on the device.
    pub device_bytes: u64,
}

/// Reads tensors by name, checks their shapes against the config, and uploads them.
struct Loader<'a> {
    gguf: &'a Gguf,
    bytes: &'a [u8],
    device: &'a Device,
    uploaded: u64,
}

impl Loader<'_> {
    fn info(&self, name: &str, expect: &[usize]) -> Result<&TensorInfo, ModelError> {
        tensor_of_shape(self.gguf, name, expect)
    }

    fn dequant(&self, info: &TensorInfo) -> Result<Vec<f32>, ModelError> {
        dequantized(self.gguf, self.bytes, info)
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<Tensor<1>, ModelError> {
        let v = self.dequant(self.info(name, &[len])?)?;
        self.uploaded += (len * 4) as u64;
        Ok(Tensor::from_data(TensorData::new(v, [len]), self.device))
    }

    /// A GGUF matrix `ne = [cols, rows]` (rows of `cols`) uploaded transposed as `[cols, rows]`.
    fn matrix_t(&mut self, name: &str, cols: usize, rows: usize) -> Result<Tensor<2>, ModelError> {
        let w = self.dequant(self.info(name, &[cols, rows])?)?;
        let mut t = vec![0f32; w.len()];
        for (r, row) in w.chunks_exact(cols).enumerate() {
            for (c, &x) in row.iter().enumerate() {
                t[c * rows + r] = x;
            }
        }
        self.uploaded += (t.len() * 4) as u64;
        Ok(Tensor::from_data(TensorData::new(t, [cols, rows]), self.device))
    }

    fn linear(&mut self, prefix: &str, n_in: usize, n_out: usize) -> Result<Linear, ModelError> {
        let weight = self.matrix_t(&format!("{prefix}.weight"), n_in, n_out)?;
        let bias_name = format!("{prefix}.bias");
        let bias = match self.gguf.tensor(&bias_name) {
            Some(_) => Some(self.vector(&bias_name, n_out)?),
            None => None,
        };
        Ok(Linear { weight, bias })
    }
}

impl Weights {
    fn load(cfg: &LlamaConfig, gguf: &Gguf, bytes: &[u8], device: &Device) -> Result<Self, ModelError> {
        let mut l = Loader { gguf, bytes, device, uploaded: 0 };
        let (e, q, kv, ff) = (cfg.n_embd, cfg.n_heads * cfg.head_dim, cfg.kv_dim(), cfg.n_ff);
        let embd_t = l.matrix_t("token_embd.weight", e, cfg.vocab_size)?;
        let output = match gguf.tensor("output.weight") {
            Some(_) => Some(l.matrix_t("output.weight", e, cfg.vocab_size)?),
            None => None,
        };
        let output_norm = l.vector("output_norm.weight", e)?;
        let rope_freqs = rope_freqs(cfg, gguf, bytes)?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for i in 0..cfg.n_layers {
            let p = |s: &str| format!("blk.{i}.{s}");
            layers.push(LayerWeights {
                attn_norm: l.vector(&p("attn_norm.weight"), e)?,
                wq: l.linear(&p("attn_q"), e, q)?,
                wk: l.linear(&p("attn_k"), e, kv)?,
                wv: l.linear(&p("attn_v"), e, kv)?,
                wo: l.linear(&p("attn_output"), q, e)?,
                ffn_norm: l.vector(&p("ffn_norm.weight"), e)?,
                w_gate: l.linear(&p("ffn_gate"), e, ff)?,
                w_up: l.linear(&p("ffn_up"), e, ff)?,
                w_down: l.linear(&p("ffn_down"), ff, e)?,
            });
        }
        Ok(Weights { embd_t, output, output_norm, layers, rope_freqs, device_bytes: l.uploaded })
    }

    /// The LM head, `[n_embd, vocab]`.
    fn head(&self) -> &Tensor<2> {
        self.output.as_ref().unwrap_or(&self.embd_t)
    }
}

/// Precomputed cos/sin of every (position, pair) angle, on the device.
struct Rope {
    cos: Tensor<2>, // [capacity, rope_dims / 2]
    sin: Tensor<2>, // [capacity, rope_dims / 2]
    kind: RopeKind,
    dims: usize,
}

impl Rope {
    fn new(cfg: &LlamaConfig, capacity: usize, freq_factors: Option<&[f32]>, device: &Device) -> Self {
        let half = cfg.rope_dims / 2;
        let (cos, sin) = rope_tables(cfg, capacity, freq_factors);
        Rope {
            cos: Tensor::from_data(TensorData::new(cos, [capacity, half]), device),
            sin: Tensor::from_data(TensorData::new(sin, [capacity, half]), device),
            kind: cfg.rope_kind,
            dims: cfg.rope_dims,
        }
    }

    /// Rotates `x: [tokens, heads, head_dim]` for positions `pos..pos+tokens`.
    fn apply(&self, x: Tensor<3>, pos: usize) -> Tensor<3> {
        let [n, heads, head_dim] = x.dims();
        let half = self.dims / 2;
        let cos = self.cos.clone().slice([pos..pos + n, 0..half]).unsqueeze_dim::<3>(1); // [n, 1, half]
        let sin = self.sin.clone().slice([pos..pos + n, 0..half]).unsqueeze_dim::<3>(1); // [n, 1, half]
        let rot = x.clone().slice([0..n, 0..heads, 0..self.dims]);
        let rotated = match self.kind {
            RopeKind::Adjacent => {
                // pairs (2i, 2i+1): view as [n, heads, half, 2]
                let pairs = rot.reshape([n, heads, half, 2]);
                let x0 = pairs.clone().slice([0..n, 0..heads, 0..half, 0..1]).reshape([n, heads, half]);
                let x1 = pairs.slice([0..n, 0..heads, 0..half, 1..2]).reshape([n, heads, half]);
                let y0 = x0.clone() * cos.clone() - x1.clone() * sin.clone();
                let y1 = x0 * sin + x1 * cos;
                Tensor::stack::<4>(vec![y0, y1], 3).reshape([n, heads, self.dims])
            }
            RopeKind::HalfSplit => {
                // pairs (i, i + half)
                let x0 = rot.clone().slice([0..n, 0..heads, 0..half]);
                let x1 = rot.slice([0..n, 0..heads, half..self.dims]);
                let y0 = x0.clone() * cos.clone() - x1.clone() * sin.clone();
                let y1 = x0 * sin + x1 * cos;
                Tensor::cat(vec![y0, y1], 2)
            }
        };
        if self.dims == head_dim {
            rotated
        } else {
            let pass = x.slice([0..n, 0..heads, self.dims..head_dim]);
            Tensor::cat(vec![rotated, pass], 2)
        }
    }
}

/// Causal grouped-query attention.
///
/// `q: [n_heads, tokens, head_dim]` for positions `pos..pos+tokens`; `k`, `v`:
/// `[n_kv_heads, pos+tokens, head_dim]` (the cache so far). Query head `h` reads KV head
/// `h / group`, as in llama.cpp. Instead of copying K and V `group` times, the `group` query
/// heads of one KV head are stacked along the token axis: `[n_kv, group·tokens, head_dim]`.
/// Returns `[tokens, n_heads · head_dim]`.
fn attention(cfg: &LlamaConfig, q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, pos: usize) -> Tensor<2> {
    let [n_heads, n, hd] = q.dims();
    let total = pos + n;
    let group = cfg.gqa_group();
    let q = q.reshape([cfg.n_kv_heads, group * n, hd]);
    let scale = 1.0 / (hd as f32).sqrt();
    let mut scores = q.matmul(k.swap_dims(1, 2)).mul_scalar(scale); // [n_kv, group·n, total]
    if n > 1 {
        // Row r is query token r % n; it may see positions 0..=pos + r % n.
        let mask = Tensor::<2, Bool>::tril_mask([n, total], pos as i64, &scores.device()).repeat_dim(0, group);
        scores = scores.mask_fill(mask.unsqueeze_dim::<3>(0), -1.0e30);
    }
    let probs = softmax(scores, 2);
    let out = probs.matmul(v); // [n_kv, group·n, hd]
    out.reshape([n_heads, n, hd]).swap_dims(0, 1).reshape([n, n_heads * hd])
}

/// The reference forward pass, loaded: f32 weights and RoPE tables on one device.
pub struct Reference {
    config: LlamaConfig,
    weights: Weights,
    rope: Rope,
    device: Device,
}

impl Reference {
    pub fn load(
        config: &LlamaConfig,
        gguf: &Gguf,
        bytes: &[u8],
        device: &Device,
        max_context: usize,
    ) -> Result<Self, ModelError> {
        let weights = Weights::load(config, gguf, bytes, device)?;
        let rope = Rope::new(config, max_context, weights.rope_freqs.as_deref(), device);
        Ok(Reference { config: config.clone(), weights, rope, device: device.clone() })
    }

    /// Bytes the f32 weights occupy on the device.
    pub fn device_bytes(&self) -> u64 {
        self.weights.device_bytes
    }

    /// Runs `tokens` at positions `pos..` (checked by the caller), writes their keys and values
    /// into `cache`, and returns the last token's logits, `[1, vocab]`.
    pub fn forward(&self, tokens: &[u32], cache: &mut [LayerCache], pos: usize) -> Tensor<2> {
        let (weights, n) = (&self.weights, tokens.len());
        let x = self.hidden(tokens, cache, pos); // [n, n_embd]
        let last = x.slice([n - 1..n, 0..self.config.n_embd]); // [1, n_embd]
        let h = rms_norm(last, &weights.output_norm, self.config.rms_eps);
        h.matmul(weights.head().clone()) // [1, vocab]
    }

    /// The residual stream after the last block, `[n, n_embd]`.
    fn hidden(&self, tokens: &[u32], cache: &mut [LayerCache], pos: usize) -> Tensor<2> {
        let mut x = self.embed(tokens); // [n, n_embd]
        for (layer, c) in self.weights.layers.iter().zip(cache) {
            x = self.block(layer, x, c, pos);
        }
        x
    }

    /// `[n, n_embd]` rows of the embedding table.
    fn embed(&self, tokens: &[u32]) -> Tensor<2> {
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [tokens.len()]), &self.device);
        self.weights.embd_t.clone().select(1, ids).swap_dims(0, 1)
    }

    fn block(&self, w: &LayerWeights, x: Tensor<2>, cache: &mut LayerCache, pos: usize) -> Tensor<2> {
        let cfg = &self.config;
        let [n, _] = x.dims();
        let h = rms_norm(x.clone(), &w.attn_norm, cfg.rms_eps);
        let q = w.wq.forward(h.clone()).reshape([n, cfg.n_heads, cfg.head_dim]);
        let k = w.wk.forward(h.clone()).reshape([n, cfg.n_kv_heads, cfg.head_dim]);
        let v = w.wv.forward(h).reshape([n, cfg.n_kv_heads, cfg.head_dim]);
        let q = self.rope.apply(q, pos).swap_dims(0, 1); // [n_heads, n, hd]
        let k = self.rope.apply(k, pos).swap_dims(0, 1); // [n_kv, n, hd]
        let v = v.swap_dims(0, 1); // [n_kv, n, hd]
        let (k_all, v_all) = cache.append(pos, k, v);
        let attn = attention(cfg, q, k_all, v_all, pos); // [n, n_heads·hd]
        let x = x + w.wo.forward(attn);

        let h = rms_norm(x.clone(), &w.ffn_norm, cfg.rms_eps);
        let gate = silu(w.w_gate.forward(h.clone()));
        let up = w.w_up.forward(h);
        x + w.w_down.forward(gate * up)
    }
}

/// `x / sqrt(mean(x²) + eps) · w` over the last axis. `x: [n, d]`, `w: [d]`.
fn rms_norm(x: Tensor<2>, w: &Tensor<1>, eps: f32) -> Tensor<2> {
    let ms = x.clone().square().mean_dim(1); // [n, 1]
    x * ms.add_scalar(eps).sqrt().recip() * w.clone().unsqueeze_dim::<2>(0)
}
