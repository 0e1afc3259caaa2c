//! The forward pass on the CPU with weights kept quantized, for the browser without WebGPU
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

use super::ModelError;
use super::config::{LlamaConfig, RopeKind};
use super::kv_cache::KvCache;
use super::weights::{LayerTensors, QKV_BIASES, TensorSource, bias_name, unsupported_tensor};
use crate::gguf::Gguf;
use crate::quant::{self, GgmlType};

/// f16 bits to f32, by table: wasm has no conversion instruction, and two lookups per block
/// of 32 weights cost nothing next to the block's arithmetic. Keeping the scales as f16 (as
/// the file has them) keeps the weights at the file's size instead of 13 % above it.
static F16_TO_F32: std::sync::LazyLock<Box<[f32; 65536]>> = std::sync::LazyLock::new(|| {
    let mut t = Box::new([0f32; 65536]);
    for (bits, v) in t.iter_mut().enumerate() {
        *v = half::f16::from_bits(bits as u16).to_f32();
    }
    t
});

/// A quantized `[rows, cols]` matrix, its blocks split into scales and values.
pub struct QMat {
    pub rows: usize,
    pub cols: usize,
    /// Per block: scale `d` (f16 bits).
    d: Vec<u16>,
    /// Per block: min `m` (f16 bits; Q4_0 as `-8d`, Q5_0 as `-16d`; empty for Q8_0).
    m: Vec<u16>,
    /// Q4_x/Q5_x: 16 bytes of nibbles per block; Q8_0: 32 signed bytes per block; any other
    /// type: the GGUF blocks as stored.
    q: Vec<u8>,
    /// Q5_0/Q5_1: per block the fifth bits (bit `j` adds 16 to element `j`); empty otherwise.
    /// Q5 is Q4 plus `16·d·Σ_{bit j set} x[j]`, so the Q4 kernels serve it with one more term.
    qh: Vec<u32>,
    q8: bool,
    /// Set for the types without a dedicated layout (K-quants, f16, ...): their rows are
    /// dequantized by the reference in [`crate::quant`] as they are used, so the weights still
    /// stay at the file's size.
    other: Option<GgmlType>,
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
            return Ok(QMat { rows, cols, d, m, q, qh, q8: false, other: Some(ty) });
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
        Ok(QMat { rows, cols, d, m, q, qh, q8: ty == GgmlType::Q8_0, other: None })
    }

    pub fn bytes(&self) -> u64 {
        ((self.d.len() + self.m.len()) * 2 + self.q.len() + self.qh.len() * 4) as u64
    }

    /// Whether this is a Q4_K or Q6_K matrix (kept as stored, with decode kernels of its own
    /// in AVX2 and SIMD128; prefill and other processors dequantize its rows).
    fn k_quant(&self) -> bool {
        matches!(self.other, Some(GgmlType::Q4_K | GgmlType::Q6_K))
    }

    /// Row `r`'s blocks as the file stores them (types kept as stored).
    #[inline(always)]
    fn raw_row(&self, r: usize) -> &[u8] {
        let len = self.q.len() / self.rows;
        &self.q[r * len..(r + 1) * len]
    }

    /// The fifth bits of block `k` (0 for Q4 and Q8 layouts).
    #[inline(always)]
    fn high_bits(&self, k: usize) -> u32 {
        self.qh.get(k).copied().unwrap_or(0)
    }

    /// Row `r` dequantized into `out` (`cols` values).
    pub fn row(&self, r: usize, out: &mut [f32]) {
        if let Some(ty) = self.other {
            // Type and sizes were checked in `from_blocks`; a failure here is a bug of ours.
            quant::dequantize(ty, self.raw_row(r), out).expect("row blocks checked at load");
            return;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if !self.q8 && self.qh.is_empty() {
            return simd::row_q4(self, r, out);
        }
        let nb = self.cols / 32;
        let f16: &[f32; 65536] = &F16_TO_F32;
        for b in 0..nb {
            let k = r * nb + b;
            let y = &mut out[b * 32..b * 32 + 32];
            if self.q8 {
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
            simd::dot_row(self, r, x, sums)
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
            if self.q8 {
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
    /// vector with 8-bit activations when `AISLE_INT8_DECODE=1` asked for them ([`int8_decode`]).
    pub fn matvec(&self, x: &[f32], m: usize, out: &mut [f32], accumulate: bool) {
        self.matvec_with(x, m, out, accumulate, int8_decode())
    }

    /// [`QMat::matvec`], with 8-bit activations for a single vector if `int8` and the processor
    /// and format allow ([`QMat::int8_capable`]).
    pub fn matvec_with(&self, x: &[f32], m: usize, out: &mut [f32], accumulate: bool, int8: bool) {
        #[cfg(not(target_arch = "x86_64"))]
        let _ = int8; // 8-bit activations are an AVX2 path
        #[cfg(target_arch = "x86_64")]
        if int8 && m == 1 && self.int8_capable() {
            let act = int8::Act::new(x);
            // SAFETY: `int8_capable` checked the processor for AVX2 + FMA.
            let work = |r0: usize, block: &mut [f32]| unsafe { int8::rows(self, r0, block, &act, accumulate) };
            return parallel_rows(out, 1, self.rows, work);
        }
        let sums: Vec<f32> = x.chunks_exact(32).map(|c| c.iter().sum()).collect(); // [m, cols/32]
        parallel_rows(out, m, self.rows, |r0, block| self.rows_dispatch(r0, block, x, &sums, m, accumulate));
    }

    /// Whether this matrix can multiply a vector with 8-bit activations: a format with a
    /// dedicated kernel, on a processor with AVX2 + FMA.
    pub fn int8_capable(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.other.is_none()
            && self.qh.is_empty()
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// When the processor has AVX2 + FMA: decode through the [`avx2`] kernels, prefill through
    /// [`QMat::rows_into`] compiled for them. Otherwise `rows_into` as it is.
    fn rows_dispatch(&self, r0: usize, block: &mut [f32], x: &[f32], sums: &[f32], m: usize, accumulate: bool) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY (both): the features were just detected.
            if m == 1 && (self.other.is_none() || self.k_quant()) {
                return unsafe { avx2::rows(self, r0, block, x, sums, accumulate) };
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
        if m == 1 && (self.other.is_none() || simd_k) {
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

/// Decode (one token) with f32 activations in AVX2 + FMA: per block, the weights widened to
/// f32 in registers and multiplied with `x` in four fused multiply-adds, then scaled by `d` in
/// one more; LLVM's vectorization of [`QMat::dot_portable`] kept separate multiplies and adds
/// (no contraction without fast-math) in one serial chain and summed the lanes per row in
/// order. `dot_portable` stays the path for other processors; the kernel tests compare both with
/// the exact product.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    use super::{QMat, ROWS};
    use crate::quant::GgmlType;

    /// Rows `r0..` of the product with one vector: `block[i] (+)= (W x)[r0 + i]`; `sums[b]` is
    /// `Σ x` over block `b` (the min term).
    ///
    /// # Safety
    /// The processor must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rows(w: &QMat, r0: usize, block: &mut [f32], x: &[f32], sums: &[f32], accumulate: bool) {
        let nb = w.cols / 32;
        assert!(x.len() >= nb * 32 && sums.len() >= nb && r0 + block.len() <= w.rows);
        for (i, o) in block.iter_mut().enumerate() {
            // SAFETY: the caller guarantees AVX2 + FMA; lengths asserted above.
            let v = unsafe {
                match w.other {
                    Some(GgmlType::Q4_K) => row_q4_k(w.raw_row(r0 + i), x, sums),
                    Some(GgmlType::Q6_K) => row_q6_k(w.raw_row(r0 + i), x),
                    _ if w.q8 => row_q8(w, r0 + i, x),
                    _ => row_q4(w, r0 + i, x, sums),
                }
            };
            *o = if accumulate { *o + v } else { v };
        }
    }

    /// [`super::dot_block`] (prefill) with fused multiply-adds: `out[t][r] = w_r · xs[t]`.
    ///
    /// # Safety
    /// The processor must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop)] // r and t index two dimensions of `acc`
    pub unsafe fn dot_block<const T: usize>(w: &[f32], xs: [&[f32]; T], cols: usize) -> [[f32; ROWS]; T] {
        let mut acc = [[_mm256_setzero_ps(); ROWS]; T];
        assert!(w.len() >= ROWS * cols && xs.iter().all(|x| x.len() >= cols) && cols.is_multiple_of(8));
        for c in (0..cols).step_by(8) {
            // SAFETY: `w` holds ROWS rows of `cols` floats and each x `cols` (asserted above).
            unsafe {
                let xv: [__m256; T] = core::array::from_fn(|t| _mm256_loadu_ps(xs[t].as_ptr().add(c)));
                for r in 0..ROWS {
                    let wv = _mm256_loadu_ps(w.as_ptr().add(r * cols + c));
                    for t in 0..T {
                        acc[t][r] = _mm256_fmadd_ps(wv, xv[t], acc[t][r]);
                    }
                }
            }
        }
        // SAFETY: AVX2 per this function's target features.
        acc.map(|a| a.map(|v| unsafe { hsum(v) }))
    }

    /// Lanes summed pairwise.
    #[inline(always)]
    pub(super) unsafe fn hsum(v: __m256) -> f32 {
        // SAFETY: AVX is implied by the caller's AVX2.
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            _mm_cvtss_f32(s)
        }
    }

    /// `acc + Σ v[j]·x[j]` in eight lanes for the 16 bytes of `v` (signed or unsigned) and
    /// the 16 floats at `xp`.
    #[inline(always)]
    unsafe fn fma16<const SIGNED: bool>(v: __m128i, xp: *const f32, acc: __m256) -> __m256 {
        // SAFETY: AVX2 + FMA per the caller; 16 floats readable at `xp` (the caller's asserts).
        unsafe {
            let widen =
                |v: __m128i| _mm256_cvtepi32_ps(if SIGNED { _mm256_cvtepi8_epi32(v) } else { _mm256_cvtepu8_epi32(v) });
            let acc = _mm256_fmadd_ps(widen(v), _mm256_loadu_ps(xp), acc);
            _mm256_fmadd_ps(widen(_mm_unpackhi_epi64(v, v)), _mm256_loadu_ps(xp.add(8)), acc)
        }
    }

    /// A Q4_K row (`raw`: its 144-byte blocks as stored): per block of 256, eight sub-blocks of
    /// 32 with 6-bit scales and mins, `y = d·sc·q - dmin·m`; the min term from `sums`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_q4_k(raw: &[u8], x: &[f32], sums: &[f32]) -> f32 {
        let low = _mm_set1_epi8(0x0F);
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let min_term = super::q4_k_chunks(raw, sums, |q, at, d1, d2| {
            // SAFETY: 32 bytes of nibbles; 64 values of x at `at` (the caller's asserts).
            unsafe {
                let qp = q.as_ptr();
                let (a, e) = (_mm_loadu_si128(qp as *const __m128i), _mm_loadu_si128(qp.add(16) as *const __m128i));
                let xp = x.as_ptr().add(at);
                let zero = _mm256_setzero_ps();
                let nib = |v| _mm_and_si128(v, low);
                let top = |v| _mm_and_si128(_mm_srli_epi16(v, 4), low);
                let s1 = fma16::<false>(nib(e), xp.add(16), fma16::<false>(nib(a), xp, zero));
                let s2 = fma16::<false>(top(e), xp.add(48), fma16::<false>(top(a), xp.add(32), zero));
                acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d1), s1, acc0);
                acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d2), s2, acc1);
            }
        });
        // SAFETY: AVX2 per this function's target features.
        unsafe { hsum(_mm256_add_ps(acc0, acc1)) - min_term }
    }

    /// A Q6_K row (`raw`: its 210-byte blocks as stored): per block of 256, sixteen sub-blocks
    /// of 16 with signed 8-bit scales, `y = d·sc·(q - 32)` with `q` from four low and two high
    /// bits.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_q6_k(raw: &[u8], x: &[f32]) -> f32 {
        let (low, three, bias) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(3), _mm256_set1_epi8(32));
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        super::q6_k_groups(raw, |ql, high, qh, shift, at, d1, d2| {
            // SAFETY: 32 bytes each of ql and qh; 32 values of x at `at` (the caller's asserts).
            unsafe {
                let ql = _mm256_loadu_si256(ql.as_ptr() as *const __m256i);
                let ql = if high { _mm256_srli_epi16(ql, 4) } else { ql };
                let qh = _mm256_loadu_si256(qh.as_ptr() as *const __m256i);
                let hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(shift as i32)), three);
                let q = _mm256_or_si256(_mm256_and_si256(ql, low), _mm256_slli_epi16(hi, 4));
                let q = _mm256_sub_epi8(q, bias); // [32] in -32..32
                let xp = x.as_ptr().add(at);
                let zero = _mm256_setzero_ps();
                let s1 = fma16::<true>(_mm256_castsi256_si128(q), xp, zero);
                let s2 = fma16::<true>(_mm256_extracti128_si256(q, 1), xp.add(16), zero);
                acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d1), s1, acc0);
                acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d2), s2, acc1);
            }
        });
        // SAFETY: AVX2 per this function's target features.
        unsafe { hsum(_mm256_add_ps(acc0, acc1)) }
    }

    /// `Σ_{bit j of h set} x[j]` over the 32 values at `xp`, in eight lanes.
    #[inline(always)]
    unsafe fn masked_sum(h: u32, xp: *const f32) -> __m256 {
        // SAFETY: AVX2 per the caller; 32 floats readable at `xp` (the caller's asserts).
        unsafe {
            let hv = _mm256_set1_epi32(h as i32);
            let mut bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
            let mut s = _mm256_setzero_ps();
            for i in 0..4 {
                let set = _mm256_cmpeq_epi32(_mm256_and_si256(hv, bits), bits);
                s = _mm256_add_ps(s, _mm256_and_ps(_mm256_castsi256_ps(set), _mm256_loadu_ps(xp.add(8 * i))));
                bits = _mm256_slli_epi32(bits, 8);
            }
            s
        }
    }

    /// Q4_1 (Q4_0, Q5_x stored as Q4_1 plus fifth bits) row `r`:
    /// `Σ_b d_b·(Σ q·x + 16·Σ_{h} x) + Σ_b m_b·Σ x`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_q4(w: &QMat, r: usize, x: &[f32], sums: &[f32]) -> f32 {
        let nb = w.cols / 32;
        let f16: &[f32; 65536] = &super::F16_TO_F32;
        let (d, m) = (&w.d[r * nb..(r + 1) * nb], &w.m[r * nb..(r + 1) * nb]);
        let q = &w.q[r * nb * 16..(r + 1) * nb * 16];
        let low = _mm_set1_epi8(0x0F);
        let q5 = !w.qh.is_empty();
        // Two accumulators: consecutive blocks do not wait on each other's last add.
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut min_term = 0f32;
        for b in 0..nb {
            // SAFETY: 16 bytes of nibbles and 32 values of x per block (the caller's asserts).
            unsafe {
                let raw = _mm_loadu_si128(q.as_ptr().add(b * 16) as *const __m128i);
                let lo = _mm_and_si128(raw, low); // elements 0..16
                let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), low); // elements 16..32
                let xp = x.as_ptr().add(b * 32);
                let mut s = fma16::<false>(hi, xp.add(16), fma16::<false>(lo, xp, _mm256_setzero_ps()));
                if q5 {
                    s = _mm256_fmadd_ps(_mm256_set1_ps(16.0), masked_sum(w.qh[r * nb + b], xp), s);
                }
                let scale = _mm256_set1_ps(f16[d[b] as usize]);
                if b % 2 == 0 {
                    acc0 = _mm256_fmadd_ps(scale, s, acc0);
                } else {
                    acc1 = _mm256_fmadd_ps(scale, s, acc1);
                }
            }
            min_term += f16[m[b] as usize] * sums[b];
        }
        // SAFETY: AVX2 per this function's target features.
        unsafe { hsum(_mm256_add_ps(acc0, acc1)) + min_term }
    }

    /// Q8_0 row `r`: `Σ_b d_b·Σ q·x`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_q8(w: &QMat, r: usize, x: &[f32]) -> f32 {
        let nb = w.cols / 32;
        let f16: &[f32; 65536] = &super::F16_TO_F32;
        let d = &w.d[r * nb..(r + 1) * nb];
        let q = &w.q[r * nb * 32..(r + 1) * nb * 32];
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for b in 0..nb {
            // SAFETY: 32 weight bytes and 32 values of x per block (the caller's asserts).
            unsafe {
                let qa = _mm_loadu_si128(q.as_ptr().add(b * 32) as *const __m128i);
                let qb = _mm_loadu_si128(q.as_ptr().add(b * 32 + 16) as *const __m128i);
                let xp = x.as_ptr().add(b * 32);
                let s = fma16::<true>(qb, xp.add(16), fma16::<true>(qa, xp, _mm256_setzero_ps()));
                let scale = _mm256_set1_ps(f16[d[b] as usize]);
                if b % 2 == 0 {
                    acc0 = _mm256_fmadd_ps(scale, s, acc0);
                } else {
                    acc1 = _mm256_fmadd_ps(scale, s, acc1);
                }
            }
        }
        // SAFETY: AVX2 per this function's target features.
        unsafe { hsum(_mm256_add_ps(acc0, acc1)) }
    }
}

