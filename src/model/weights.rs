//! Reading the model's tensors from GGUF: shapes checked against the config, query, key and
//! value stacked into runs of one block type, and the layer layout both kernel paths load
//! through ([`TensorSource`]).

use super::ModelError;
use super::config::LlamaConfig;
use crate::gguf::{Gguf, TensorInfo};
use crate::quant::{self, GgmlType};

/// Tensor `name`, checked to have the GGUF dimensions `expect` (innermost first).
pub fn tensor_of_shape<'g>(gguf: &'g Gguf, name: &str, expect: &[usize]) -> Result<&'g TensorInfo, ModelError> {
    let info = gguf.require_tensor(name)?;
    let dims: Vec<usize> = info.dims.iter().map(|&d| d as usize).collect();
    if dims != expect {
        return Err(ModelError::Shape { tensor: name.to_string(), expected: expect.to_vec(), found: dims });
    }
    Ok(info)
}

/// A tensor's values dequantized to f32 (norms and other small tensors).
pub fn dequantized(gguf: &Gguf, bytes: &[u8], info: &TensorInfo) -> Result<Vec<f32>, ModelError> {
    let raw = gguf.tensor_bytes(bytes, info)?;
    quant::dequantize_to_vec(info.ggml_type, raw, info.n_elements() as usize)
        .map_err(|e| ModelError::Quant { tensor: info.name.clone(), source: e })
}

/// Blocks of one type, stacked row-wise from one or more GGUF tensors.
pub struct Run {
    pub ty: GgmlType,
    pub raw: Vec<u8>,
    pub rows: usize,
    /// The tensors' names, joined with `+` (for errors).
    pub name: String,
}

/// The blocks of GGUF matrices of one width (`[cols, rows[i]]` each) stacked row-wise, one
/// [`Run`] per stretch of consecutive tensors of one type: the kernel paths fuse query, key and
/// value into one matrix this way, and llama.cpp's K-quant mixes (the value projection with
/// more bits than query and key) make that two.
pub fn stacked_runs(
    gguf: &Gguf,
    bytes: &[u8],
    names: &[String],
    cols: usize,
    rows: &[usize],
) -> Result<Vec<Run>, ModelError> {
    let mut runs: Vec<Run> = Vec::new();
    for (name, &r) in names.iter().zip(rows) {
        let info = tensor_of_shape(gguf, name, &[cols, r])?;
        let data = gguf.tensor_bytes(bytes, info)?;
        match runs.last_mut() {
            Some(run) if run.ty == info.ggml_type => {
                run.raw.extend_from_slice(data);
                run.rows += r;
                run.name = format!("{}+{name}", run.name);
            }
            _ => runs.push(Run { ty: info.ggml_type, raw: data.to_vec(), rows: r, name: name.clone() }),
        }
    }
    if runs.is_empty() {
        return Err(ModelError::Unsupported("a fused matrix of no tensors".into()));
    }
    Ok(runs)
}

/// The projections whose biases the CPU kernels add (Qwen2 has these three and no others).
pub const QKV_BIASES: [&str; 3] = ["attn_q", "attn_k", "attn_v"];

/// The GGUF name of layer `i`'s bias of projection `proj` (one of [`QKV_BIASES`]).
pub fn bias_name(i: usize, proj: &str) -> String {
    format!("blk.{i}.{proj}.bias")
}

/// The first tensor a kernel path cannot run (a linear weight of a type `linear_ok` refuses,
/// or a bias `bias_ok` refuses, by name), described for the error; `None` if every tensor is
/// fine.
pub fn unsupported_tensor(
    gguf: &Gguf,
    linear_ok: impl Fn(GgmlType) -> bool,
    bias_ok: impl Fn(&str) -> bool,
) -> Option<String> {
    for t in &gguf.tensors {
        if t.name.ends_with(".weight") && t.dims.len() == 2 && !linear_ok(t.ggml_type) {
            return Some(format!("tensor {} is {:?}", t.name, t.ggml_type));
        }
        if t.name.ends_with(".bias") && !bias_ok(&t.name) {
            return Some(format!("tensor {} (biases)", t.name));
        }
    }
    None
}

