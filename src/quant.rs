//! ggml tensor types and their block formats, with a plain CPU dequantization reference.
//!
//! Quantized ggml types store a row as consecutive *blocks*: a few scale fields (f16) followed by
//! packed small integers. These functions are the ground truth our GPU kernels are tested
//! against, so they follow ggml's `dequantize_row_*` arithmetic step for step (products and sums
//! in the same order, no fused multiply-add) rather than being clever.

use half::{bf16, f16};

/// The ggml tensor types that can appear in a GGUF file, with their ids as stored.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

/// Elements per super-block of the k-quants.
const QK_K: usize = 256;

impl GgmlType {
    /// (id, type, elements per block, bytes per block), from ggml's type traits.
    const TABLE: [(u32, GgmlType, usize, usize); 32] = [
        (0, GgmlType::F32, 1, 4),
        (1, GgmlType::F16, 1, 2),
        (2, GgmlType::Q4_0, 32, 18),
        (3, GgmlType::Q4_1, 32, 20),
        (6, GgmlType::Q5_0, 32, 22),
        (7, GgmlType::Q5_1, 32, 24),
        (8, GgmlType::Q8_0, 32, 34),
        (9, GgmlType::Q8_1, 32, 36),
        (10, GgmlType::Q2_K, QK_K, 84),
        (11, GgmlType::Q3_K, QK_K, 110),
        (12, GgmlType::Q4_K, QK_K, 144),
        (13, GgmlType::Q5_K, QK_K, 176),
        (14, GgmlType::Q6_K, QK_K, 210),
        (15, GgmlType::Q8_K, QK_K, 292),
        (16, GgmlType::IQ2_XXS, QK_K, 66),
        (17, GgmlType::IQ2_XS, QK_K, 74),
        (18, GgmlType::IQ3_XXS, QK_K, 98),
        (19, GgmlType::IQ1_S, QK_K, 50),
        (20, GgmlType::IQ4_NL, 32, 18),
        (21, GgmlType::IQ3_S, QK_K, 110),
        (22, GgmlType::IQ2_S, QK_K, 82),
        (23, GgmlType::IQ4_XS, QK_K, 136),
        (24, GgmlType::I8, 1, 1),
        (25, GgmlType::I16, 1, 2),
        (26, GgmlType::I32, 1, 4),
        (27, GgmlType::I64, 1, 8),
        (28, GgmlType::F64, 1, 8),
        (29, GgmlType::IQ1_M, QK_K, 56),
        (30, GgmlType::BF16, 1, 2),
        (34, GgmlType::TQ1_0, QK_K, 54),
        (35, GgmlType::TQ2_0, QK_K, 66),
        (39, GgmlType::MXFP4, 32, 17),
    ];

    fn entry(self) -> (u32, GgmlType, usize, usize) {
        *Self::TABLE.iter().find(|e| e.1 == self).expect("every type is in the table")
    }

    pub fn from_id(id: u32) -> Option<Self> {
        Self::TABLE.iter().find(|e| e.0 == id).map(|e| e.1)
    }

    pub fn id(self) -> u32 {
        self.entry().0
    }

    /// Elements per block.
    pub fn block_size(self) -> usize {
        self.entry().2
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.entry().3
    }

    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// Whether [`dequantize`] handles this type (what Llama-family GGUFs use).
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(self, F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q2_K | Q3_K | Q4_K | Q5_K | Q6_K)
    }

    /// Bytes taken by `n` elements (which must be a whole number of blocks).
    pub fn bytes_for(self, n: usize) -> usize {
        n / self.block_size() * self.type_size()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QuantError {
    #[error(
        "dequantization of {0:?} is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)"
    )]
    Unsupported(GgmlType),
    #[error("{ty:?}: {n_bytes} bytes do not hold {n_elements} elements (expected {expected} bytes)")]
    SizeMismatch { ty: GgmlType, n_bytes: usize, n_elements: usize, expected: usize },
    #[error("{ty:?}: {what} is out of the range this path supports")]
    Range { ty: GgmlType, what: &'static str },
}