/// Decode (one token) with activations rounded to 8 bits per block of 32, as llama.cpp does:
/// each block's dot product is then integer arithmetic (`maddubs`) on 32 bytes instead of 32
/// f32 multiply-adds. Opt-in ([`int8_decode`]): the rounding changes greedy replies.
#[cfg(target_arch = "x86_64")]
pub mod int8 {
    use core::arch::x86_64::*;

    use super::QMat;
    use super::avx2::hsum;

    /// A vector rounded to 8 bits per block of 32: `x ≈ d[b]·q[32b + j]`.
    pub struct Act {
        pub q: Vec<i8>,
        pub d: Vec<f32>,
        /// Per block, `Σ d·q` (the Q4_1 min term uses the rounded values, so that the product
        /// is exactly that of the rounded vector).
        pub sums: Vec<f32>,
    }

    impl Act {
        pub fn new(x: &[f32]) -> Act {
            let nb = x.len() / 32;
            let (mut q, mut d, mut sums) =
                (Vec::with_capacity(nb * 32), Vec::with_capacity(nb), Vec::with_capacity(nb));
            for b in x.chunks_exact(32) {
                let amax = b.iter().fold(0f32, |a, v| a.max(v.abs()));
                let scale = amax / 127.0;
                let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                let mut s = 0i32;
                for v in b {
                    let r = (v * inv).round().clamp(-127.0, 127.0) as i8;
                    s += r as i32;
                    q.push(r);
                }
                d.push(scale);
                sums.push(scale * s as f32);
            }
            Act { q, d, sums }
        }

