//! The CPU path's weight matrix: a quantized `[rows, cols]` matrix kept at the file's size,
//! and its products with activation vectors. The portable loops here are the reference the
//! ISA kernels ([`super::avx2`], [`super::simd128`], [`super::int8`]) are tested against
//! (`tests/kernels.rs`), and the path for processors that have none of them.

use crate::quant::{self, GgmlType};

/// f16 bits to f32, by table: wasm has no conversion instruction, and two lookups per block
/// of 32 weights cost nothing next to the block's arithmetic. Keeping the scales as f16 (as
/// the file has them) keeps the weights at the file's size instead of 13 % above it.
pub(super) static F16_TO_F32: std::sync::LazyLock<Box<[f32; 65536]>> = std::sync::LazyLock::new(|| {
    let mut t = Box::new([0f32; 65536]);
    for (bits, v) in t.iter_mut().enumerate() {
        *v = half::f16::from_bits(bits as u16).to_f32();
    }
    t
});

/// Whether the processor has AVX2 and FMA, which every x86-64 kernel of [`super::avx2`] and
/// [`super::int8`] needs: the one place the CPU path asks (the answer is cached by std).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// How a matrix's blocks are kept, decided once at load: what [`QMat`]'s fields hold and
/// which kernels serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// Q4_0 / Q4_1: per block a scale `d`, a min `m` and 16 bytes of nibbles.
    Q4,
    /// Q5_0 / Q5_1: as [`Layout::Q4`], plus the fifth bits in `qh`.
    Q5,
    /// Q8_0: per block a scale `d` and 32 signed bytes.
    Q8,
    /// Any other type (K-quants, f16, ...): the GGUF blocks as stored in `q`.
    Raw(GgmlType),
}

/// A quantized `[rows, cols]` matrix, its blocks split into scales and values.
pub struct QMat {
    pub rows: usize,
    pub cols: usize,
    /// Per block: scale `d` (f16 bits).
    pub(super) d: Vec<u16>,
    /// Per block: min `m` (f16 bits; Q4_0 as `-8d`, Q5_0 as `-16d`; empty for Q8_0).
    pub(super) m: Vec<u16>,
    /// Q4_x/Q5_x: 16 bytes of nibbles per block; Q8_0: 32 signed bytes per block; any other
    /// type: the GGUF blocks as stored.
    pub(super) q: Vec<u8>,
    /// Q5_0/Q5_1: per block the fifth bits (bit `j` adds 16 to element `j`); empty otherwise.
    /// Q5 is Q4 plus `16·d·Σ_{bit j set} x[j]`, so the Q4 kernels serve it with one more term.
    pub(super) qh: Vec<u32>,
    /// Which of the above hold what. [`Layout::Raw`] rows are dequantized by the reference in
    /// [`crate::quant`] as they are used, so the weights still stay at the file's size.
    pub(super) layout: Layout,
}

impl QMat {
    /// Whether a GGUF tensor type can be a CPU path weight: the types with a dedicated kernel
    /// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and every other type the reference dequantizes.
    pub fn supports(ty: GgmlType) -> bool {
        ty.can_dequantize()
    }

