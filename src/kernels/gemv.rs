//! Quantized matrix × activations: `out[t, r] = Σ_k W[r, k] · x[t, k]` with `W` kept in its
//! block format on the device and dequantized in registers.
//!
//! One invocation owns one weight row and a tile of `tm` tokens: it unpacks each block of the row
//! once and uses it for every token of its tile. Decode is `tm = 1`; prefill uses larger tiles so
//! that the weights are read `m / tm` times instead of `m` times.
//!
//! Device formats. A row is `cols / block` blocks of `wpb` words; the words are stored
//! *interleaved across rows*: word `w` of block `b` of row `r` is at `(b·wpb + w)·rows + r`, so
//! the invocations of neighbouring rows read neighbouring words (coalesced on a GPU, one vector
//! load on the CPU-backed adapters, SwiftShader and lavapipe). Block contents:
//! - `Q4_1` (32 weights, 5 words): the GGUF block as stored, `d | m << 16` (two f16), then 16
//!   bytes of nibbles (element `j` in the low nibble of byte `j`, element `j + 16` in its high
//!   nibble). `Q4_0` blocks are converted to this form at upload (`m = -8·d`, exact).
//! - `Q5_1` (32 weights, 6 words): `d | m << 16`, the 32 fifth bits, 16 bytes of nibbles: the
//!   GGUF block as stored. `Q5_0` (22 bytes, not word-aligned) becomes this with `m = -16·d`.
//! - `Q8_0` (32 weights, 9 words): `d` as f32 bits, then 32 signed bytes. (GGUF's 34-byte block
//!   is not word-aligned; widening `d` to f32 costs 2 bytes per block: 6 %.)
//! - `Q4_K` (256 weights, 36 words): the GGUF block as stored: `d | dmin << 16`, 12 bytes of
//!   6-bit scales and mins, 128 bytes of nibbles.
//! - `Q6_K` (256 weights, 53 words): `d` as f32 bits, the 16 signed scales, 128 bytes of low
//!   nibbles, 64 bytes of high bit pairs (GGUF's 210-byte block reordered to be word-aligned).
//!
//! Whatever the format, the kernels see a row as groups of 32 weights `q·lo` (first 16) or
//! `q·hi` (last 16), plus `off`: [`decode_group`] is the only format-specific code.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use half::f16;

use super::{f16_to_f32, grid, i8_at};
use crate::quant::{GgmlType, QuantError, offset_min};

/// Device layout of a quantized matrix.
#[allow(non_camel_case_types)] // GGUF's names
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QFormat {
    Q4_1,
    Q8_0,
    Q5_1,
    Q4_K,
    Q6_K,
}

impl QFormat {
    pub const fn words_per_block(self) -> usize {
        words_per_block(self.id())
    }

    /// Weights per block.
    pub const fn block(self) -> usize {
        match self {
            QFormat::Q4_K | QFormat::Q6_K => 256,
            _ => 32,
        }
    }

    /// The device format for a GGUF tensor type, if our kernels handle it.
    pub fn for_ggml(ty: GgmlType) -> Option<Self> {
        match ty {
            GgmlType::Q4_0 | GgmlType::Q4_1 => Some(QFormat::Q4_1),
            GgmlType::Q5_0 | GgmlType::Q5_1 => Some(QFormat::Q5_1),
            GgmlType::Q8_0 => Some(QFormat::Q8_0),
            GgmlType::Q4_K => Some(QFormat::Q4_K),
            GgmlType::Q6_K => Some(QFormat::Q6_K),
            _ => None,
        }
    }

    /// The kernels' compile-time format number.
    pub(crate) const fn id(self) -> u32 {
        match self {
            QFormat::Q4_1 => Q4_1,
            QFormat::Q8_0 => Q8_0,
            QFormat::Q5_1 => Q5_1,
            QFormat::Q4_K => Q4_K,
            QFormat::Q6_K => Q6_K,
        }
    }
}

/// Words per block of a kernel format number (the one table of the device layouts' sizes).
const fn words_per_block(format: u32) -> usize {
    match format {
        Q4_1 => 5,
        Q8_0 => 9,
        Q5_1 => 6,
        Q4_K => 36,
        _ => 53, // Q6_K
    }
}