        /// The rounded vector, `d·q` (what the products compute with; for tests).
        pub fn dequantized(&self) -> Vec<f32> {
            self.q.iter().enumerate().map(|(i, &q)| self.d[i / 32] * q as f32).collect()
        }
    }

    /// Rows `r0..` of the product with one rounded vector: `block[i] (+)= (W x)[r0 + i]`.
    ///
    /// # Safety
    /// The processor must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rows(w: &QMat, r0: usize, block: &mut [f32], x: &Act, accumulate: bool) {
        for (i, o) in block.iter_mut().enumerate() {
            // SAFETY: the caller guarantees AVX2 + FMA.
            let v = unsafe { if w.q8 { row_q8(w, r0 + i, x) } else { row_q4(w, r0 + i, x) } };
            *o = if accumulate { *o + v } else { v };
        }
    }

    /// Q4_1 (and Q4_0 stored as Q4_1) row `r`: per block `d·dx·Σ q·qx + m·Σ x̂`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_q4(w: &QMat, r: usize, x: &Act) -> f32 {
        let nb = w.cols / 32;
        let f16: &[f32; 65536] = &super::F16_TO_F32;
        let (d, m) = (&w.d[r * nb..(r + 1) * nb], &w.m[r * nb..(r + 1) * nb]);
        let q = &w.q[r * nb * 16..(r + 1) * nb * 16];
        assert!(x.q.len() >= nb * 32 && x.d.len() >= nb && x.sums.len() >= nb);
        let mut acc = _mm256_setzero_ps();
        let mut min_term = 0f32;
        let low = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        for b in 0..nb {
            // SAFETY: 16 bytes of nibbles and 32 activation bytes per block (asserted above).
            unsafe {
                let raw = _mm_loadu_si128(q.as_ptr().add(b * 16) as *const __m128i);
                // Elements 0..16 are the low nibbles, 16..32 the high ones.
                let wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low);
                let xq = _mm256_loadu_si256(x.q.as_ptr().add(b * 32) as *const __m256i);
                let p = _mm256_madd_epi16(_mm256_maddubs_epi16(wq, xq), ones);
                let scale = _mm256_set1_ps(f16[d[b] as usize] * x.d[b]);
                acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc);
            }
            min_term += f16[m[b] as usize] * x.sums[b];
        }
        // SAFETY: AVX2 per this function's target features.
        unsafe { hsum(acc) + min_term }
    }

    /// Q8_0 row `r`: per block `d·dx·Σ q·qx` (signs moved onto the activations, since
    /// `maddubs` wants one unsigned operand).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_q8(w: &QMat, r: usize, x: &Act) -> f32 {
        let nb = w.cols / 32;
        let f16: &[f32; 65536] = &super::F16_TO_F32;
        let d = &w.d[r * nb..(r + 1) * nb];
        let q = &w.q[r * nb * 32..(r + 1) * nb * 32];
        assert!(x.q.len() >= nb * 32 && x.d.len() >= nb);
        let mut acc = _mm256_setzero_ps();
        let ones = _mm256_set1_epi16(1);
        for b in 0..nb {
            // SAFETY: 32 weight bytes and 32 activation bytes per block (asserted above).
            unsafe {
                let wq = _mm256_loadu_si256(q.as_ptr().add(b * 32) as *const __m256i);
                let xq = _mm256_loadu_si256(x.q.as_ptr().add(b * 32) as *const __m256i);
                let p = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
                let p = _mm256_madd_epi16(p, ones);
                let scale = _mm256_set1_ps(f16[d[b] as usize] * x.d[b]);
                acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc);
            }
        }
        // SAFETY: AVX2 per this function's target features.
        unsafe { hsum(acc) }
    }
}

