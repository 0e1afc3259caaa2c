//! The forward pass's operations ([`super::forward`]) on our own kernels ([`crate::kernels`]):
//! weights stay in their quantized block format on the device, and a token costs about eight
//! launches per layer.
//!
//! ```text
//! embed -> per layer: rms_norm, gemv(QKV fused), rope_kv (writes the cache), attention,
//!          gemv(O, += residual), rms_norm, gemv_swiglu(gate, up), gemv(down, += residual)
//!       -> rms_norm (last row) -> gemv(head) -> logits
//! ```
//!
//! Used on the wgpu device when every weight has a device format and there are no biases;
//! otherwise the model runs on the CPU kernels ([`super::cpu`]).

use burn::tensor::Tensor;
use burn_cubecl::tensor::CubeTensor;

use super::ModelError;
use super::config::{LlamaConfig, RopeKind};
use super::forward::{Backend, forward};
use super::kv_cache::LayerCache;
use super::weights::{LayerTensors, TensorSource, unsupported_tensor};
use crate::gguf::Gguf;
use crate::kernels::attention::attention;
use crate::kernels::embed::embed;
use crate::kernels::gemv::{QFormat, QMatrix, gemv, gemv_stacked, gemv_swiglu, pack};
use crate::kernels::rms_norm::{rms_norm, rms_norm_rows};
use crate::kernels::rope_kv::{HeadLayout, RopeTables, rope_kv};
use crate::kernels::{self, upload_f32, upload_u32};
use crate::quant::GgmlType;

type GpuLayer = LayerTensors<CubeTensor, QMatrix>;

pub struct GpuWeights {
    layers: Vec<GpuLayer>,
    embd: QMatrix, // [vocab, n_embd]
    head: QMatrix, // [vocab, n_embd] (the embedding itself when tied)
    output_norm: CubeTensor,
    rope: RopeTables, // [capacity, rope_dims/2] each
    layout: HeadLayout,
    anchor: CubeTensor,
    pub device_bytes: u64,
}

/// Why the GPU kernel path cannot run this model (the CPU kernels will), or `None` if it can.
pub fn unsupported(cfg: &LlamaConfig, gguf: &Gguf) -> Option<String> {
    if cfg.head_dim > 256 || !cfg.head_dim.is_multiple_of(2) {
        return Some(format!("head_dim {}", cfg.head_dim));
    }
    unsupported_tensor(gguf, |ty| QFormat::for_ggml(ty).is_some(), |_| false)
}

struct Uploader<'a> {
    gguf: &'a Gguf,
    bytes: &'a [u8],
    anchor: &'a CubeTensor,
    uploaded: u64,
}

impl<'a> TensorSource<'a> for Uploader<'a> {
    type Vector = CubeTensor;
    type Matrix = QMatrix;

    fn file(&self) -> (&'a Gguf, &'a [u8]) {
        (self.gguf, self.bytes)
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<CubeTensor, ModelError> {
        let v = self.values(name, len)?;
        self.uploaded += (len * 4) as u64;
        Ok(upload_f32(self.anchor, &v, [len]))
    }

    /// Blocks packed for the device ([`pack`]) and uploaded.
    fn matrix(
        &mut self,
        name: &str,
        ty: GgmlType,
        raw: &[u8],
        cols: usize,
        rows: usize,
    ) -> Result<QMatrix, ModelError> {
        let (format, words) = pack(ty, raw, rows).map_err(|e| ModelError::Quant { tensor: name.into(), source: e })?;
        self.uploaded += (words.len() * 4) as u64;
        Ok(QMatrix { format, rows, cols, words: upload_u32(self.anchor, &words) })
    }
}