/// The weights of one Llama layer, held as the forward path wants them: norms as `V`, linear
/// weights as `M` (query, key and value rows stacked: one matrix, or one per type run).
pub struct LayerTensors<V, M> {
    pub attn_norm: V, // [n_embd]
    pub wqkv: Vec<M>, // [(H + 2KV)·hd, n_embd] in total, parts stacked by rows
    pub wo: M,        // [n_embd, H·hd]
    pub ffn_norm: V,  // [n_embd]
    pub gate: M,      // [n_ff, n_embd]
    pub up: M,        // [n_ff, n_embd]
    pub down: M,      // [n_embd, n_ff]
}

/// Where a quantized forward path reads its tensors from: norm vectors, and linear weights
/// made from GGUF blocks (a matrix `[rows, cols]`: `rows` outputs of `cols` inputs).
pub trait TensorSource<'a> {
    type Vector;
    type Matrix;
    /// The file being read.
    fn file(&self) -> (&'a Gguf, &'a [u8]);
    fn vector(&mut self, name: &str, len: usize) -> Result<Self::Vector, ModelError>;
    /// A matrix from its blocks of type `ty`; `name` names it in errors.
    fn matrix(
        &mut self,
        name: &str,
        ty: GgmlType,
        raw: &[u8],
        cols: usize,
        rows: usize,
    ) -> Result<Self::Matrix, ModelError>;

    /// The values of the GGUF vector `name` (`len` long), dequantized to f32.
    fn values(&self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        let (gguf, bytes) = self.file();
        dequantized(gguf, bytes, tensor_of_shape(gguf, name, &[len])?)
    }

    /// The GGUF matrix `name`, `[cols, rows]`.
    fn single(&mut self, name: &str, cols: usize, rows: usize) -> Result<Self::Matrix, ModelError> {
        let (gguf, bytes) = self.file();
        let info = tensor_of_shape(gguf, name, &[cols, rows])?;
        self.matrix(name, info.ggml_type, gguf.tensor_bytes(bytes, info)?, cols, rows)
    }

    /// GGUF matrices `[cols, rows[i]]` stacked by rows, one matrix per run of one type.
    fn stacked(&mut self, names: &[String], cols: usize, rows: &[usize]) -> Result<Vec<Self::Matrix>, ModelError> {
        let (gguf, bytes) = self.file();
        let runs = stacked_runs(gguf, bytes, names, cols, rows)?;
        runs.iter().map(|r| self.matrix(&r.name, r.ty, &r.raw, cols, r.rows)).collect()
    }

    /// Layer `i`'s tensors, by their GGUF names, shapes checked against the config.
    fn layer(&mut self, cfg: &LlamaConfig, i: usize) -> Result<LayerTensors<Self::Vector, Self::Matrix>, ModelError> {
        let (e, ff, q, kv) = (cfg.n_embd, cfg.n_ff, cfg.n_heads * cfg.head_dim, cfg.kv_dim());
        let p = |s: &str| format!("blk.{i}.{s}.weight");
        Ok(LayerTensors {
            attn_norm: self.vector(&p("attn_norm"), e)?,
            wqkv: self.stacked(&[p("attn_q"), p("attn_k"), p("attn_v")], e, &[q, kv, kv])?,
            wo: self.single(&p("attn_output"), q, e)?,
            ffn_norm: self.vector(&p("ffn_norm"), e)?,
            gate: self.single(&p("ffn_gate"), e, ff)?,
            up: self.single(&p("ffn_up"), e, ff)?,
            down: self.single(&p("ffn_down"), ff, e)?,
        })
    }
}

/// Llama 3's RoPE frequency divisors (`rope_freqs.weight`, one per rotated pair), if present.
pub fn rope_freqs(cfg: &LlamaConfig, gguf: &Gguf, bytes: &[u8]) -> Result<Option<Vec<f32>>, ModelError> {
    if gguf.tensor("rope_freqs.weight").is_none() {
        return Ok(None);
    }
    Ok(Some(dequantized(gguf, bytes, tensor_of_shape(gguf, "rope_freqs.weight", &[cfg.rope_dims / 2])?)?))
}