/// Whether decode rounds activations to 8 bits ([`int8`]): only when `AISLE_INT8_DECODE=1`.
/// It is llama.cpp's arithmetic and ~10 % faster natively (~140 against ~125 tok/s), but it moves
/// logits enough to change greedy replies: measured, 4 of the 8 reference chats still agree
/// with the f32 references (f32: 8 of 8), so exact output stays the default.
pub fn int8_decode() -> bool {
    static ON: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var("AISLE_INT8_DECODE").is_ok_and(|v| v == "1"));
    *ON
}

/// Rows dequantized together in prefill.
const TILE: usize = 8;

/// Rows of a tile multiplied together in prefill.
const ROWS: usize = 4;

/// Tokens multiplied together in prefill (with `ROWS`, sized for 16 vector registers; V8
/// spills with three in wasm, measured: 35 tok/s instead of 57).
#[cfg(not(target_family = "wasm"))]
const TOKENS: usize = 3;
#[cfg(target_family = "wasm")]
const TOKENS: usize = 2;

/// `out[t][r] = w_r · xs[t]` for the `ROWS` rows of `w` (`[ROWS, cols]`) and `T` vectors.
#[inline(always)]
fn dot_block<const T: usize>(w: &[f32], xs: [&[f32]; T], cols: usize) -> [[f32; ROWS]; T] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot_block(w, xs, cols)
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        return unsafe { avx2::dot_block(w, xs, cols) };
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