const Q4_1: u32 = 0;
const Q8_0: u32 = 1;
const Q5_1: u32 = 2;
const Q4_K: u32 = 3;
const Q6_K: u32 = 4;

/// Repacks a GGUF matrix of `rows` rows, blocks of `ty`, into device words (block words of
/// [`QFormat::for_ggml`]`(ty)`, interleaved across rows).
pub fn pack(ty: GgmlType, raw: &[u8], rows: usize) -> Result<(QFormat, Vec<u32>), QuantError> {
    let (format, blocks) = pack_blocks(ty, raw)?;
    let row_words = blocks.len() / rows.max(1);
    if rows == 0 || row_words * rows != blocks.len() || !row_words.is_multiple_of(format.words_per_block()) {
        let n_elements = blocks.len() / format.words_per_block() * ty.block_size();
        return Err(QuantError::SizeMismatch { ty, n_bytes: raw.len(), n_elements, expected: rows * ty.type_size() });
    }
    let mut words = vec![0u32; blocks.len()];
    for (r, row) in blocks.chunks_exact(row_words).enumerate() {
        for (k, &w) in row.iter().enumerate() {
            // k = b·wpb + w
            words[k * rows + r] = w;
        }
    }
    Ok((format, words))
}

/// The words of each block in GGUF (row-major) order.
fn pack_blocks(ty: GgmlType, raw: &[u8]) -> Result<(QFormat, Vec<u32>), QuantError> {
    let format = QFormat::for_ggml(ty).ok_or(QuantError::Unsupported(ty))?;
    let blocks = raw.chunks_exact(ty.type_size());
    let mut words = Vec::with_capacity(blocks.len() * format.words_per_block());
    let word = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    // `d` and the min `-k·d` as the two halves of a word (Q4_0, Q5_0 as Q4_1, Q5_1).
    let d_and_min = |b: &[u8]| {
        let d = f16::from_le_bytes([b[0], b[1]]);
        let m = offset_min(ty, d)?;
        Ok::<u32, QuantError>(d.to_bits() as u32 | (m.to_bits() as u32) << 16)
    };
    for b in blocks {
        match ty {
            GgmlType::Q4_1 => (0..5).for_each(|i| words.push(word(b, 4 * i))),
            GgmlType::Q4_0 => {
                words.push(d_and_min(b)?);
                (0..4).for_each(|i| words.push(word(b, 2 + 4 * i)));
            }
            GgmlType::Q5_1 => (0..6).for_each(|i| words.push(word(b, 4 * i))),
            GgmlType::Q5_0 => {
                words.push(d_and_min(b)?);
                (0..5).for_each(|i| words.push(word(b, 2 + 4 * i)));
            }
            GgmlType::Q8_0 => {
                words.push(f16::from_le_bytes([b[0], b[1]]).to_f32().to_bits());
                (0..8).for_each(|i| words.push(word(b, 2 + 4 * i)));
            }
            GgmlType::Q4_K => (0..36).for_each(|i| words.push(word(b, 4 * i))),
            GgmlType::Q6_K => {
                // GGUF: ql[128] qh[64] scales[16] d(f16) -> device: d(f32) scales ql qh.
                words.push(f16::from_le_bytes([b[208], b[209]]).to_f32().to_bits());
                (0..4).for_each(|i| words.push(word(b, 192 + 4 * i)));
                (0..48).for_each(|i| words.push(word(b, 4 * i)));
            }
            _ => unreachable!("format checked above"),
        }
    }
    Ok((format, words))
}

/// A quantized `[rows, cols]` matrix on the device.
#[derive(Clone)]
pub struct QMatrix {
    pub format: QFormat,
    pub rows: usize,
    pub cols: usize,
    pub words: CubeTensor, // [rows · cols/block · words_per_block] u32
}

impl QMatrix {
    pub fn device_bytes(&self) -> u64 {
        (self.rows * self.cols / self.format.block() * self.format.words_per_block() * 4) as u64
    }
}

/// Byte `k` (a runtime index) of the block words starting at `wb`, `stride` apart.
#[cube]
fn byte_at(w: &Tensor<u32>, wb: usize, stride: usize, k: usize) -> u32 {
    (w[wb + (k / 4) * stride] >> (8 * (k % 4) as u32)) & 0xFF
}

