//! Test utilities: the real model and references, a small GGUF writer, a tiny random-weight
//! model, and a naive f64 forward pass to check our burn model against.
#![allow(dead_code)]

use std::path::PathBuf;

use aisle::gguf::{Value, ValueType};
use aisle::quant::GgmlType;
use aisle::sampler::Rng;
use half::f16;

pub mod requant;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn reference_dir() -> PathBuf {
    repo().join("tests/reference")
}

pub fn read_json(rel: &str) -> serde_json::Value {
    let path = reference_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON")
}

pub fn read_f32_file(rel: &str) -> Vec<f32> {
    let bytes = std::fs::read(reference_dir().join(rel)).expect("reference .f32 file");
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The real SmolLM2 file. `make test` always fetches it and sets `AISLE_REQUIRE_MODEL=1`, so
/// there a missing model fails the test; a bare `cargo test` skips loudly instead.
pub fn model_bytes() -> Option<Vec<u8>> {
    required(&model_path())
}

/// The sentence encoder file (multilingual-e5-small, 4-bit), fetched by `make setup` beside the
/// model; missing, as [`model_bytes`].
pub fn encoder_bytes() -> Option<Vec<u8>> {
    required(&encoder_path())
}

pub fn encoder_path() -> PathBuf {
    repo().join("models/multilingual-e5-small.q4.bin")
}

/// A file `make setup` fetches: its bytes, a failure under `AISLE_REQUIRE_MODEL=1`, or a loud skip.
fn required(path: &std::path::Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("AISLE_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
                panic!("required but missing at {}: {e} (run `make setup`)", path.display());
            }
            eprintln!("\n*** SKIPPED: {} is missing ({e}); run `make setup` to fetch it ***\n", path.display());
            None
        }
    }
}

pub fn model_path() -> PathBuf {
    repo().join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Reads a JSON array of numbers as u32 ids.
pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("id") as u32).collect()
}

// ---------------------------------------------------------------------------------------------
// GGUF writer

pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub data: Vec<u8>,
}

/// Writes GGUF v3 files (or v2 with `version`), for tests that need files we control.
pub struct GgufWriter {
    pub version: u32,
    pub alignment: u64,
    pub kv: Vec<(String, Value)>,
    pub tensors: Vec<Tensor>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter { version: 3, alignment: 32, kv: Vec::new(), tensors: Vec::new() }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn type_id(t: ValueType) -> u32 {
    t as u32
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(*x as u8),
        Value::String(s) => put_str(out, s),
        Value::Array(t, items) => {
            out.extend_from_slice(&type_id(*t).to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for i in items {
                put_value(out, i);
            }
        }
    }
}

impl GgufWriter {
    pub fn kv(&mut self, key: &str, v: Value) -> &mut Self {
        self.kv.push((key.to_string(), v));
        self
    }

    pub fn tensor(&mut self, name: &str, dims: &[u64], type_id: u32, data: Vec<u8>) -> &mut Self {
        self.tensors.push(Tensor { name: name.to_string(), dims: dims.to_vec(), type_id, data });
        self
    }

    /// The file bytes, plus the absolute offset of the tensor-info section (for corruption tests).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            put_str(&mut out, k);
            out.extend_from_slice(&type_id(v.value_type()).to_le_bytes());
            put_value(&mut out, v);
        }
        let mut offset = 0u64;
        let mut offsets = Vec::new();
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.type_id.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = (offset + t.data.len() as u64).div_ceil(self.alignment) * self.alignment;
        }
        let data_start = (out.len() as u64).div_ceil(self.alignment) * self.alignment;
        out.resize(data_start as usize, 0);
        for (t, off) in self.tensors.iter().zip(offsets) {
            out.resize((data_start + off) as usize, 0);
            out.extend_from_slice(&t.data);
        }
        out
    }
}

pub fn str_array(items: &[&str]) -> Value {
    Value::Array(ValueType::String, items.iter().map(|s| Value::String(s.to_string())).collect())
}

// ---------------------------------------------------------------------------------------------
// A tiny random-weight Llama

#[derive(Clone, Copy, Debug)]
pub struct TinyConfig {
    pub n_layers: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub vocab: usize,
    pub context: usize,
    pub rope_base: f32,
    pub tied: bool,
    /// "llama" (adjacent-pair RoPE) or "qwen2" (half-split RoPE, q/k/v biases).
    pub arch: &'static str,
    /// Write a Llama 3 style `rope_freqs.weight` (per-pair frequency divisors).
    pub rope_freqs: bool,
    pub pre: &'static str,
    /// Linear weights in a llama.cpp Q4_K_M-like mix of types (Q4_K, Q6_K, Q5_0, Q5_1, Q8_0)
    /// instead of all Q4_1; needs `n_embd` and `n_ff` multiples of 256.
    pub mixed_types: bool,
}