/// WebAssembly SIMD128 versions of the inner loops: LLVM does not vectorize the portable ones
/// for wasm32 (measured: 10 tok/s instead of 30).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(clippy::needless_range_loop)] // lane and row indices feed pointer offsets
mod simd {
    use core::arch::wasm32::*;

    use super::QMat;
    use crate::quant::GgmlType;

    /// Four f32 lanes from 16 bytes at `p` (unaligned).
    #[inline(always)]
    unsafe fn load(p: *const f32) -> v128 {
        // SAFETY: the caller guarantees 16 readable bytes at `p`.
        unsafe { v128_load(p as *const v128) }
    }

    #[inline(always)]
    fn hsum(v: v128) -> f32 {
        f32x4_extract_lane::<0>(v)
            + f32x4_extract_lane::<1>(v)
            + f32x4_extract_lane::<2>(v)
            + f32x4_extract_lane::<3>(v)
    }

    pub fn dot_block<const T: usize>(w: &[f32], xs: [&[f32]; T], cols: usize) -> [[f32; super::ROWS]; T] {
        const R: usize = super::ROWS;
        let mut acc = [[f32x4_splat(0.0); R]; T];
        assert!(w.len() >= R * cols && xs.iter().all(|x| x.len() >= cols) && cols.is_multiple_of(4));
        // SAFETY: `w` holds R rows of `cols` floats and each x `cols` (asserted above).
        unsafe {
            for c in (0..cols).step_by(4) {
                let xv: [v128; T] = core::array::from_fn(|t| load(xs[t].as_ptr().add(c)));
                for r in 0..R {
                    let wv = load(w.as_ptr().add(r * cols + c));
                    for t in 0..T {
                        acc[t][r] = f32x4_add(acc[t][r], f32x4_mul(wv, xv[t]));
                    }
                }
            }
        }
        acc.map(|a| a.map(hsum))
    }

    /// Row `r` of a Q4_1 matrix, dequantized: `q·d + m`.
    pub fn row_q4(w: &QMat, r: usize, out: &mut [f32]) {
        let nb = w.cols / 32;
        let f16: &[f32; 65536] = &super::F16_TO_F32;
        for b in 0..nb {
            let k = r * nb + b;
            let (d, m) = (f32x4_splat(f16[w.d[k] as usize]), f32x4_splat(f16[w.m[k] as usize]));
            // SAFETY: a block is 16 bytes of q and 32 floats of out.
            unsafe {
                let bytes = v128_load(w.q.as_ptr().add(k * 16) as *const v128);
                let lo = u8_to_f32(v128_and(bytes, u8x16_splat(15)));
                let hi = u8_to_f32(u8x16_shr(bytes, 4));
                let o = out.as_mut_ptr().add(b * 32);
                for j in 0..4 {
                    v128_store(o.add(4 * j) as *mut v128, f32x4_add(f32x4_mul(lo[j], d), m));
                    v128_store(o.add(16 + 4 * j) as *mut v128, f32x4_add(f32x4_mul(hi[j], d), m));
                }
            }
        }
    }

    /// 16 unsigned bytes as four f32x4 (lanes 0-3, 4-7, 8-11, 12-15). Converted as signed
    /// integers (the values are below 256): x86 has no unsigned conversion, and V8 emulates
    /// `f32x4.convert_i32x4_u` in several instructions there.
    #[inline(always)]
    fn u8_to_f32(v: v128) -> [v128; 4] {
        let lo = u16x8_extend_low_u8x16(v);
        let hi = u16x8_extend_high_u8x16(v);
        [
            f32x4_convert_i32x4(u32x4_extend_low_u16x8(lo)),
            f32x4_convert_i32x4(u32x4_extend_high_u16x8(lo)),
            f32x4_convert_i32x4(u32x4_extend_low_u16x8(hi)),
            f32x4_convert_i32x4(u32x4_extend_high_u16x8(hi)),
        ]
    }

