//! The forward pass's vector ops on the CPU in plain f32: RMSNorm, RoPE with the KV-cache
//! write, and causal GQA attention. The CPU path runs them, and they are the references the
//! GPU kernels are tested against (`tests/kernels.rs`): one implementation of each op besides
//! the kernel, and the burn-ops forward (`super::super::reference`) for the whole model.

/// How the heads sit in a row of the fused projection (`[q heads | k heads | v heads]`, each
/// `head_dim` wide) and in the cache (`[n_kv, capacity, head_dim]`).
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub n_heads: usize,
    pub n_kv: usize,
    pub head_dim: usize,
}

impl Heads {
    /// Width of one row of the fused projection: `(H + 2KV)·hd`.
    pub fn qkv_width(&self) -> usize {
        (self.n_heads + 2 * self.n_kv) * self.head_dim
    }
}

/// `out[t] = x[t] / sqrt(mean(x[t]²) + eps) · w` for every row of `x` (`[m, d]`, `w: [d]`).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let s = 1.0 / (ms + eps).sqrt();
        for ((o, v), g) in o.iter_mut().zip(row).zip(w) {
            *o = v * s * g;
        }
    }
}

/// Rotates one head vector in place by the angles of one position (`cos`, `sin`:
/// `[rope_dims/2]`): pairs `(2i, 2i+1)` (Llama) or `(i, i + rope_dims/2)` (NeoX, `half_split`);
/// dimensions past `rope_dims` stay as they are.
pub fn rope(v: &mut [f32], cos: &[f32], sin: &[f32], half_split: bool) {
    let half = cos.len();
    for i in 0..half {
        let (a, b) = if half_split { (i, i + half) } else { (2 * i, 2 * i + 1) };
        let (x0, x1) = (v[a], v[b]);
        v[a] = x0 * cos[i] - x1 * sin[i];
        v[b] = x0 * sin[i] + x1 * cos[i];
    }
}

/// Rotates the query and key heads of the rows of `qkv` (`[m, (H+2KV)·hd]`, positions
/// `pos..pos+m`) in place and writes each row's keys and values into the cache (`k`, `v`:
/// `[n_kv, capacity, hd]`). `cos`, `sin`: `[positions, rope_dims/2]`.
#[allow(clippy::too_many_arguments)]
pub fn rope_kv_write(
    qkv: &mut [f32],
    heads: Heads,
    cos: &[f32],
    sin: &[f32],
    half: usize,
    half_split: bool,
    (k, v): (&mut [f32], &mut [f32]),
    capacity: usize,
    pos: usize,
) {
    let Heads { n_heads: nh, n_kv: nkv, head_dim: hd } = heads;
    for (t, row) in qkv.chunks_exact_mut(heads.qkv_width()).enumerate() {
        let p = pos + t;
        let (c, s) = (&cos[p * half..(p + 1) * half], &sin[p * half..(p + 1) * half]);
        for head in row[..(nh + nkv) * hd].chunks_exact_mut(hd) {
            rope(head, c, s, half_split);
        }
        for kvh in 0..nkv {
            let dst = (kvh * capacity + p) * hd;
            k[dst..dst + hd].copy_from_slice(&row[(nh + kvh) * hd..(nh + kvh + 1) * hd]);
            v[dst..dst + hd].copy_from_slice(&row[(nh + nkv + kvh) * hd..(nh + nkv + kvh + 1) * hd]);
        }
    }
}

/// Causal GQA attention of `m` query rows (positions `pos..pos+m`; row `t`'s heads at
/// `q[t·q_stride..]`, `[H, hd]`) over the cache (`k`, `v`: `[n_kv, capacity, hd]`) ->
/// `out: [m, H·hd]`. Heads run in parallel natively.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &[f32],
    q_stride: usize,
    (k, v): (&[f32], &[f32]),
    heads: Heads,
    capacity: usize,
    pos: usize,
    m: usize,
    out: &mut [f32],
) {
    let Heads { n_heads: nh, n_kv: nkv, head_dim: hd } = heads;
    let scale = 1.0 / (hd as f32).sqrt();
    for t in 0..m {
        let n = pos + t + 1;
        let head = |(h, o): (usize, &mut [f32])| {
            let kvh = h / (nh / nkv);
            let qh = &q[t * q_stride + h * hd..t * q_stride + (h + 1) * hd];
            let base = kvh * capacity * hd;
            let mut scores = vec![0f32; n]; // [positions]
            let mut max = f32::MIN;
            for (p, s) in scores.iter_mut().enumerate() {
                *s = dot(qh, &k[base + p * hd..base + (p + 1) * hd]) * scale;
                max = max.max(*s);
            }
            let mut z = 0.0;
            for s in &mut scores {
                *s = (*s - max).exp();
                z += *s;
            }
            o.fill(0.0);
            for (p, s) in scores.iter().enumerate() {
                let w = s / z;
                for (o, v) in o.iter_mut().zip(&v[base + p * hd..base + (p + 1) * hd]) {
                    *o += w * v;
                }
            }
        };
        let row = &mut out[t * nh * hd..(t + 1) * nh * hd];
        #[cfg(not(target_family = "wasm"))]
        {
            use rayon::prelude::*;
            row.par_chunks_mut(hd).enumerate().for_each(head);
        }
        #[cfg(target_family = "wasm")]
        row.chunks_mut(hd).enumerate().for_each(head);
    }
}

/// `Σ a·b` in eight lanes, so that it vectorizes (a plain fold is one serial chain).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let n = a.len().min(b.len()) / 8 * 8;
    for (ca, cb) in a[..n].chunks_exact(8).zip(b[..n].chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += ca[j] * cb[j];
        }
    }
    let tail: f32 = a[n..].iter().zip(&b[n..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}