impl Default for TinyConfig {
    fn default() -> Self {
        TinyConfig {
            n_layers: 2,
            n_embd: 64,
            n_ff: 128,
            n_heads: 4,
            n_kv_heads: 2,
            vocab: 96,
            context: 128,
            rope_base: 10000.0,
            tied: true,
            arch: "llama",
            rope_freqs: false,
            pre: "smollm",
            mixed_types: false,
        }
    }
}

fn f16_bytes(x: f32) -> [u8; 2] {
    f16::from_f32(x).to_le_bytes()
}

/// Random Q4_1 blocks for `n` weights: scales and mins chosen so weights stay within ±0.1.
pub fn random_q4_1(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n / 32 * 20);
    for _ in 0..n / 32 {
        let d = 0.004 + 0.008 * rng.next_f32();
        let m = -(d * 7.5) + 0.01 * (rng.next_f32() - 0.5);
        out.extend_from_slice(&f16_bytes(d));
        out.extend_from_slice(&f16_bytes(m));
        for _ in 0..16 {
            out.push((rng.next_u64() & 0xFF) as u8);
        }
    }
    out
}

/// Random Q8_0 blocks (embedding-sized values, about ±1).
pub fn random_q8_0(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n / 32 * 34);
    for _ in 0..n / 32 {
        out.extend_from_slice(&f16_bytes(0.004 + 0.006 * rng.next_f32()));
        for _ in 0..32 {
            out.push((rng.next_u64() & 0xFF) as u8);
        }
    }
    out
}

/// Random Q5_0 blocks (weights within about ±0.1).
pub fn random_q5_0(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n / 32 * 22);
    for _ in 0..n / 32 {
        out.extend_from_slice(&f16_bytes(0.003 + 0.004 * rng.next_f32()));
        (0..20).for_each(|_| out.push(rng.next_u64() as u8));
    }
    out
}

/// Random Q5_1 blocks (weights within about ±0.1).
pub fn random_q5_1(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n / 32 * 24);
    for _ in 0..n / 32 {
        let d = 0.003 + 0.004 * rng.next_f32();
        out.extend_from_slice(&f16_bytes(d));
        out.extend_from_slice(&f16_bytes(-15.5 * d + 0.01 * (rng.next_f32() - 0.5)));
        (0..20).for_each(|_| out.push(rng.next_u64() as u8));
    }
    out
}

/// Random Q4_K blocks: every byte of scales, mins and nibbles random; `d`, `dmin` chosen so
/// that weights stay within about ±0.2.
pub fn random_q4_k(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n / 256 * 144);
    for _ in 0..n / 256 {
        out.extend_from_slice(&f16_bytes(0.0002 + 0.0003 * rng.next_f32()));
        out.extend_from_slice(&f16_bytes(0.001 + 0.002 * rng.next_f32()));
        (0..140).for_each(|_| out.push(rng.next_u64() as u8));
    }
    out
}

/// Random Q6_K blocks: random low and high bits and signed scales; `d` keeps weights within
/// about ±0.2.
pub fn random_q6_k(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n / 256 * 210);
    for _ in 0..n / 256 {
        (0..208).for_each(|_| out.push(rng.next_u64() as u8));
        out.extend_from_slice(&f16_bytes(2e-5 + 3e-5 * rng.next_f32()));
    }
    out
}

/// `n` random weights of GGUF type `ty` (one of the types with a generator above).
pub fn random_of_type(rng: &mut Rng, ty: aisle::quant::GgmlType, n: usize) -> Vec<u8> {
    use aisle::quant::GgmlType::*;
    match ty {
        Q4_1 => random_q4_1(rng, n),
        Q8_0 => random_q8_0(rng, n),
        Q5_0 => random_q5_0(rng, n),
        Q5_1 => random_q5_1(rng, n),
        Q4_K => random_q4_k(rng, n),
        Q6_K => random_q6_k(rng, n),
        Q4_0 => {
            let mut out = Vec::new();
            for _ in 0..n / 32 {
                out.extend_from_slice(&f16_bytes(0.002 + 0.02 * rng.next_f32()));
                (0..16).for_each(|_| out.push(rng.next_u64() as u8));
            }
            out
        }
        other => panic!("no random generator for {other:?}"),
    }
}

pub fn random_f32(rng: &mut Rng, n: usize, center: f32, spread: f32) -> Vec<u8> {
    (0..n).flat_map(|_| (center + spread * (rng.next_f32() - 0.5)).to_le_bytes()).collect()
}