    /// Whether `ty` has a dedicated kernel (blocks split into scales and values).
    fn dedicated(ty: GgmlType) -> bool {
        matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0)
    }

    /// Takes the GGUF blocks of a `[rows, cols]` matrix (`cols` a multiple of 32 and of the
    /// type's block), split into scales and values where `ty` has a dedicated kernel.
    pub fn from_blocks(ty: GgmlType, raw: &[u8], rows: usize, cols: usize) -> Result<Self, quant::QuantError> {
        if !Self::supports(ty) {
            return Err(quant::QuantError::Unsupported(ty));
        }
        let expected = rows * cols / ty.block_size() * ty.type_size();
        if !cols.is_multiple_of(32) || !cols.is_multiple_of(ty.block_size()) || raw.len() != expected {
            return Err(quant::QuantError::SizeMismatch { ty, n_bytes: raw.len(), n_elements: rows * cols, expected });
        }
        if !Self::dedicated(ty) {
            let q = raw.to_vec();
            let (d, m, qh) = (Vec::new(), Vec::new(), Vec::new());
            return Ok(QMat { rows, cols, d, m, q, qh, layout: Layout::Raw(ty) });
        }
        let nb = rows * cols / 32;
        let half = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let (mut d, mut m, mut q, mut qh) = (Vec::with_capacity(nb), Vec::new(), Vec::new(), Vec::new());
        let word = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // Q4_0 and Q5_0 as Q4_1 and Q5_1 with the min -k·d.
        let min_of = |scale: u16| quant::offset_min(ty, half::f16::from_bits(scale)).map(|m| m.to_bits());
        match ty {
            GgmlType::Q4_1 | GgmlType::Q4_0 => {
                m.reserve(nb);
                q.reserve(nb * 16);
                for b in raw.chunks_exact(ty.type_size()) {
                    let scale = half(b, 0);
                    d.push(scale);
                    if ty == GgmlType::Q4_1 {
                        m.push(half(b, 2));
                        q.extend_from_slice(&b[4..20]);
                    } else {
                        m.push(min_of(scale)?);
                        q.extend_from_slice(&b[2..18]);
                    }
                }
            }
            GgmlType::Q5_1 | GgmlType::Q5_0 => {
                m.reserve(nb);
                q.reserve(nb * 16);
                qh.reserve(nb);
                for b in raw.chunks_exact(ty.type_size()) {
                    let scale = half(b, 0);
                    d.push(scale);
                    if ty == GgmlType::Q5_1 {
                        m.push(half(b, 2));
                        qh.push(word(b, 4));
                        q.extend_from_slice(&b[8..24]);
                    } else {
                        m.push(min_of(scale)?);
                        qh.push(word(b, 2));
                        q.extend_from_slice(&b[6..22]);
                    }
                }
            }
            GgmlType::Q8_0 => {
                q.reserve(nb * 32);
                for b in raw.chunks_exact(34) {
                    d.push(half(b, 0));
                    q.extend_from_slice(&b[2..34]);
                }
            }
            other => return Err(quant::QuantError::Unsupported(other)),
        }
        let layout = match ty {
            GgmlType::Q8_0 => Layout::Q8,
            GgmlType::Q5_0 | GgmlType::Q5_1 => Layout::Q5,
            _ => Layout::Q4,
        };
        Ok(QMat { rows, cols, d, m, q, qh, layout })
    }

    pub fn bytes(&self) -> u64 {
        ((self.d.len() + self.m.len()) * 2 + self.q.len() + self.qh.len() * 4) as u64
    }

    /// Whether this is a Q4_K or Q6_K matrix (kept as stored, with decode kernels of its own
    /// in AVX2 and SIMD128; prefill and other processors dequantize its rows).
    pub(super) fn k_quant(&self) -> bool {
        matches!(self.layout, Layout::Raw(GgmlType::Q4_K | GgmlType::Q6_K))
    }

    /// Whether the blocks are kept as stored ([`Layout::Raw`]).
    fn raw(&self) -> bool {
        matches!(self.layout, Layout::Raw(_))
    }

    /// Row `r`'s blocks as the file stores them (types kept as stored).
    #[inline(always)]
    pub(super) fn raw_row(&self, r: usize) -> &[u8] {
        let len = self.q.len() / self.rows;
        &self.q[r * len..(r + 1) * len]
    }

    /// The fifth bits of block `k` (0 for Q4 and Q8 layouts).
    #[inline(always)]
    pub(super) fn high_bits(&self, k: usize) -> u32 {
        self.qh.get(k).copied().unwrap_or(0)
    }

    /// Row `r` dequantized into `out` (`cols` values).
    pub fn row(&self, r: usize, out: &mut [f32]) {
        if let Layout::Raw(ty) = self.layout {
            // Type and sizes were checked in `from_blocks`; a failure here is a bug of ours.
            quant::dequantize(ty, self.raw_row(r), out).expect("row blocks checked at load");
            return;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.layout == Layout::Q4 {
            return super::simd128::row_q4(self, r, out);
        }
        let nb = self.cols / 32;
        let f16: &[f32; 65536] = &F16_TO_F32;
        for b in 0..nb {
            let k = r * nb + b;
            let y = &mut out[b * 32..b * 32 + 32];
            if self.layout == Layout::Q8 {
                let q = &self.q[k * 32..k * 32 + 32];
                for j in 0..32 {
                    y[j] = (q[j] as i8) as f32 * f16[self.d[k] as usize];
                }
            } else {
                let q = &self.q[k * 16..k * 16 + 16];
                let (d, m) = (f16[self.d[k] as usize], f16[self.m[k] as usize]);
                let h = self.high_bits(k);
                for j in 0..16 {
                    let (h0, h1) = ((h >> j) & 1, (h >> (j + 16)) & 1);
                    y[j] = ((q[j] & 15) as u32 | h0 << 4) as f32 * d + m;
                    y[j + 16] = ((q[j] >> 4) as u32 | h1 << 4) as f32 * d + m;
                }
            }
        }
    }

    /// `Σ_k W[r, k] · x[k]` for one row and one vector; `sums[b]` is `Σ x` over block `b`.
    #[inline(always)]
    fn dot(&self, r: usize, x: &[f32], sums: &[f32]) -> f32 {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            super::simd128::dot_row(self, r, x, sums)
        }
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        {
            self.dot_portable(r, x, sums)
        }
    }

    /// [`QMat::dot`] as plain loops (LLVM vectorizes them for SSE/AVX2; the CPU reference).
    #[inline(always)]
    pub fn dot_portable(&self, r: usize, x: &[f32], sums: &[f32]) -> f32 {
        let nb = self.cols / 32;
        let f16: &[f32; 65536] = &F16_TO_F32;
        let mut acc = [0f32; 16];
        let mut min_term = 0f32;
        for b in 0..nb {
            let k = r * nb + b;
            let xb = &x[b * 32..b * 32 + 32];
            let d = f16[self.d[k] as usize];
            if self.layout == Layout::Q8 {
                let q = &self.q[k * 32..k * 32 + 32];
                for j in 0..16 {
                    acc[j] += d * ((q[j] as i8) as f32 * xb[j] + (q[j + 16] as i8) as f32 * xb[j + 16]);
                }
            } else {
                let q = &self.q[k * 16..k * 16 + 16];
                let h = self.high_bits(k);
                for j in 0..16 {
                    let (h0, h1) = ((h >> j) & 1, (h >> (j + 16)) & 1);
                    let (lo, hi) = ((q[j] & 15) as u32 | h0 << 4, (q[j] >> 4) as u32 | h1 << 4);
                    acc[j] += d * (lo as f32 * xb[j] + hi as f32 * xb[j + 16]);
                }
                min_term += f16[self.m[k] as usize] * sums[b];
            }
        }
        acc.iter().sum::<f32>() + min_term
    }

    /// `out[t, r] (+)= (W x_t)[r]` for `m` vectors `x: [m, cols]`, `out: [m, rows]`; a single
    /// vector with 8-bit activations if `int8` and the processor and format allow
    /// ([`QMat::int8_capable`]).
    pub fn matvec_with(&self, x: &[f32], m: usize, out: &mut [f32], accumulate: bool, int8: bool) {
        #[cfg(not(target_arch = "x86_64"))]
        let _ = int8; // 8-bit activations are an AVX2 path
        #[cfg(target_arch = "x86_64")]
        if int8 && m == 1 && self.int8_capable() {
            let act = super::int8::Act::new(x);
            // SAFETY: `int8_capable` checked the processor for AVX2 + FMA.
            let work = |r0: usize, block: &mut [f32]| unsafe { super::int8::rows(self, r0, block, &act, accumulate) };
            return super::threads::parallel_rows(out, 1, self.rows, work);
        }
        let sums: Vec<f32> = x.chunks_exact(32).map(|c| c.iter().sum()).collect(); // [m, cols/32]
        super::threads::parallel_rows(out, m, self.rows, |r0, block| {
            self.rows_dispatch(r0, block, x, &sums, m, accumulate)
        });
    }

    /// Whether this matrix can multiply a vector with 8-bit activations: a format with a
    /// dedicated kernel, on a processor with AVX2 + FMA.
    pub fn int8_capable(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return matches!(self.layout, Layout::Q4 | Layout::Q8) && avx2_fma();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// When the processor has AVX2 + FMA: decode through the [`super::avx2`] kernels, prefill through
    /// [`QMat::rows_into`] compiled for them. Otherwise `rows_into` as it is.
    fn rows_dispatch(&self, r0: usize, block: &mut [f32], x: &[f32], sums: &[f32], m: usize, accumulate: bool) {
        #[cfg(target_arch = "x86_64")]
        if avx2_fma() {
            // SAFETY (both): the features were just detected.
            if m == 1 && (!self.raw() || self.k_quant()) {
                return unsafe { super::avx2::rows(self, r0, block, x, sums, accumulate) };
            }
            return unsafe { self.rows_avx2(r0, block, x, sums, m, accumulate) };
        }
        self.rows_into(r0, block, x, sums, m, accumulate)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_avx2(&self, r0: usize, block: &mut [f32], x: &[f32], sums: &[f32], m: usize, accumulate: bool) {
        self.rows_into(r0, block, x, sums, m, accumulate)
    }

    /// Rows `r0..` of every token: `block[t * len + i] (+)= (W x_t)[r0 + i]`. One vector: the
    /// quantized dot product. Several (prefill): each row dequantized once, then plain f32 dot
    /// products with every vector.
    #[inline(always)]
    fn rows_into(&self, r0: usize, block: &mut [f32], x: &[f32], sums: &[f32], m: usize, accumulate: bool) {
        let nb = self.cols / 32;
        let len = block.len() / m;
        let cols = self.cols;
        let simd_k = cfg!(all(target_arch = "wasm32", target_feature = "simd128")) && self.k_quant();
        if m == 1 && (!self.raw() || simd_k) {
            for (i, o) in block.iter_mut().enumerate() {
                let v = self.dot(r0 + i, x, &sums[..nb]);
                *o = if accumulate { *o + v } else { v };
            }
            return;
        }
        // Prefill: TILE rows dequantized together, so that each token's vector is read once
        // per tile rather than once per row.
        let mut tile = vec![0f32; TILE * cols];
        for i0 in (0..len).step_by(TILE) {
            let n = TILE.min(len - i0);
            for j in 0..n {
                self.row(r0 + i0 + j, &mut tile[j * cols..(j + 1) * cols]);
            }
            tile[n * cols..].fill(0.0);
            // Tokens in groups of TOKENS, rows in fours: each loaded weight vector serves
            // several tokens and each token vector four rows (fewer loads per multiply-add).
            let mut t = 0;
            while t < m {
                let k = if m - t >= TOKENS { TOKENS } else { 1 };
                for g in (0..n).step_by(ROWS) {
                    let w = &tile[g * cols..(g + ROWS) * cols];
                    let xt = |d: usize| &x[(t + d) * cols..(t + d + 1) * cols];
                    let mut v = [[0f32; ROWS]; TOKENS];
                    if k == TOKENS {
                        v = dot_block::<TOKENS>(w, core::array::from_fn(xt), cols);
                    } else {
                        v[0] = dot_block::<1>(w, [xt(0)], cols)[0];
                    }
                    for (dt, row) in v.iter().enumerate().take(k) {
                        for (j, v) in row.iter().enumerate().take(n - g) {
                            let o = &mut block[(t + dt) * len + i0 + g + j];
                            *o = if accumulate { *o + v } else { *v };
                        }
                    }
                }
                t += k;
            }
        }
    }
}

/// Rows dequantized together in prefill.
const TILE: usize = 8;

/// Rows of a tile multiplied together in prefill.
pub(super) const ROWS: usize = 4;

/// Tokens multiplied together in prefill (with `ROWS`, sized for 16 vector registers; V8
/// spills with three in wasm, measured: 35 tok/s instead of 57).
#[cfg(not(target_family = "wasm"))]
const TOKENS: usize = 3;
#[cfg(target_family = "wasm")]
const TOKENS: usize = 2;

/// `out[t][r] = w_r · xs[t]` for the `ROWS` rows of `w` (`[ROWS, cols]`) and `T` vectors.
#[inline(always)]
pub(super) fn dot_block<const T: usize>(w: &[f32], xs: [&[f32]; T], cols: usize) -> [[f32; ROWS]; T] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        super::simd128::dot_block(w, xs, cols)
    }
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the features were just detected.
        return unsafe { super::avx2::dot_block(w, xs, cols) };
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let mut acc = [[[0f32; 8]; ROWS]; T];
        for c in (0..cols).step_by(8) {
            for r in 0..ROWS {
                let wv = &w[r * cols + c..r * cols + c + 8];
                for t in 0..T {
                    let xv = &xs[t][c..c + 8];
                    for j in 0..8 {
                        acc[t][r][j] += wv[j] * xv[j];
                    }
                }
            }
        }
        acc.map(|a| a.map(|v| v.iter().sum()))
    }
}