/// Decodes weights `32·g .. 32·g + 32` of row `row` into `q` (small integers as f32) and
/// returns through `coef` the affine map: weight `k` is `q[k]·coef[0] + coef[2]` for `k < 16`,
/// `q[k]·coef[1] + coef[2]` above.
#[cube]
fn decode_group(
    w: &Tensor<u32>,
    row: usize,
    rows: usize,
    g: usize,
    q: &mut Array<f32>,
    coef: &mut Array<f32>,
    #[comptime] format: u32,
) {
    let wpb = comptime![words_per_block(format)];
    if comptime![format == Q4_1 || format == Q5_1] {
        let nib = comptime![if format == Q4_1 { 1usize } else { 2usize }];
        let wb = g * wpb * rows + row;
        #[unroll]
        for i in 0..4usize {
            let word = w[wb + (nib + i) * rows];
            #[unroll]
            for j in 0..4u32 {
                let byte = (word >> (8 * j)) & 0xFF;
                q[4 * i + j as usize] = f32::cast_from(byte & 0xF);
                q[16 + 4 * i + j as usize] = f32::cast_from(byte >> 4);
            }
        }
        if comptime![format == Q5_1] {
            let qh = w[wb + rows];
            #[unroll]
            for k in 0..32u32 {
                q[k as usize] += f32::cast_from(((qh >> k) & 1) << 4);
            }
        }
        let dm = w[wb];
        let d = f16_to_f32(dm & 0xFFFF);
        coef[0] = d;
        coef[1] = d;
        coef[2] = f16_to_f32(dm >> 16);
    } else if comptime![format == Q8_0] {
        let wb = g * wpb * rows + row;
        #[unroll]
        for i in 0..8usize {
            let word = w[wb + (1 + i) * rows];
            #[unroll]
            for j in 0..4u32 {
                q[4 * i + j as usize] = i8_at(word, j);
            }
        }
        let d = f32::reinterpret(w[wb]);
        coef[0] = d;
        coef[1] = d;
        coef[2] = 0.0;
    } else if comptime![format == Q4_K] {
        // Sub-block `sub` of a 256-weight block: scale and min are 6-bit numbers packed in
        // 12 bytes (llama.cpp's get_scale_min_k4); nibbles of 32-byte chunk `sub / 2`.
        let wb = (g / 8) * wpb * rows + row;
        let sub = g % 8;
        let s = wb + rows; // the scale bytes start at word 1
        let j = sub % 4;
        let lo = byte_at(w, s, rows, j);
        let mid = byte_at(w, s, rows, j + 4);
        let hi = byte_at(w, s, rows, j + 8);
        let sc = select(sub < 4, lo & 63, (hi & 0xF) | ((lo >> 6) << 4));
        let mn = select(sub < 4, mid & 63, (hi >> 4) | ((mid >> 6) << 4));
        let shift = 4 * (sub % 2) as u32;
        let qb = wb + (4 + 8 * (sub / 2)) * rows;
        #[unroll]
        for i in 0..8usize {
            let word = w[qb + i * rows] >> shift;
            #[unroll]
            for j in 0..4u32 {
                q[4 * i + j as usize] = f32::cast_from((word >> (8 * j)) & 0xF);
            }
        }
        let dm = w[wb];
        let d = f16_to_f32(dm & 0xFFFF) * f32::cast_from(sc);
        coef[0] = d;
        coef[1] = d;
        coef[2] = -(f16_to_f32(dm >> 16) * f32::cast_from(mn));
    } else {
        // Q6_K: group `sub` is quarter `sub % 4` of 128-weight half `sub / 4`; 16 weights per
        // signed scale, so the two halves of a group have their own.
        let wb = (g / 8) * wpb * rows + row;
        let sub = g % 8;
        let n = sub / 4;
        let quarter = sub % 4;
        let lb = wb + (5 + 16 * n + 8 * (quarter % 2)) * rows;
        let hb = wb + (37 + 8 * n) * rows;
        let lshift = 4 * (quarter / 2) as u32;
        let hshift = 2 * quarter as u32;
        #[unroll]
        for i in 0..8usize {
            let lw = w[lb + i * rows] >> lshift;
            let hw = w[hb + i * rows] >> hshift;
            #[unroll]
            for j in 0..4u32 {
                let v = ((lw >> (8 * j)) & 0xF) | (((hw >> (8 * j)) & 3) << 4);
                q[4 * i + j as usize] = f32::cast_from(v) - 32.0;
            }
        }
        let k = 8 * n + 2 * quarter; // even: both scales are in one word
        let sw = w[wb + (1 + k / 4) * rows] >> (8 * (k % 4) as u32);
        let d = f32::reinterpret(w[wb]);
        coef[0] = d * i8_at(sw, 0u32);
        coef[1] = d * i8_at(sw, 1u32);
        coef[2] = 0.0;
    }
}