/// Writes a complete tiny Llama GGUF (byte-level vocabulary of single characters, no merges).
pub fn tiny_model(cfg: TinyConfig, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut w = GgufWriter::default();
    let (e, ff, hd) = (cfg.n_embd as u64, cfg.n_ff as u64, (cfg.n_embd / cfg.n_heads) as u64);
    let kv = hd * cfg.n_kv_heads as u64;
    let a = cfg.arch;
    w.kv("general.architecture", Value::String(a.into()))
        .kv("general.alignment", Value::U32(32))
        .kv("general.name", Value::String("tiny-test".into()))
        .kv(&format!("{a}.block_count"), Value::U32(cfg.n_layers as u32))
        .kv(&format!("{a}.context_length"), Value::U32(cfg.context as u32))
        .kv(&format!("{a}.embedding_length"), Value::U32(cfg.n_embd as u32))
        .kv(&format!("{a}.feed_forward_length"), Value::U32(cfg.n_ff as u32))
        .kv(&format!("{a}.attention.head_count"), Value::U32(cfg.n_heads as u32))
        .kv(&format!("{a}.attention.head_count_kv"), Value::U32(cfg.n_kv_heads as u32))
        .kv(&format!("{a}.rope.freq_base"), Value::F32(cfg.rope_base))
        .kv(&format!("{a}.attention.layer_norm_rms_epsilon"), Value::F32(1e-5))
        .kv(&format!("{a}.vocab_size"), Value::U32(cfg.vocab as u32));
    // Vocabulary: control tokens, then printable ASCII as GPT-2 byte-level strings.
    let mut tokens: Vec<String> = vec!["<|endoftext|>".into(), "<|im_start|>".into(), "<|im_end|>".into()];
    let mut types = vec![Value::I32(3), Value::I32(3), Value::I32(3)];
    for b in 0x21u8..0x7F {
        if tokens.len() == cfg.vocab {
            break;
        }
        tokens.push((b as char).to_string());
        types.push(Value::I32(1));
    }
    while tokens.len() < cfg.vocab {
        tokens.push(format!("<unused{}>", tokens.len()));
        types.push(Value::I32(5));
    }
    let tok_refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    w.kv("tokenizer.ggml.model", Value::String("gpt2".into()))
        .kv("tokenizer.ggml.pre", Value::String(cfg.pre.into()))
        .kv("tokenizer.ggml.tokens", str_array(&tok_refs))
        .kv("tokenizer.ggml.token_type", Value::Array(ValueType::I32, types))
        .kv("tokenizer.ggml.merges", str_array(&[]))
        .kv("tokenizer.ggml.bos_token_id", Value::U32(1))
        .kv("tokenizer.ggml.eos_token_id", Value::U32(2));

    let v = cfg.vocab as u64;
    use aisle::quant::GgmlType as T;
    // (type of q and k, v, output, gate, up, down, embedding)
    let t = if cfg.mixed_types {
        [T::Q4_K, T::Q6_K, T::Q5_0, T::Q4_K, T::Q5_1, T::Q6_K, T::Q6_K]
    } else {
        [T::Q4_1, T::Q4_1, T::Q4_1, T::Q4_1, T::Q4_1, T::Q4_1, T::Q8_0]
    };
    let lin = |w: &mut GgufWriter, rng: &mut Rng, name: &str, dims: [u64; 2], ty: T| {
        w.tensor(name, &dims, ty.id(), random_of_type(rng, ty, (dims[0] * dims[1]) as usize));
    };
    lin(&mut w, &mut rng, "token_embd.weight", [e, v], t[6]);
    w.tensor("output_norm.weight", &[e], 0, random_f32(&mut rng, e as usize, 1.0, 0.2));
    if cfg.rope_freqs {
        w.tensor("rope_freqs.weight", &[hd / 2], 0, random_f32(&mut rng, hd as usize / 2, 4.0, 6.0));
    }
    if !cfg.tied {
        w.tensor("output.weight", &[e, v], 3, random_q4_1(&mut rng, (e * v) as usize));
    }
    for i in 0..cfg.n_layers {
        let p = |s: &str| format!("blk.{i}.{s}");
        w.tensor(&p("attn_norm.weight"), &[e], 0, random_f32(&mut rng, e as usize, 1.0, 0.2));
        lin(&mut w, &mut rng, &p("attn_q.weight"), [e, e], t[0]);
        lin(&mut w, &mut rng, &p("attn_k.weight"), [e, kv], t[0]);
        lin(&mut w, &mut rng, &p("attn_v.weight"), [e, kv], t[1]);
        if cfg.arch == "qwen2" {
            w.tensor(&p("attn_q.bias"), &[e], 0, random_f32(&mut rng, e as usize, 0.0, 0.4));
            w.tensor(&p("attn_k.bias"), &[kv], 0, random_f32(&mut rng, kv as usize, 0.0, 0.4));
            w.tensor(&p("attn_v.bias"), &[kv], 0, random_f32(&mut rng, kv as usize, 0.0, 0.4));
        }
        lin(&mut w, &mut rng, &p("attn_output.weight"), [e, e], t[2]);
        w.tensor(&p("ffn_norm.weight"), &[e], 0, random_f32(&mut rng, e as usize, 1.0, 0.2));
        lin(&mut w, &mut rng, &p("ffn_gate.weight"), [e, ff], t[3]);
        lin(&mut w, &mut rng, &p("ffn_up.weight"), [e, ff], t[4]);
        lin(&mut w, &mut rng, &p("ffn_down.weight"), [ff, e], t[5]);
    }
    w.to_bytes()
}

