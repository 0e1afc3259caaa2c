//! The forward pass's operations ([`super::forward`]) on the CPU with weights kept quantized, for the browser without WebGPU
//! (wasm SIMD128) and the native CLI (AVX2 when the processor has it, rows split across
//! threads).
//!
//! Decode reads every weight once per token, so the f32 weights of the burn-ops path cost
//! 540 MB of memory traffic per token; Q4_1/Q8_0 blocks cost 96 MB. Activations stay f32 (unlike
//! llama.cpp, which rounds them to 8 bits): greedy output stays that of an f32 implementation.
//! The hot loops are explicit SIMD (AVX2 + FMA natively, SIMD128 in wasm) with portable loops
//! beside them for other processors; `tests/kernels.rs` compares each product with the
//! reference dequantization of [`crate::quant`] on random blocks, and `tests/model.rs` the whole
//! path with the naive implementation.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod int8;
pub mod ops;
mod qmat;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(clippy::needless_range_loop)] // lane and row indices feed pointer offsets
mod simd128;
mod threads;

pub use qmat::QMat;
use threads::on_pool;

use super::ModelError;
use super::config::{LlamaConfig, RopeKind};
use super::forward::{Backend, forward};
use super::weights::{LayerTensors, QKV_BIASES, TensorSource, bias_name, unsupported_tensor};
use crate::gguf::Gguf;
use crate::quant::GgmlType;

type CpuLayer = LayerTensors<Vec<f32>, QMat>;

/// Whether this processor can decode with 8-bit activations ([`CpuWeights::int8_decode`]):
/// AVX2 + FMA.
pub fn int8_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return qmat::avx2_fma();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// One layer's keys and values in host memory: the CPU path's KV cache layer
/// ([`super::KvCache`] holds one per layer).
pub struct HostLayer {
    pub k: Vec<f32>, // [n_kv_heads, capacity, head_dim]
    pub v: Vec<f32>, // [n_kv_heads, capacity, head_dim]
}

pub struct CpuWeights {
    layers: Vec<CpuLayer>,
    /// Per layer, the query, key and value biases stacked as the fused projection's rows,
    /// `[(H + 2KV)·hd]`, where the file has any (Qwen2); a missing one is zeros.
    qkv_bias: Vec<Option<Vec<f32>>>,
    embd: QMat,
    /// `None` when the head is the embedding (tied).
    head: Option<QMat>,
    output_norm: Vec<f32>,
    cos: Vec<f32>, // [capacity, rope_dims/2]
    sin: Vec<f32>,
    pub bytes: u64,
    /// Whether decode (one token) rounds activations to 8 bits, llama.cpp's arithmetic
    /// (`int8.rs`; `LoadOptions::int8_decode`): about 10 % faster natively (~140 against ~125
    /// tok/s), but it moves logits enough to change greedy replies (4 of the 8 reference chats
    /// still agree with the f32 references, against 8 of 8), so it is off unless asked for.
    pub int8_decode: bool,
}

/// Why the CPU kernel path cannot run this model, or `None` if it can.
pub fn unsupported(cfg: &LlamaConfig, gguf: &Gguf) -> Option<String> {
    if !cfg.n_embd.is_multiple_of(32) || !cfg.n_ff.is_multiple_of(32) || !cfg.head_dim.is_multiple_of(2) {
        return Some("dimensions not multiples of 32".into());
    }
    let qkv_bias = |name: &str| (0..cfg.n_layers).any(|i| QKV_BIASES.iter().any(|p| bias_name(i, p) == name));
    unsupported_tensor(gguf, QMat::supports, qkv_bias)
}

struct Reader<'a> {
    gguf: &'a Gguf,
    bytes: &'a [u8],
    total: u64,
}

impl Reader<'_> {
    /// Layer `i`'s query, key and value biases stacked, `[(H + 2KV)·hd]`; `None` without any.
    fn qkv_bias(&mut self, cfg: &LlamaConfig, i: usize) -> Result<Option<Vec<f32>>, ModelError> {
        let lens = [cfg.n_heads * cfg.head_dim, cfg.kv_dim(), cfg.kv_dim()];
        let present = QKV_BIASES.map(|p| Some(bias_name(i, p)).filter(|n| self.gguf.tensor(n).is_some()));
        if present.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(lens.iter().sum());
        for (name, len) in present.iter().zip(lens) {
            match name {
                Some(name) => out.extend(self.vector(name, len)?),
                None => out.resize(out.len() + len, 0.0),
            }
        }
        Ok(Some(out))
    }
}