/// The dot products of row `row` with tokens `t0..t0+ntok` of `x`.
#[cube]
fn row_tile(
    w: &Tensor<u32>,
    x: &Tensor<f32>,
    row: usize,
    rows: usize,
    t0: usize,
    ntok: usize,
    cols: usize,
    #[comptime] format: u32,
    #[comptime] tm: usize,
) -> Array<f32> {
    let mut acc = Array::<f32>::new(tm);
    #[unroll]
    for t in 0..tm {
        acc[t] = 0.0;
    }
    let mut q = Array::<f32>::new(32usize);
    let mut coef = Array::<f32>::new(3usize);
    // Formats with one scale per group need one sum per token; Q6_K needs two (its halves'
    // scales differ). A min (`off`) needs the sum of the token's values.
    let split = comptime![format == Q6_K];
    let has_off = comptime![format != Q8_0 && format != Q6_K];
    for g in 0..cols / 32 {
        decode_group(w, row, rows, g, &mut q, &mut coef, format);
        #[unroll]
        for t in 0..tm {
            if t < ntok {
                let xo = (t0 + t) * cols + g * 32;
                let mut s = 0.0f32;
                let mut s_hi = 0.0f32;
                let mut sx = 0.0f32;
                #[unroll]
                for k in 0..16usize {
                    let xv = x[xo + k];
                    s += q[k] * xv;
                    if comptime![has_off] {
                        sx += xv;
                    }
                }
                #[unroll]
                for k in 16..32usize {
                    let xv = x[xo + k];
                    if comptime![split] {
                        s_hi += q[k] * xv;
                    } else {
                        s += q[k] * xv;
                    }
                    if comptime![has_off] {
                        sx += xv;
                    }
                }
                let mut v = coef[0] * s;
                if comptime![split] {
                    v += coef[1] * s_hi;
                }
                if comptime![has_off] {
                    v += coef[2] * sx;
                }
                acc[t] += v;
            }
        }
    }
    acc
}

/// `out[t, off + r] = (W x_t)[r]`, or `+=` when `accumulate` (a residual connection); `out`
/// rows are `stride` wide, so that matrices stacked by rows can write one buffer.
#[cube(launch_unchecked)]
pub fn gemv_kernel(
    w: &Tensor<u32>,
    x: &Tensor<f32>,
    out: &mut Tensor<f32>,
    rows: u32,
    cols: u32,
    m: u32,
    stride: u32,
    off: u32,
    #[comptime] format: u32,
    #[comptime] tm: usize,
    #[comptime] accumulate: bool,
) {
    let rows = rows as usize;
    let m = m as usize;
    let row = ABSOLUTE_POS % rows;
    let t0 = (ABSOLUTE_POS / rows) * tm;
    if t0 >= m {
        terminate!();
    }
    let ntok = min(tm, m - t0);
    let acc = row_tile(w, x, row, rows, t0, ntok, cols as usize, format, tm);
    #[unroll]
    for t in 0..tm {
        if t < ntok {
            let o = (t0 + t) * stride as usize + off as usize + row;
            if accumulate {
                out[o] += acc[t];
            } else {
                out[o] = acc[t];
            }
        }
    }
}