    /// 16 signed bytes as four f32x4.
    #[inline(always)]
    fn i8_to_f32(v: v128) -> [v128; 4] {
        let lo = i16x8_extend_low_i8x16(v);
        let hi = i16x8_extend_high_i8x16(v);
        [
            f32x4_convert_i32x4(i32x4_extend_low_i16x8(lo)),
            f32x4_convert_i32x4(i32x4_extend_high_i16x8(lo)),
            f32x4_convert_i32x4(i32x4_extend_low_i16x8(hi)),
            f32x4_convert_i32x4(i32x4_extend_high_i16x8(hi)),
        ]
    }

    /// `Σ_j a[j]·x[j..j+4]` for the four vectors of 16 values at `xp`, in two chains (one
    /// serial chain of eight adds per block was the loop's latency).
    ///
    /// # Safety
    /// 16 floats must be readable at `xp`.
    #[inline(always)]
    unsafe fn dot16(a: [v128; 4], xp: *const f32) -> v128 {
        // SAFETY: per the caller.
        unsafe {
            let s0 = f32x4_add(f32x4_mul(a[0], load(xp)), f32x4_mul(a[1], load(xp.add(4))));
            let s1 = f32x4_add(f32x4_mul(a[2], load(xp.add(8))), f32x4_mul(a[3], load(xp.add(12))));
            f32x4_add(s0, s1)
        }
    }

    /// A Q4_K row (`raw`: its 144-byte blocks as stored; `x` at least as long as the row):
    /// as `avx2::row_q4_k`.
    fn row_q4_k(raw: &[u8], x: &[f32], sums: &[f32]) -> f32 {
        assert!(x.len() >= raw.len() / 144 * 256);
        let mut acc = [f32x4_splat(0.0); 2];
        let min_term = super::q4_k_chunks(raw, sums, |q, at, d1, d2| {
            // SAFETY: 32 bytes of nibbles; 64 values of x at `at` (asserted above).
            unsafe {
                let qp = q.as_ptr();
                let (a, e) = (v128_load(qp as *const v128), v128_load(qp.add(16) as *const v128));
                let xp = x.as_ptr().add(at);
                let nib = |v| u8_to_f32(v128_and(v, u8x16_splat(15)));
                let top = |v| u8_to_f32(u8x16_shr(v, 4));
                let s1 = f32x4_add(dot16(nib(a), xp), dot16(nib(e), xp.add(16)));
                let s2 = f32x4_add(dot16(top(a), xp.add(32)), dot16(top(e), xp.add(48)));
                acc[0] = f32x4_add(acc[0], f32x4_mul(f32x4_splat(d1), s1));
                acc[1] = f32x4_add(acc[1], f32x4_mul(f32x4_splat(d2), s2));
            }
        });
        hsum(f32x4_add(acc[0], acc[1])) - min_term
    }

    /// A Q6_K row (`raw`: its 210-byte blocks as stored): as `avx2::row_q6_k`.
    fn row_q6_k(raw: &[u8], x: &[f32]) -> f32 {
        assert!(x.len() >= raw.len() / 210 * 256);
        let mut acc = [f32x4_splat(0.0); 2];
        super::q6_k_groups(raw, |ql, high, qh, shift, at, d1, d2| {
            for (part, scale) in [d1, d2].into_iter().enumerate() {
                // SAFETY: 16 bytes each of ql and qh at 16·part; 16 values of x at
                // `at + 16·part` (asserted above).
                unsafe {
                    let ql = v128_load(ql.as_ptr().add(16 * part) as *const v128);
                    let qh = v128_load(qh.as_ptr().add(16 * part) as *const v128);
                    let lo = if high { u8x16_shr(ql, 4) } else { v128_and(ql, u8x16_splat(15)) };
                    let hi = u8x16_shl(v128_and(u8x16_shr(qh, shift), u8x16_splat(3)), 4);
                    let q = i8x16_sub(v128_or(lo, hi), i8x16_splat(32));
                    let s = dot16(i8_to_f32(q), x.as_ptr().add(at + 16 * part));
                    acc[part] = f32x4_add(acc[part], f32x4_mul(f32x4_splat(scale), s));
                }
            }
        });
        hsum(f32x4_add(acc[0], acc[1]))
    }

    /// `Σ_{bit j of h set} x[j]` over the 32 values at `xp`, in four lanes.
    ///
    /// # Safety
    /// 32 floats must be readable at `xp`.
    #[inline(always)]
    unsafe fn masked_sum(h: u32, xp: *const f32) -> v128 {
        let hv = u32x4_splat(h);
        let mut bits = u32x4(1, 2, 4, 8);
        let mut s = f32x4_splat(0.0);
        for i in 0..8 {
            let set = u32x4_eq(v128_and(hv, bits), bits);
            // SAFETY: per the caller.
            s = f32x4_add(s, v128_and(set, unsafe { load(xp.add(4 * i)) }));
            bits = u32x4_shl(bits, 4);
        }
        s
    }