impl<'a> TensorSource<'a> for Reader<'a> {
    type Vector = Vec<f32>;
    type Matrix = QMat;

    fn file(&self) -> (&'a Gguf, &'a [u8]) {
        (self.gguf, self.bytes)
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        let v = self.values(name, len)?;
        self.total += (len * 4) as u64;
        Ok(v)
    }

    fn matrix(&mut self, name: &str, ty: GgmlType, raw: &[u8], cols: usize, rows: usize) -> Result<QMat, ModelError> {
        let m =
            QMat::from_blocks(ty, raw, rows, cols).map_err(|e| ModelError::Quant { tensor: name.into(), source: e })?;
        self.total += m.bytes();
        Ok(m)
    }
}

/// `out[t] = [W₀ x_t, W₁ x_t, ...]` for matrices stacked by rows (`out: [m, Σ rows]`).
fn matvec_stacked(parts: &[QMat], x: &[f32], m: usize, out: &mut [f32], int8: bool) {
    if let [one] = parts {
        return one.matvec_with(x, m, out, false, int8);
    }
    let total: usize = parts.iter().map(|p| p.rows).sum();
    let mut off = 0;
    for p in parts {
        let mut part = vec![0f32; m * p.rows];
        p.matvec_with(x, m, &mut part, false, int8);
        for t in 0..m {
            out[t * total + off..t * total + off + p.rows].copy_from_slice(&part[t * p.rows..(t + 1) * p.rows]);
        }
        off += p.rows;
    }
}

impl CpuWeights {
    pub fn load(
        cfg: &LlamaConfig,
        gguf: &Gguf,
        bytes: &[u8],
        capacity: usize,
        rope_freqs: Option<&[f32]>,
    ) -> Result<Self, ModelError> {
        let mut rd = Reader { gguf, bytes, total: 0 };
        let e = cfg.n_embd;
        let embd = rd.single("token_embd.weight", e, cfg.vocab_size)?;
        let head = match gguf.tensor("output.weight") {
            Some(_) => Some(rd.single("output.weight", e, cfg.vocab_size)?),
            None => None,
        };
        let output_norm = rd.vector("output_norm.weight", e)?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        let mut qkv_bias = Vec::with_capacity(cfg.n_layers);
        for i in 0..cfg.n_layers {
            layers.push(rd.layer(cfg, i)?);
            qkv_bias.push(rd.qkv_bias(cfg, i)?);
        }
        let (cos, sin) = super::rope::rope_tables(cfg, capacity, rope_freqs);
        Ok(CpuWeights { layers, qkv_bias, embd, head, output_norm, cos, sin, bytes: rd.total, int8_decode: false })
    }

    /// Runs `tokens` at positions `pos..` (checked by the caller), writes their keys and values
    /// into `cache` (each layer's `[n_kv_heads, capacity, head_dim]`), and returns the last
    /// token's logits, `[vocab]`.
    pub fn forward(
        &self,
        cfg: &LlamaConfig,
        tokens: &[u32],
        cache: &mut [HostLayer],
        pos: usize,
        capacity: usize,
    ) -> Vec<f32> {
        on_pool(|| forward(&Cpu { w: self, cfg, capacity, spare: Default::default() }, tokens, cache, pos))
    }
}

/// The CPU path as a [`Backend`]: host vectors, and the session's cache capacity (the stride
/// of each head's positions in [`HostLayer`]).
struct Cpu<'a> {
    w: &'a CpuWeights,
    cfg: &'a LlamaConfig,
    capacity: usize,
    /// Buffers the forward handed back ([`Backend::recycle`]), for the next ops' outputs.
    spare: std::cell::RefCell<Vec<Vec<f32>>>,
}

impl Cpu<'_> {
    fn heads(&self) -> ops::Heads {
        ops::Heads { n_heads: self.cfg.n_heads, n_kv: self.cfg.n_kv_heads, head_dim: self.cfg.head_dim }
    }

    /// `len` zeros, in a handed-back buffer when one is large enough.
    fn zeros(&self, len: usize) -> Vec<f32> {
        let mut spare = self.spare.borrow_mut();
        let mut v = match spare.iter().position(|b| b.capacity() >= len) {
            Some(i) => spare.swap_remove(i),
            None => Vec::with_capacity(len),
        };
        v.clear();
        v.resize(len, 0.0);
        v
    }
}