/// The fused SwiGLU feed-forward input: `out[t, r] = silu((G x_t)[r]) · (U x_t)[r]`.
#[cube(launch_unchecked)]
pub fn gemv_swiglu_kernel(
    gate: &Tensor<u32>,
    up: &Tensor<u32>,
    x: &Tensor<f32>,
    out: &mut Tensor<f32>,
    rows: u32,
    cols: u32,
    m: u32,
    #[comptime] gate_format: u32,
    #[comptime] up_format: u32,
    #[comptime] tm: usize,
) {
    let rows = rows as usize;
    let m = m as usize;
    let row = ABSOLUTE_POS % rows;
    let t0 = (ABSOLUTE_POS / rows) * tm;
    if t0 >= m {
        terminate!();
    }
    let ntok = min(tm, m - t0);
    let g = row_tile(gate, x, row, rows, t0, ntok, cols as usize, gate_format, tm);
    let u = row_tile(up, x, row, rows, t0, ntok, cols as usize, up_format, tm);
    #[unroll]
    for t in 0..tm {
        if t < ntok {
            let gv = g[t];
            out[(t0 + t) * rows + row] = gv / (1.0f32 + f32::exp(-gv)) * u[t];
        }
    }
}

/// Token tile for `m` tokens: 1 for decode, up to 8 for prefill.
fn tile(m: usize) -> usize {
    match m {
        1 => 1,
        2..=4 => 4,
        _ => 8,
    }
}

/// `x: [m, cols]` -> `[m, rows]`; with `residual`, adds into it in place and returns it.
pub fn gemv(w: &QMatrix, x: &CubeTensor, m: usize, residual: Option<CubeTensor>) -> CubeTensor {
    let accumulate = residual.is_some();
    let out = residual.unwrap_or_else(|| super::empty(x, [m, w.rows], DType::F32));
    launch_gemv(w, x, m, &out, w.rows, 0, accumulate);
    out
}

/// Matrices stacked by rows (each in its own format: llama.cpp's K-quant mixes give the value
/// projection more bits than query and key) times `x: [m, cols]` -> `[m, Σ rows]`.
pub fn gemv_stacked(parts: &[QMatrix], x: &CubeTensor, m: usize) -> CubeTensor {
    if let [one] = parts {
        return gemv(one, x, m, None);
    }
    let total: usize = parts.iter().map(|p| p.rows).sum();
    let out = super::empty(x, [m, total], DType::F32);
    let mut off = 0;
    for p in parts {
        launch_gemv(p, x, m, &out, total, off, false);
        off += p.rows;
    }
    out
}

fn launch_gemv(w: &QMatrix, x: &CubeTensor, m: usize, out: &CubeTensor, stride: usize, off: usize, acc: bool) {
    let tm = tile(m);
    let (count, dim) = grid(&x.client, w.rows * m.div_ceil(tm));
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        gemv_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            w.words.clone().into_tensor_arg(),
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            w.rows as u32,
            w.cols as u32,
            m as u32,
            stride as u32,
            off as u32,
            w.format.id(),
            tm,
            acc,
        )
    };
}

/// `silu(gate · x) ⊙ (up · x)`: `x: [m, cols]` -> `[m, rows]`.
pub fn gemv_swiglu(gate: &QMatrix, up: &QMatrix, x: &CubeTensor, m: usize) -> CubeTensor {
    assert_eq!((gate.rows, gate.cols), (up.rows, up.cols), "gate and up shapes (checked at load)");
    let tm = tile(m);
    let (count, dim) = grid(&x.client, gate.rows * m.div_ceil(tm));
    let out = super::empty(x, [m, gate.rows], DType::F32);
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        gemv_swiglu_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            gate.words.clone().into_tensor_arg(),
            up.words.clone().into_tensor_arg(),
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            gate.rows as u32,
            gate.cols as u32,
            m as u32,
            gate.format.id(),
            up.format.id(),
            tm,
        )
    };
    out
}

/// One group of 32 weights of a row dequantized, for [`super::embed`]: `out[k] = q·lo|hi + off`.
#[cube]
pub fn dequant_group(w: &Tensor<u32>, row: usize, rows: usize, g: usize, #[comptime] format: u32) -> Array<f32> {
    let mut q = Array::<f32>::new(32usize);
    let mut coef = Array::<f32>::new(3usize);
    decode_group(w, row, rows, g, &mut q, &mut coef, format);
    #[unroll]
    for k in 0..16usize {
        q[k] = q[k] * coef[0] + coef[2];
    }
    #[unroll]
    for k in 16..32usize {
        q[k] = q[k] * coef[1] + coef[2];
    }
    q
}

/// The CPU reference both the GPU kernels here and the CPU path's are tested against.
pub use crate::quant::gemv_reference;
