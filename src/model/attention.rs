//! Rotary position embedding and grouped-query attention over the KV cache.

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use super::config::{LlamaConfig, RopeKind};

/// Precomputed cos/sin of every (position, pair) angle, on the device.
pub struct Rope {
    cos: Tensor<2>, // [capacity, rope_dims / 2]
    sin: Tensor<2>, // [capacity, rope_dims / 2]
    kind: RopeKind,
    dims: usize,
}

/// cos and sin of every (position, pair) angle `pos · base^(-2i/dims) / freq_factor[i]`, as
/// `[capacity, rope_dims / 2]`, computed in f64 so that long contexts keep full f32 precision.
pub fn rope_tables(cfg: &LlamaConfig, capacity: usize, freq_factors: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
    let half = cfg.rope_dims / 2;
    let mut cos = Vec::with_capacity(capacity * half);
    let mut sin = Vec::with_capacity(capacity * half);
    for pos in 0..capacity {
        for i in 0..half {
            let inv_freq = (cfg.rope_base as f64).powf(-2.0 * i as f64 / cfg.rope_dims as f64);
            let factor = freq_factors.and_then(|f| f.get(i)).map_or(1.0, |&f| f as f64);
            let theta = pos as f64 * inv_freq / factor;
            cos.push(theta.cos() as f32);
            sin.push(theta.sin() as f32);
        }
    }
    (cos, sin)
}

impl Rope {
    pub fn new(cfg: &LlamaConfig, capacity: usize, freq_factors: Option<&[f32]>, device: &Device) -> Self {
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
    pub fn apply(&self, x: Tensor<3>, pos: usize) -> Tensor<3> {
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
pub fn attention(cfg: &LlamaConfig, q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, pos: usize) -> Tensor<2> {
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