impl Backend for Cpu<'_> {
    type Act = Vec<f32>;
    type Vector = Vec<f32>;
    type Matrix = QMat;
    type Cache = HostLayer;
    type Logits = Vec<f32>;

    fn layers(&self) -> &[CpuLayer] {
        &self.w.layers
    }

    fn embed(&self, tokens: &[u32]) -> Vec<f32> {
        let e = self.cfg.n_embd;
        let mut x = vec![0f32; tokens.len() * e]; // [m, n_embd]
        for (row, &tok) in x.chunks_exact_mut(e).zip(tokens) {
            self.w.embd.row(tok as usize, row);
        }
        x
    }

    fn rms_norm(&self, x: &Vec<f32>, w: &Vec<f32>, _m: usize) -> Vec<f32> {
        let mut out = self.zeros(x.len());
        ops::rms_norm(x, w, self.cfg.rms_eps, &mut out);
        out
    }

    fn qkv(&self, layer: usize, w: &[QMat], h: &Vec<f32>, m: usize) -> Vec<f32> {
        let width: usize = w.iter().map(|p| p.rows).sum(); // (H + 2KV)·hd
        let mut qkv = self.zeros(m * width);
        matvec_stacked(w, h, m, &mut qkv, self.w.int8_decode);
        if let Some(bias) = &self.w.qkv_bias[layer] {
            for row in qkv.chunks_exact_mut(width) {
                row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
            }
        }
        qkv
    }

    fn rope_kv_write(&self, qkv: &mut Vec<f32>, cache: &mut HostLayer, _m: usize, pos: usize) {
        let (cfg, w) = (self.cfg, self.w);
        let half_split = cfg.rope_kind == RopeKind::HalfSplit;
        let cache = (&mut cache.k[..], &mut cache.v[..]);
        ops::rope_kv_write(qkv, self.heads(), &w.cos, &w.sin, cfg.rope_dims / 2, half_split, cache, self.capacity, pos);
    }

    fn attention(&self, qkv: &Vec<f32>, cache: &HostLayer, m: usize, pos: usize) -> Vec<f32> {
        let heads = self.heads();
        let mut out = self.zeros(m * heads.n_heads * heads.head_dim); // [m, H·hd]
        let cache = (&cache.k[..], &cache.v[..]);
        ops::attention(qkv, heads.qkv_width(), cache, heads, self.capacity, pos, m, &mut out);
        out
    }

    fn matvec_add(&self, w: &QMat, a: &Vec<f32>, m: usize, mut x: Vec<f32>) -> Vec<f32> {
        w.matvec_with(a, m, &mut x, true, self.w.int8_decode);
        x
    }

    fn swiglu(&self, gate: &QMat, up: &QMat, h: &Vec<f32>, m: usize) -> Vec<f32> {
        let (mut g, mut u) = (self.zeros(m * gate.rows), self.zeros(m * up.rows)); // [m, n_ff]
        gate.matvec_with(h, m, &mut g, false, self.w.int8_decode);
        up.matvec_with(h, m, &mut u, false, self.w.int8_decode);
        for (g, u) in g.iter_mut().zip(&u) {
            *g = *g / (1.0 + (-*g).exp()) * u;
        }
        self.recycle(u);
        g
    }

    fn last_norm(&self, x: &Vec<f32>, m: usize) -> Vec<f32> {
        let e = self.cfg.n_embd;
        let mut last = vec![0f32; e];
        ops::rms_norm(&x[(m - 1) * e..], &self.w.output_norm, self.cfg.rms_eps, &mut last);
        last
    }

    fn logits(&self, last: &Vec<f32>) -> Vec<f32> {
        let head = self.w.head.as_ref().unwrap_or(&self.w.embd);
        let mut logits = vec![0f32; head.rows];
        // Even with 8-bit activations asked for, the head keeps f32: rounding the final hidden
        // state (a few large channels per block) moved logits by up to 0.28.
        head.matvec_with(last, 1, &mut logits, false, false);
        logits
    }

    fn recycle(&self, a: Vec<f32>) {
        self.spare.borrow_mut().push(a);
    }
}