    /// `Σ_k W[r, k] · x[k]`, as [`QMat::dot_portable`] computes it (per-block scale, Q4_1 min
    /// term from the block sums, Q5's fifth bits).
    pub fn dot_row(w: &QMat, r: usize, x: &[f32], sums: &[f32]) -> f32 {
        let nb = w.cols / 32;
        let f16: &[f32; 65536] = &super::F16_TO_F32;
        assert!(x.len() >= nb * 32 && sums.len() >= nb);
        match w.other {
            Some(GgmlType::Q4_K) => return row_q4_k(w.raw_row(r), x, sums),
            Some(GgmlType::Q6_K) => return row_q6_k(w.raw_row(r), x),
            _ => assert!((r + 1) * nb <= w.d.len()),
        }
        // Two accumulators: consecutive blocks do not wait on each other's add.
        let mut acc = [f32x4_splat(0.0); 2];
        let mut min_term = 0f32;
        for b in 0..nb {
            let k = r * nb + b;
            let xp = x[b * 32..].as_ptr();
            // SAFETY: a block is 32 floats of x (asserted) and 16 (Q4_1) or 32 (Q8_0) bytes of q.
            let s = unsafe {
                if w.q8 {
                    let qp = w.q.as_ptr().add(k * 32);
                    let a = i8_to_f32(v128_load(qp as *const v128));
                    let c = i8_to_f32(v128_load(qp.add(16) as *const v128));
                    f32x4_add(dot16(a, xp), dot16(c, xp.add(16)))
                } else {
                    let bytes = v128_load(w.q.as_ptr().add(k * 16) as *const v128);
                    let lo = u8_to_f32(v128_and(bytes, u8x16_splat(15)));
                    let hi = u8_to_f32(u8x16_shr(bytes, 4));
                    min_term += f16[w.m[k] as usize] * sums[b];
                    let s = f32x4_add(dot16(lo, xp), dot16(hi, xp.add(16)));
                    match w.qh.get(k) {
                        Some(&h) => f32x4_add(s, f32x4_mul(f32x4_splat(16.0), masked_sum(h, xp))),
                        None => s,
                    }
                }
            };
            acc[b % 2] = f32x4_add(acc[b % 2], f32x4_mul(f32x4_splat(f16[w.d[k] as usize]), s));
        }
        hsum(f32x4_add(acc[0], acc[1])) + min_term
    }
}

