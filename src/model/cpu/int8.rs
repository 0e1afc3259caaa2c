//! Decode (one token) with activations rounded to 8 bits per block of 32, as llama.cpp does:
//! each block's dot product is then integer arithmetic (`maddubs`) on 32 bytes instead of 32
//! f32 multiply-adds. Opt-in ([`super::int8_decode`]): the rounding changes greedy replies.

use core::arch::x86_64::*;

use super::avx2::hsum;
use super::qmat::{Layout, QMat};

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
        let (mut q, mut d, mut sums) = (Vec::with_capacity(nb * 32), Vec::with_capacity(nb), Vec::with_capacity(nb));
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
        let v = unsafe { if w.layout == Layout::Q8 { row_q8(w, r0 + i, x) } else { row_q4(w, r0 + i, x) } };
        *o = if accumulate { *o + v } else { v };
    }
}

/// Q4_1 (and Q4_0 stored as Q4_1) row `r`: per block `d·dx·Σ q·qx + m·Σ x̂`.
#[target_feature(enable = "avx2,fma")]
unsafe fn row_q4(w: &QMat, r: usize, x: &Act) -> f32 {
    let nb = w.cols / 32;
    let f16: &[f32; 65536] = &super::qmat::F16_TO_F32;
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
    let f16: &[f32; 65536] = &super::qmat::F16_TO_F32;
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