impl GpuWeights {
    pub fn load(
        cfg: &LlamaConfig,
        gguf: &Gguf,
        bytes: &[u8],
        device: &burn::tensor::Device,
        capacity: usize,
        rope_freqs: Option<&[f32]>,
    ) -> Result<Self, ModelError> {
        let anchor = kernels::to_cube(Tensor::<1>::zeros([1], device));
        let mut up = Uploader { gguf, bytes, anchor: &anchor, uploaded: 0 };
        let (e, hd) = (cfg.n_embd, cfg.head_dim);
        let embd = up.single("token_embd.weight", e, cfg.vocab_size)?;
        let head = match gguf.tensor("output.weight") {
            Some(_) => up.single("output.weight", e, cfg.vocab_size)?,
            None => embd.clone(),
        };
        let output_norm = up.vector("output_norm.weight", e)?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for i in 0..cfg.n_layers {
            layers.push(up.layer(cfg, i)?);
        }
        let (cos, sin) = super::rope::rope_tables(cfg, capacity, rope_freqs);
        let half = cfg.rope_dims / 2;
        let layout = HeadLayout {
            n_heads: cfg.n_heads,
            n_kv: cfg.n_kv_heads,
            head_dim: hd,
            rope_dims: cfg.rope_dims,
            half_split: cfg.rope_kind == RopeKind::HalfSplit,
            capacity,
        };
        Ok(GpuWeights {
            layers,
            embd,
            head,
            output_norm,
            rope: RopeTables {
                cos: upload_f32(&anchor, &cos, [capacity, half]),
                sin: upload_f32(&anchor, &sin, [capacity, half]),
            },
            layout,
            device_bytes: up.uploaded,
            anchor,
        })
    }

    /// Runs `tokens` at positions `pos..` (checked by the caller), writes their keys and values
    /// into `cache`, and returns the last token's logits `[1, vocab]`.
    pub fn forward(&self, cfg: &LlamaConfig, tokens: &[u32], cache: &mut [LayerCache], pos: usize) -> Tensor<2> {
        forward(&Gpu { w: self, cfg }, tokens, cache, pos)
    }
}

/// The GPU kernel path as a [`Backend`]: device buffers, about eight launches per layer.
struct Gpu<'a> {
    w: &'a GpuWeights,
    cfg: &'a LlamaConfig,
}

impl Backend for Gpu<'_> {
    type Act = CubeTensor;
    type Vector = CubeTensor;
    type Matrix = QMatrix;
    type Cache = LayerCache;
    type Logits = Tensor<2>;

    fn layers(&self) -> &[GpuLayer] {
        &self.w.layers
    }

    fn embed(&self, tokens: &[u32]) -> CubeTensor {
        let ids = upload_u32(&self.w.anchor, tokens);
        embed(&self.w.embd, &ids, tokens.len()) // [m, n_embd]
    }

    fn rms_norm(&self, x: &CubeTensor, w: &CubeTensor, m: usize) -> CubeTensor {
        rms_norm(x, w, m, self.cfg.rms_eps)
    }

    /// The fused projection in one launch (no biases: models with them run on the CPU path).
    fn qkv(&self, _layer: usize, w: &[QMatrix], h: &CubeTensor, m: usize) -> CubeTensor {
        gemv_stacked(w, h, m)
    }

    fn rope_kv_write(&self, qkv: &mut CubeTensor, cache: &mut LayerCache, m: usize, pos: usize) {
        let (k, v) = (kernels::to_cube(cache.k.clone()), kernels::to_cube(cache.v.clone()));
        rope_kv(qkv, &self.w.rope, (&k, &v), self.w.layout, m, pos);
    }

    fn attention(&self, qkv: &CubeTensor, cache: &LayerCache, m: usize, pos: usize) -> CubeTensor {
        let (k, v) = (kernels::to_cube(cache.k.clone()), kernels::to_cube(cache.v.clone()));
        attention(qkv, &k, &v, self.w.layout, m, pos) // [m, H·hd]
    }

    fn matvec_add(&self, w: &QMatrix, a: &CubeTensor, m: usize, x: CubeTensor) -> CubeTensor {
        gemv(w, a, m, Some(x))
    }

    fn swiglu(&self, gate: &QMatrix, up: &QMatrix, h: &CubeTensor, m: usize) -> CubeTensor {
        gemv_swiglu(gate, up, h, m) // [m, n_ff]
    }

    fn last_norm(&self, x: &CubeTensor, m: usize) -> CubeTensor {
        rms_norm_rows(x, &self.w.output_norm, m - 1, m, self.cfg.rms_eps) // [1, n_embd]
    }

    fn logits(&self, last: &CubeTensor) -> Tensor<2> {
        kernels::from_cube(gemv(&self.w.head, last, 1, None)) // [1, vocab]
    }
}
