//! The model's tensors, read from GGUF and uploaded to the device once.
//!
//! In this version every weight is dequantized to f32 at load (the CPU reference in
//! [`crate::quant`]); linear weights are stored transposed, `[in, out]`, so that a forward pass
//! is a plain `x @ W` with `x: [tokens, in]`.

use burn::tensor::{Device, Tensor, TensorData};

use super::ModelError;
use super::config::LlamaConfig;
use crate::gguf::{Gguf, TensorInfo};
use crate::quant::{self, GgmlType};

/// One transformer block's weights.
pub struct LayerWeights {
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
pub struct Linear {
    pub weight: Tensor<2>,       // [in, out]
    pub bias: Option<Tensor<1>>, // [out]
}

impl Linear {
    /// `x: [tokens, in]` -> `[tokens, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.clone());
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze_dim::<2>(0),
            None => y,
        }
    }
}

pub struct Weights {
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

/// The first tensor a kernel path cannot run (a linear weight of a type `linear_ok` refuses,
/// or a bias), described for the fallback message; `None` if every tensor is fine.
pub fn unsupported_tensor(gguf: &Gguf, linear_ok: impl Fn(GgmlType) -> bool) -> Option<String> {
    for t in &gguf.tensors {
        if t.name.ends_with(".weight") && t.dims.len() == 2 && !linear_ok(t.ggml_type) {
            return Some(format!("tensor {} is {:?}", t.name, t.ggml_type));
        }
        if t.name.ends_with(".bias") {
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

/// Llama 3's RoPE frequency divisors (`rope_freqs.weight`, one per rotated pair), if present.
pub fn rope_freqs(cfg: &LlamaConfig, gguf: &Gguf, bytes: &[u8]) -> Result<Option<Vec<f32>>, ModelError> {
    if gguf.tensor("rope_freqs.weight").is_none() {
        return Ok(None);
    }
    let l = Loader { gguf, bytes, device: &Device::flex(), uploaded: 0 };
    Ok(Some(l.dequant(l.info("rope_freqs.weight", &[cfg.rope_dims / 2])?)?))
}

impl Weights {
    pub fn load(cfg: &LlamaConfig, gguf: &Gguf, bytes: &[u8], device: &Device) -> Result<Self, ModelError> {
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
    pub fn head(&self) -> &Tensor<2> {
        self.output.as_ref().unwrap_or(&self.embd_t)
    }
}
