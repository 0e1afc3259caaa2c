//! WebAssembly SIMD128 versions of the inner loops: LLVM does not vectorize the portable ones
//! for wasm32 (measured: 10 tok/s instead of 30).

use core::arch::wasm32::*;

use super::qmat::{Layout, QMat};
use crate::quant::GgmlType;

/// Four f32 lanes from 16 bytes at `p` (unaligned).
#[inline(always)]
unsafe fn load(p: *const f32) -> v128 {
    // SAFETY: the caller guarantees 16 readable bytes at `p`.
    unsafe { v128_load(p as *const v128) }
}

#[inline(always)]
fn hsum(v: v128) -> f32 {
    f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v) + f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v)
}

pub fn dot_block<const T: usize>(w: &[f32], xs: [&[f32]; T], cols: usize) -> [[f32; super::qmat::ROWS]; T] {
    const R: usize = super::qmat::ROWS;
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
    let f16: &[f32; 65536] = &super::qmat::F16_TO_F32;
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
    let min_term = super::qmat::q4_k_chunks(raw, sums, |q, at, d1, d2| {
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
    super::qmat::q6_k_groups(raw, |ql, high, qh, shift, at, d1, d2| {
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
    let f16: &[f32; 65536] = &super::qmat::F16_TO_F32;
    assert!(x.len() >= nb * 32 && sums.len() >= nb);
    match w.layout {
        Layout::Raw(GgmlType::Q4_K) => return row_q4_k(w.raw_row(r), x, sums),
        Layout::Raw(GgmlType::Q6_K) => return row_q6_k(w.raw_row(r), x),
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
            if w.layout == Layout::Q8 {
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