/// Walks a Q4_K row (`raw`: its 144-byte blocks as stored) in chunks of 64 values, calling
/// `chunk(nibbles, at, d1, d2)` for each: 32 bytes whose low nibbles are values `at..at+32`
/// (scale `d1`) and high nibbles `at+32..at+64` (scale `d2`). Returns the min term
/// `Σ dmin·m·Σx` from the per-32 sums of x, which the caller subtracts.
#[inline(always)]
pub(super) fn q4_k_chunks(raw: &[u8], sums: &[f32], mut chunk: impl FnMut(&[u8], usize, f32, f32)) -> f32 {
    let f16: &[f32; 65536] = &F16_TO_F32;
    let half = |b: &[u8], i: usize| f16[u16::from_le_bytes([b[i], b[i + 1]]) as usize];
    let mut min_term = 0f32;
    for (sb, b) in raw.chunks_exact(144).enumerate() {
        let (d, dmin, scales) = (half(b, 0), half(b, 2), &b[4..16]);
        for c in 0..4 {
            let (sc1, m1) = quant::scale_min_k4(2 * c, scales);
            let (sc2, m2) = quant::scale_min_k4(2 * c + 1, scales);
            chunk(&b[16 + 32 * c..48 + 32 * c], 256 * sb + 64 * c, d * sc1 as f32, d * sc2 as f32);
            let k = 8 * sb + 2 * c;
            min_term += dmin * (m1 as f32 * sums[k] + m2 as f32 * sums[k + 1]);
        }
    }
    min_term
}