/// Dequantizes `src` (whole blocks of type `ty`) into `dst`, whose length says how many elements.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    let n = dst.len();
    let bs = ty.block_size();
    let expected = ty.bytes_for(n);
    if !n.is_multiple_of(bs) || src.len() != expected {
        return Err(QuantError::SizeMismatch { ty, n_bytes: src.len(), n_elements: n, expected });
    }
    let ts = ty.type_size();
    let blocks = src.chunks_exact(ts).zip(dst.chunks_exact_mut(bs));
    use GgmlType::*;
    match ty {
        F32 => blocks.for_each(|(b, y)| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        F16 => blocks.for_each(|(b, y)| y[0] = f16_at(b, 0)),
        BF16 => blocks.for_each(|(b, y)| y[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        Q4_0 => blocks.for_each(|(b, y)| block_q4_0(b, y)),
        Q4_1 => blocks.for_each(|(b, y)| block_q4_1(b, y)),
        Q5_0 => blocks.for_each(|(b, y)| block_q5_0(b, y)),
        Q5_1 => blocks.for_each(|(b, y)| block_q5_1(b, y)),
        Q8_0 => blocks.for_each(|(b, y)| block_q8_0(b, y)),
        Q2_K => blocks.for_each(|(b, y)| block_q2_k(b, y)),
        Q3_K => blocks.for_each(|(b, y)| block_q3_k(b, y)),
        Q4_K => blocks.for_each(|(b, y)| block_q4_k(b, y)),
        Q5_K => blocks.for_each(|(b, y)| block_q5_k(b, y)),
        Q6_K => blocks.for_each(|(b, y)| block_q6_k(b, y)),
        other => return Err(QuantError::Unsupported(other)),
    }
    Ok(())
}

/// Dequantizes a whole tensor into a new vector of `n` elements.
pub fn dequantize_to_vec(ty: GgmlType, src: &[u8], n: usize) -> Result<Vec<f32>, QuantError> {
    if !ty.can_dequantize() {
        return Err(QuantError::Unsupported(ty));
    }
    let mut out = vec![0.0; n];
    dequantize(ty, src, &mut out)?;
    Ok(out)
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// The min `-k·d` that lets a Q4_0 (k = 8) or Q5_0 (k = 16) block run as Q4_1/Q5_1:
/// `(q - k)·d = q·d + (-k·d)`. Exact in f16 unless it overflows; such a block is refused (both
/// kernel paths keep the min in f16), rather than computed as infinity.
pub fn offset_min(ty: GgmlType, d: f16) -> Result<f16, QuantError> {
    let (k, what) = match ty {
        GgmlType::Q4_0 => (8.0, "block scale d ≥ 8192"),
        GgmlType::Q5_0 => (16.0, "block scale d ≥ 4096"),
        other => return Err(QuantError::Unsupported(other)),
    };
    let m = f16::from_f32(-k * d.to_f32());
    if !m.is_finite() {
        return Err(QuantError::Range { ty, what });
    }
    Ok(m)
}

/// `d` f16, 16 bytes of nibbles: x = (q - 8)·d; low nibbles are elements 0..16, high 16..32.
fn block_q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        y[j] = ((qs[j] & 0x0F) as i32 - 8) as f32 * d;
        y[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
    }
}

/// `d`, `m` f16, 16 bytes of nibbles: x = q·d + m.
fn block_q4_1(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        y[j] = (qs[j] & 0x0F) as f32 * d + m;
        y[j + 16] = (qs[j] >> 4) as f32 * d + m;
    }
}

/// Fifth bit of element j (0..16) and of element j+16, from the 32-bit `qh` mask.
fn q5_high_bits(qh: u32, j: usize) -> (u8, u8) {
    let h0 = (((qh >> j) << 4) & 0x10) as u8;
    let h1 = ((qh >> (j + 12)) & 0x10) as u8;
    (h0, h1)
}

/// `d` f16, `qh` u32 (fifth bits), 16 bytes of nibbles: x = (q - 16)·d.
fn block_q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let (h0, h1) = q5_high_bits(qh, j);
        y[j] = (((qs[j] & 0x0F) | h0) as i32 - 16) as f32 * d;
        y[j + 16] = (((qs[j] >> 4) | h1) as i32 - 16) as f32 * d;
    }
}

/// `d`, `m` f16, `qh` u32, 16 bytes of nibbles: x = q·d + m.
fn block_q5_1(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let (h0, h1) = q5_high_bits(qh, j);
        y[j] = ((qs[j] & 0x0F) | h0) as f32 * d + m;
        y[j + 16] = ((qs[j] >> 4) | h1) as f32 * d + m;
    }
}

/// `d` f16, 32 × i8: x = q·d.
fn block_q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for j in 0..32 {
        y[j] = (b[2 + j] as i8) as f32 * d;
    }
}

