//! Decode (one token) with f32 activations in AVX2 + FMA: per block, the weights widened to
//! f32 in registers and multiplied with `x` in four fused multiply-adds, then scaled by `d` in
//! one more; LLVM's vectorization of [`QMat::dot_portable`] kept separate multiplies and adds
//! (no contraction without fast-math) in one serial chain and summed the lanes per row in
//! order. `dot_portable` stays the path for other processors; the kernel tests compare both with
//! the exact product.

use core::arch::x86_64::*;

use super::qmat::{Layout, QMat, ROWS};
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
            match w.layout {
                Layout::Raw(GgmlType::Q4_K) => row_q4_k(w.raw_row(r0 + i), x, sums),
                Layout::Raw(GgmlType::Q6_K) => row_q6_k(w.raw_row(r0 + i), x),
                Layout::Q8 => row_q8(w, r0 + i, x),
                _ => row_q4(w, r0 + i, x, sums),
            }
        };
        *o = if accumulate { *o + v } else { v };
    }
}

/// [`super::qmat::dot_block`] (prefill) with fused multiply-adds: `out[t][r] = w_r · xs[t]`.
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
    let min_term = super::qmat::q4_k_chunks(raw, sums, |q, at, d1, d2| {
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
    super::qmat::q6_k_groups(raw, |ql, high, qh, shift, at, d1, d2| {
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
    let f16: &[f32; 65536] = &super::qmat::F16_TO_F32;
    let (d, m) = (&w.d[r * nb..(r + 1) * nb], &w.m[r * nb..(r + 1) * nb]);
    let q = &w.q[r * nb * 16..(r + 1) * nb * 16];
    let low = _mm_set1_epi8(0x0F);
    let q5 = w.layout == Layout::Q5;
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
    let f16: &[f32; 65536] = &super::qmat::F16_TO_F32;
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