/// Walks a Q6_K row (`raw`: its 210-byte blocks as stored) in groups of 32 values, calling
/// `group(ql, high, qh, shift, at, d1, d2)` for each: values `at..at+32` are the low (or, if
/// `high`, the high) nibbles of the 32 bytes `ql`, with bits `shift`, `shift+1` of the 32 bytes
/// `qh` as their fifth and sixth bits, minus 32; the first 16 scaled by `d1`, the rest by `d2`.
#[inline(always)]
pub(super) fn q6_k_groups(raw: &[u8], mut group: impl FnMut(&[u8], bool, &[u8], u32, usize, f32, f32)) {
    let f16: &[f32; 65536] = &F16_TO_F32;
    for (sb, b) in raw.chunks_exact(210).enumerate() {
        let d = f16[u16::from_le_bytes([b[208], b[209]]) as usize];
        for h in 0..2 {
            // Half h: ql[64h..64h+64], qh[128+32h..], scales[192+8h..]; group g takes the low
            // (g < 2) or high nibbles of ql at 64h + 32(g % 2) and bits 2g, 2g+1 of qh.
            let (qh, sc) = (&b[128 + 32 * h..160 + 32 * h], &b[192 + 8 * h..200 + 8 * h]);
            for g in 0..4 {
                let ql = &b[64 * h + 32 * (g % 2)..64 * h + 32 * (g % 2) + 32];
                let scale = |i: usize| d * (sc[i] as i8) as f32;
                group(ql, g >= 2, qh, 2 * g as u32, 256 * sb + 128 * h + 32 * g, scale(2 * g), scale(2 * g + 1));
            }
        }
    }
}