/// 16 scale bytes (low nibble scale, high nibble min), 64 bytes of 2-bit values, `d`, `dmin` f16.
fn block_q2_k(b: &[u8], y: &mut [f32]) {
    let scales = &b[0..16];
    let qs = &b[16..80];
    let d = f16_at(b, 80);
    let dmin = f16_at(b, 82);
    let mut out = 0;
    let mut is = 0;
    for half in 0..2 {
        let q = &qs[half * 32..half * 32 + 32];
        for shift in [0u32, 2, 4, 6] {
            for part in 0..2 {
                let sc = scales[is];
                is += 1;
                let dl = d * (sc & 0x0F) as f32;
                let ml = dmin * (sc >> 4) as f32;
                for l in 0..16 {
                    y[out] = dl * ((q[part * 16 + l] >> shift) & 3) as f32 - ml;
                    out += 1;
                }
            }
        }
    }
}

/// 32 bytes of high-bit mask, 64 bytes of 2-bit values, 12 bytes of packed 6-bit scales, `d` f16.
fn block_q3_k(b: &[u8], y: &mut [f32]) {
    let hmask = &b[0..32];
    let qs = &b[32..96];
    let scales = unpack_q3_k_scales(&b[96..108]);
    let d = f16_at(b, 108);
    let mut out = 0;
    let mut is = 0;
    let mut m: u8 = 1;
    for half in 0..2 {
        let q = &qs[half * 32..half * 32 + 32];
        for shift in [0u32, 2, 4, 6] {
            for part in 0..2 {
                let dl = d * (scales[is] as i32 - 32) as f32;
                is += 1;
                for l in 0..16 {
                    let k = part * 16 + l;
                    let low = ((q[k] >> shift) & 3) as i32;
                    let high = if hmask[k] & m != 0 { 0 } else { 4 };
                    y[out] = dl * (low - high) as f32;
                    out += 1;
                }
            }
            m <<= 1;
        }
    }
}

/// The 16 six-bit scales of a Q3_K block (before subtracting 32), as ggml unpacks them.
fn unpack_q3_k_scales(s: &[u8]) -> [u8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let a0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let a1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let tmp = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let aux = [
        (a0 & KMASK2) | ((tmp & KMASK1) << 4),
        (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
    ];
    let mut out = [0u8; 16];
    for (i, w) in aux.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Scale and min number `j` (0..8) of a Q4_K/Q5_K block, packed 6 bits each in 12 bytes.
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// `d`, `dmin` f16, 12 bytes of scales/mins, 128 bytes of nibbles (64 elements per 32 bytes).
fn block_q4_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (chunk, q) in qs.chunks_exact(32).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        let y = &mut y[chunk * 64..chunk * 64 + 64];
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0x0F) as f32 - m1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

/// `d`, `dmin` f16, 12 bytes of scales/mins, 32 bytes of fifth bits, 128 bytes of nibbles.
fn block_q5_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for (chunk, ql) in qs.chunks_exact(32).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        let u1 = 1u8 << (2 * chunk);
        let u2 = 2u8 << (2 * chunk);
        let y = &mut y[chunk * 64..chunk * 64 + 64];
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * ((ql[l] & 0x0F) + h1) as f32 - m1;
            y[l + 32] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
        }
    }
}

/// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 i8 scales, `d` f16: x = d·sc·(q - 32).
fn block_q6_k(b: &[u8], y: &mut [f32]) {
    let ql_all = &b[0..128];
    let qh_all = &b[128..192];
    let sc_all = &b[192..208];
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &ql_all[half * 64..half * 64 + 64];
        let qh = &qh_all[half * 32..half * 32 + 32];
        let sc = &sc_all[half * 8..half * 8 + 8];
        let y = &mut y[half * 128..half * 128 + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

/// The reference of a quantized matrix-vector product (the GPU kernels' and the CPU path's):
/// dequantize, then plain dot products summed in f64.
/// `w` is GGUF bytes of type `ty`, `[rows, cols]`; `x` is `[m, cols]`.
pub fn gemv_reference(ty: GgmlType, w: &[u8], rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
    let wf = dequantize_to_vec(ty, w, rows * cols).expect("reference weights");
    let m = x.len() / cols;
    let mut out = vec![0f32; m * rows];
    for t in 0..m {
        for r in 0..rows {
            let row = &wf[r * cols..(r + 1) * cols];
            out[t * rows + r] =
                row.iter().zip(&x[t * cols..(t + 1) * cols]).map(|(a, b)| (a * b) as f64).sum::<f64>() as f32;
        }
    }
    out
}