// ---------------------------------------------------------------------------------------------
// Naive reference forward pass (f64 loops, no burn): what the model must compute.

struct Mat {
    rows: usize,
    cols: usize,
    w: Vec<f32>, // row-major [rows, cols]: GGUF order
}

impl Mat {
    /// y[r] = sum_c w[r, c] x[c]
    fn mul(&self, x: &[f64]) -> Vec<f64> {
        (0..self.rows)
            .map(|r| self.w[r * self.cols..(r + 1) * self.cols].iter().zip(x).map(|(&w, &x)| w as f64 * x).sum())
            .collect()
    }
}

fn load_mat(g: &aisle::gguf::Gguf, bytes: &[u8], name: &str) -> Mat {
    let info = g.tensor(name).unwrap_or_else(|| panic!("{name}"));
    let raw = g.tensor_bytes(bytes, info).unwrap();
    let w = aisle::quant::dequantize_to_vec(info.ggml_type, raw, info.n_elements() as usize).unwrap();
    let (rows, cols) = info.rows_cols();
    Mat { rows, cols, w }
}

fn rms(x: &[f64], w: &Mat, eps: f64) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let s = 1.0 / (ms + eps).sqrt();
    x.iter().zip(&w.w).map(|(v, &g)| v * s * g as f64).collect()
}

/// RoPE of one head vector at position `pos`: pairs (2i, 2i+1) for llama, (i, i + d/2) for
/// qwen2; angles divided by `freqs[i]` when the file has Llama 3 frequency factors.
fn rope(x: &mut [f64], pos: usize, base: f64, half_split: bool, freqs: Option<&[f32]>) {
    let d = x.len();
    for i in 0..d / 2 {
        let factor = freqs.map_or(1.0, |f| f[i] as f64);
        let theta = pos as f64 * base.powf(-2.0 * i as f64 / d as f64) / factor;
        let (s, c) = theta.sin_cos();
        let (j, k) = if half_split { (i, i + d / 2) } else { (2 * i, 2 * i + 1) };
        let (a, b) = (x[j], x[k]);
        x[j] = a * c - b * s;
        x[k] = a * s + b * c;
    }
}

fn add_bias(g: &aisle::gguf::Gguf, bytes: &[u8], name: &str, y: &mut [f64]) {
    if g.tensor(name).is_some() {
        for (v, b) in y.iter_mut().zip(&load_mat(g, bytes, name).w) {
            *v += *b as f64;
        }
    }
}