/// Walks a Q4_K row (`raw`: its 144-byte blocks as stored) in chunks of 64 values, calling
/// `chunk(nibbles, at, d1, d2)` for each: 32 bytes whose low nibbles are values `at..at+32`
/// (scale `d1`) and high nibbles `at+32..at+64` (scale `d2`). Returns the min term
/// `Σ dmin·m·Σx` from the per-32 sums of x, which the caller subtracts.
#[inline(always)]
fn q4_k_chunks(raw: &[u8], sums: &[f32], mut chunk: impl FnMut(&[u8], usize, f32, f32)) -> f32 {
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
fn q6_k_groups(raw: &[u8], mut group: impl FnMut(&[u8], bool, &[u8], u32, usize, f32, f32)) {
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

/// Splits `out: [m, rows]` into row ranges, runs `work(first_row, block)` on each (in
/// parallel natively), and scatters the results back. Each block is `[m, rows_in_range]`.
fn parallel_rows(out: &mut [f32], m: usize, rows: usize, work: impl Fn(usize, &mut [f32]) + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        if m == 1 {
            // One vector: the blocks are contiguous slices of `out`, no copies.
            let threads = rayon::current_num_threads().max(1);
            let per = rows.div_ceil(threads * 2).max(64);
            out.par_chunks_mut(per).enumerate().for_each(|(k, block)| work(k * per, block));
            return;
        }
        let threads = rayon::current_num_threads().max(1);
        let per = rows.div_ceil(threads * 4).max(16);
        let ranges: Vec<(usize, usize)> = (0..rows).step_by(per).map(|r| (r, (r + per).min(rows))).collect();
        let blocks: Vec<Vec<f32>> = ranges
            .par_iter()
            .map(|&(a, b)| {
                let len = b - a;
                let mut block = vec![0f32; m * len];
                for t in 0..m {
                    block[t * len..(t + 1) * len].copy_from_slice(&out[t * rows + a..t * rows + b]);
                }
                work(a, &mut block);
                block
            })
            .collect();
        for ((a, b), block) in ranges.into_iter().zip(blocks) {
            let len = b - a;
            for t in 0..m {
                out[t * rows + a..t * rows + b].copy_from_slice(&block[t * len..(t + 1) * len]);
            }
        }
    }
    #[cfg(target_family = "wasm")]
    {
        // One thread, one range: the block layout is `out`'s own.
        let _ = (m, rows);
        work(0, out);
    }
}

type CpuLayer = LayerTensors<Vec<f32>, QMat>;

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
fn matvec_stacked(parts: &[QMat], x: &[f32], m: usize, out: &mut [f32]) {
    if let [one] = parts {
        return one.matvec(x, m, out, false);
    }
    let total: usize = parts.iter().map(|p| p.rows).sum();
    let mut off = 0;
    for p in parts {
        let mut part = vec![0f32; m * p.rows];
        p.matvec(x, m, &mut part, false);
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
        Ok(CpuWeights { layers, qkv_bias, embd, head, output_norm, cos, sin, bytes: rd.total })
    }

    /// Runs `tokens` at positions `cache.len()..` (checked by the caller), writes their keys and
    /// values into the cache, and returns the last token's logits.
    pub fn forward(&self, cfg: &LlamaConfig, tokens: &[u32], cache: &mut KvCache) -> Vec<f32> {
        on_pool(|| self.forward_here(cfg, tokens, cache))
    }

    fn forward_here(&self, cfg: &LlamaConfig, tokens: &[u32], cache: &mut KvCache) -> Vec<f32> {
        let (m, pos, e, capacity) = (tokens.len(), cache.len(), cfg.n_embd, cache.capacity());
        let (hd, nh, nkv) = (cfg.head_dim, cfg.n_heads, cfg.n_kv_heads);
        let qkv_w = (nh + 2 * nkv) * hd;
        let mut x = vec![0f32; m * e];
        for (t, &tok) in tokens.iter().enumerate() {
            self.embd.row(tok as usize, &mut x[t * e..(t + 1) * e]);
        }
        let mut h = vec![0f32; m * e];
        let mut qkv = vec![0f32; m * qkv_w];
        let mut att = vec![0f32; m * nh * hd];
        let (mut gate, mut up) = (vec![0f32; m * cfg.n_ff], vec![0f32; m * cfg.n_ff]);
        for (i, w) in self.layers.iter().enumerate() {
            rms_norm(&x, &w.attn_norm, cfg.rms_eps, &mut h);
            matvec_stacked(&w.wqkv, &h, m, &mut qkv);
            if let Some(bias) = &self.qkv_bias[i] {
                for row in qkv.chunks_exact_mut(qkv_w) {
                    row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
                }
            }
            let (kc, vc) = &mut cache.host[i];
            for t in 0..m {
                let row = &mut qkv[t * qkv_w..(t + 1) * qkv_w];
                for head in 0..nh + nkv {
                    self.rope(cfg, &mut row[head * hd..(head + 1) * hd], pos + t);
                }
                for kvh in 0..nkv {
                    let dst = (kvh * capacity + pos + t) * hd;
                    kc[dst..dst + hd].copy_from_slice(&row[(nh + kvh) * hd..(nh + kvh + 1) * hd]);
                    vc[dst..dst + hd].copy_from_slice(&row[(nh + nkv + kvh) * hd..(nh + nkv + kvh + 1) * hd]);
                }
            }
            attention(cfg, &qkv, kc, vc, capacity, pos, m, &mut att);
            w.wo.matvec(&att, m, &mut x, true);
            rms_norm(&x, &w.ffn_norm, cfg.rms_eps, &mut h);
            w.gate.matvec(&h, m, &mut gate, false);
            w.up.matvec(&h, m, &mut up, false);
            for (g, u) in gate.iter_mut().zip(&up) {
                *g = *g / (1.0 + (-*g).exp()) * u;
            }
            w.down.matvec(&gate, m, &mut x, true);
        }
        let mut last = vec![0f32; e];
        rms_norm(&x[(m - 1) * e..], &self.output_norm, cfg.rms_eps, &mut last);
        let head = self.head.as_ref().unwrap_or(&self.embd);
        let mut logits = vec![0f32; head.rows];
        // Even with 8-bit activations asked for, the head keeps f32: rounding the final hidden
        // state (a few large channels per block) moved logits by up to 0.28.
        head.matvec_with(&last, 1, &mut logits, false, false);
        logits
    }

    /// Rotates one head vector in place for position `p`.
    fn rope(&self, cfg: &LlamaConfig, v: &mut [f32], p: usize) {
        let half = cfg.rope_dims / 2;
        let (cos, sin) = (&self.cos[p * half..(p + 1) * half], &self.sin[p * half..(p + 1) * half]);
        for i in 0..half {
            let (a, b) = match cfg.rope_kind {
                RopeKind::Adjacent => (2 * i, 2 * i + 1),
                RopeKind::HalfSplit => (i, i + half),
            };
            let (x0, x1) = (v[a], v[b]);
            v[a] = x0 * cos[i] - x1 * sin[i];
            v[b] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

/// Runs `work` on a thread of the pool that splits the matrix products (natively). Called from
/// outside the pool, every parallel product would hand its parts to the pool's threads and put
/// the caller to sleep until they finish: two thread switches per product, ~200 per token, and
/// on two cores the pool's spinning threads competed with the caller's own work. On a pool
/// thread, the caller takes its share of each product itself.
fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    #[cfg(not(target_family = "wasm"))]
    {
        rayon::scope(|_| work())
    }
    #[cfg(target_family = "wasm")]
    work()
}

/// `out[t] = x[t] / sqrt(mean(x[t]²) + eps) · w` for every row of `x`.
fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let s = 1.0 / (ms + eps).sqrt();
        for ((o, v), g) in o.iter_mut().zip(row).zip(w) {
            *o = v * s * g;
        }
    }
}

/// Causal GQA attention of the `m` query rows of `qkv` (positions `pos..pos+m`) over the
/// cache (`[n_kv, capacity, hd]`) -> `out: [m, n_heads·hd]`. Heads run in parallel natively.
#[allow(clippy::too_many_arguments)]
fn attention(
    cfg: &LlamaConfig,
    qkv: &[f32],
    kc: &[f32],
    vc: &[f32],
    capacity: usize,
    pos: usize,
    m: usize,
    out: &mut [f32],
) {
    let (hd, nh, nkv) = (cfg.head_dim, cfg.n_heads, cfg.n_kv_heads);
    let qkv_w = (nh + 2 * nkv) * hd;
    let scale = 1.0 / (hd as f32).sqrt();
    for t in 0..m {
        let n = pos + t + 1;
        let head = |(h, o): (usize, &mut [f32])| {
            let kvh = h / (nh / nkv);
            let q = &qkv[t * qkv_w + h * hd..t * qkv_w + (h + 1) * hd];
            let base = kvh * capacity * hd;
            let mut scores = vec![0f32; n];
            let mut max = f32::MIN;
            for (p, s) in scores.iter_mut().enumerate() {
                *s = dot(q, &kc[base + p * hd..base + (p + 1) * hd]) * scale;
                max = max.max(*s);
            }
            let mut z = 0.0;
            for s in &mut scores {
                *s = (*s - max).exp();
                z += *s;
            }
            o.fill(0.0);
            for (p, s) in scores.iter().enumerate() {
                let v = &vc[base + p * hd..base + (p + 1) * hd];
                let w = s / z;
                for (o, v) in o.iter_mut().zip(v) {
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