/// Logits at every position of `tokens`, computed naively from the GGUF (arch `llama`).
pub fn naive_logits(bytes: &[u8], tokens: &[u32]) -> Vec<Vec<f32>> {
    let g = aisle::gguf::Gguf::parse(bytes).unwrap();
    let cfg = aisle::model::LlamaConfig::from_gguf(&g).unwrap();
    let (e, hd, nh, nkv) = (cfg.n_embd, cfg.head_dim, cfg.n_heads, cfg.n_kv_heads);
    let eps = cfg.rms_eps as f64;
    let embd = load_mat(&g, bytes, "token_embd.weight");
    let head = if g.tensor("output.weight").is_some() {
        load_mat(&g, bytes, "output.weight")
    } else {
        load_mat(&g, bytes, "token_embd.weight")
    };
    let out_norm = load_mat(&g, bytes, "output_norm.weight");
    let half_split = cfg.architecture == "qwen2";
    let freqs = g.tensor("rope_freqs.weight").map(|_| load_mat(&g, bytes, "rope_freqs.weight").w);
    let mut k_cache: Vec<Vec<Vec<f64>>> = vec![Vec::new(); cfg.n_layers]; // [layer][pos] -> kv_dim
    let mut v_cache: Vec<Vec<Vec<f64>>> = vec![Vec::new(); cfg.n_layers];
    let mut all = Vec::new();
    for (pos, &t) in tokens.iter().enumerate() {
        let mut x: Vec<f64> = embd.w[t as usize * e..(t as usize + 1) * e].iter().map(|&v| v as f64).collect();
        for l in 0..cfg.n_layers {
            let m = |s: &str| load_mat(&g, bytes, &format!("blk.{l}.{s}"));
            let h = rms(&x, &m("attn_norm.weight"), eps);
            let mut q = m("attn_q.weight").mul(&h);
            let mut k = m("attn_k.weight").mul(&h);
            let mut v = m("attn_v.weight").mul(&h);
            add_bias(&g, bytes, &format!("blk.{l}.attn_q.bias"), &mut q);
            add_bias(&g, bytes, &format!("blk.{l}.attn_k.bias"), &mut k);
            add_bias(&g, bytes, &format!("blk.{l}.attn_v.bias"), &mut v);
            for hh in 0..nh {
                rope(&mut q[hh * hd..(hh + 1) * hd], pos, cfg.rope_base as f64, half_split, freqs.as_deref());
            }
            for hh in 0..nkv {
                rope(&mut k[hh * hd..(hh + 1) * hd], pos, cfg.rope_base as f64, half_split, freqs.as_deref());
            }
            k_cache[l].push(k);
            v_cache[l].push(v);
            let mut attn = vec![0f64; nh * hd];
            for hh in 0..nh {
                let kvh = hh / (nh / nkv);
                let qh = &q[hh * hd..(hh + 1) * hd];
                let scores: Vec<f64> = k_cache[l]
                    .iter()
                    .map(|k| {
                        qh.iter().zip(&k[kvh * hd..(kvh + 1) * hd]).map(|(a, b)| a * b).sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
                let ex: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
                let z: f64 = ex.iter().sum();
                for (p, vv) in ex.iter().zip(&v_cache[l]) {
                    for d in 0..hd {
                        attn[hh * hd + d] += p / z * vv[kvh * hd + d];
                    }
                }
            }
            let o = m("attn_output.weight").mul(&attn);
            for i in 0..e {
                x[i] += o[i];
            }
            let h = rms(&x, &m("ffn_norm.weight"), eps);
            let gate = m("ffn_gate.weight").mul(&h);
            let up = m("ffn_up.weight").mul(&h);
            let act: Vec<f64> = gate.iter().zip(&up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            let down = m("ffn_down.weight").mul(&act);
            for i in 0..e {
                x[i] += down[i];
            }
        }
        let h = rms(&x, &out_norm, eps);
        all.push(head.mul(&h).iter().map(|&v| v as f32).collect());
    }
    all
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

// ------------------------------------------------------------ random kernel inputs

pub fn random_vec(rng: &mut Rng, n: usize, spread: f32) -> Vec<f32> {
    (0..n).map(|_| spread * (2.0 * rng.next_f32() - 1.0)).collect()
}

/// `n` weights of random blocks of `ty`.
pub fn random_blocks(rng: &mut Rng, ty: GgmlType, n: usize) -> Vec<u8> {
    random_of_type(rng, ty, n)
}

/// Six (rows, cols, tokens) shapes.
pub type Shapes = [(usize, usize, usize); 6];

/// Every type with a device format, and shapes its blocks fit.
pub fn formats_and_shapes() -> Vec<(GgmlType, Shapes)> {
    const K_SHAPES: Shapes = [(1, 256, 1), (7, 512, 1), (130, 1536, 1), (64, 256, 3), (33, 512, 9), (96, 256, 17)];
    use GgmlType::*;
    vec![
        (Q4_1, SHAPES),
        (Q4_0, SHAPES),
        (Q8_0, SHAPES),
        (Q5_0, SHAPES),
        (Q5_1, SHAPES),
        (Q4_K, K_SHAPES),
        (Q6_K, K_SHAPES),
    ]
}

pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: element {i}: got {g}, want {w}");
    }
}

/// One block of `ty` (Q4_0, Q5_0: the scale comes first) with scale `d`.
pub fn scaled_block(ty: GgmlType, d: f32) -> Vec<u8> {
    let mut b = vec![0x37u8; ty.type_size()];
    b[..2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
    b
}

pub const SHAPES: Shapes = [(1, 32, 1), (7, 64, 1), (130, 576, 1), (64, 96, 3), (33, 256, 9), (96, 64, 17)];
