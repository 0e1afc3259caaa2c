//! Quantized matrix × activations: `out[t, r] = Σ_k W[r, k] · x[t, k]` with `W` kept in its
//! block format on the device and dequantized in registers.
//!
//! One invocation owns one weight row and a tile of `tm` tokens: it unpacks each block of the row
//! once and uses it for every token of its tile. Decode is `tm = 1`; prefill uses larger tiles so
//! that the weights are read `m / tm` times instead of `m` times.
//!
//! Device formats. A row is `cols / 32` blocks of `wpb` words; the words are stored
//! *interleaved across rows*: word `w` of block `b` of row `r` is at `(b·wpb + w)·rows + r`, so
//! the invocations of neighbouring rows read neighbouring words (coalesced on a GPU, one vector
//! load on the CPU-backed adapters, SwiftShader and lavapipe). Block contents:
//! - `Q4_1`: the GGUF block as stored, 5 words: `d | m << 16` (two f16), then 16 bytes of nibbles
//!   (element `j` in the low nibble of byte `j`, element `j + 16` in its high nibble).
//!   `Q4_0` blocks are converted to this form at upload (`m = -8·d`, exact).
//! - `Q8_0`: 9 words: `d` as f32 bits, then 32 signed bytes. (GGUF's 34-byte block is not
//!   word-aligned; widening `d` to f32 costs 2 bytes per block: 6 %.)

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use half::f16;

use super::{f16_to_f32, grid, i8_at};
use crate::quant::{GgmlType, QuantError};

/// Device layout of a quantized matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QFormat {
    Q4_1,
    Q8_0,
}

impl QFormat {
    pub const fn words_per_block(self) -> usize {
        match self {
            QFormat::Q4_1 => 5,
            QFormat::Q8_0 => 9,
        }
    }

    /// The device format for a GGUF tensor type, if our kernels handle it.
    pub fn for_ggml(ty: GgmlType) -> Option<Self> {
        match ty {
            GgmlType::Q4_0 | GgmlType::Q4_1 => Some(QFormat::Q4_1),
            GgmlType::Q8_0 => Some(QFormat::Q8_0),
            _ => None,
        }
    }
}

/// Repacks a GGUF matrix of `rows` rows, blocks of `ty`, into device words (block words of
/// [`QFormat::for_ggml`]`(ty)`, interleaved across rows).
pub fn pack(ty: GgmlType, raw: &[u8], rows: usize) -> Result<(QFormat, Vec<u32>), QuantError> {
    let (format, blocks) = pack_blocks(ty, raw)?;
    let row_words = blocks.len() / rows.max(1);
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
    for b in blocks {
        match ty {
            GgmlType::Q4_1 => (0..5).for_each(|i| words.push(word(b, 4 * i))),
            GgmlType::Q4_0 => {
                let d = f16::from_le_bytes([b[0], b[1]]);
                let m = f16::from_f32(-8.0 * d.to_f32());
                words.push(d.to_bits() as u32 | (m.to_bits() as u32) << 16);
                (0..4).for_each(|i| words.push(word(b, 2 + 4 * i)));
            }
            GgmlType::Q8_0 => {
                words.push(f16::from_le_bytes([b[0], b[1]]).to_f32().to_bits());
                (0..8).for_each(|i| words.push(word(b, 2 + 4 * i)));
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
    pub words: CubeTensor, // [rows · cols/32 · words_per_block] u32
}

impl QMatrix {
    pub fn device_bytes(&self) -> u64 {
        (self.rows * self.cols / 32 * self.format.words_per_block() * 4) as u64
    }
}

/// Accumulates one Q4_1 block of a row into the tile's accumulators. Word `i` of the block is
/// at `wb + i·stride`.
#[cube]
fn block_q4_1(
    w: &Tensor<u32>,
    wb: usize,
    stride: usize,
    x: &Tensor<f32>,
    xb: usize,
    cols: usize,
    ntok: usize,
    acc: &mut Array<f32>,
    #[comptime] tm: usize,
) {
    let dm = w[wb];
    let d = f16_to_f32(dm & 0xFFFF);
    let m = f16_to_f32(dm >> 16);
    let mut q = Array::<f32>::new(32usize);
    #[unroll]
    for i in 0..4usize {
        let word = w[wb + (1 + i) * stride];
        #[unroll]
        for j in 0..4u32 {
            let byte = (word >> (8 * j)) & 0xFF;
            q[4 * i + j as usize] = f32::cast_from(byte & 0xF);
            q[16 + 4 * i + j as usize] = f32::cast_from(byte >> 4);
        }
    }
    #[unroll]
    for t in 0..tm {
        if t < ntok {
            let xo = xb + t * cols;
            let mut s = 0.0f32;
            let mut sx = 0.0f32;
            #[unroll]
            for k in 0..32usize {
                let xv = x[xo + k];
                s += q[k] * xv;
                sx += xv;
            }
            acc[t] += d * s + m * sx;
        }
    }
}

/// Accumulates one Q8_0 block (device form) of a row into the tile's accumulators.
#[cube]
fn block_q8_0(
    w: &Tensor<u32>,
    wb: usize,
    stride: usize,
    x: &Tensor<f32>,
    xb: usize,
    cols: usize,
    ntok: usize,
    acc: &mut Array<f32>,
    #[comptime] tm: usize,
) {
    let d = f32::reinterpret(w[wb]);
    let mut q = Array::<f32>::new(32usize);
    #[unroll]
    for i in 0..8usize {
        let word = w[wb + (1 + i) * stride];
        #[unroll]
        for j in 0..4u32 {
            q[4 * i + j as usize] = i8_at(word, j);
        }
    }
    #[unroll]
    for t in 0..tm {
        if t < ntok {
            let xo = xb + t * cols;
            let mut s = 0.0f32;
            #[unroll]
            for k in 0..32usize {
                s += q[k] * x[xo + k];
            }
            acc[t] += d * s;
        }
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
    let nb = cols / 32;
    let wpb = comptime![if format == 0 { 5usize } else { 9usize }];
    for b in 0..nb {
        let wb = b * wpb * rows + row;
        let xb = t0 * cols + b * 32;
        if comptime![format == 0] {
            block_q4_1(w, wb, rows, x, xb, cols, ntok, &mut acc, tm);
        } else {
            block_q8_0(w, wb, rows, x, xb, cols, ntok, &mut acc, tm);
        }
    }
    acc
}

/// `out[t, r] = (W x_t)[r]`, or `out[t, r] += ...` when `accumulate` (a residual connection).
#[cube(launch_unchecked)]
pub fn gemv_kernel(
    w: &Tensor<u32>,
    x: &Tensor<f32>,
    out: &mut Tensor<f32>,
    rows: u32,
    cols: u32,
    m: u32,
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
            let o = (t0 + t) * rows + row;
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
    #[comptime] format: u32,
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
    let g = row_tile(gate, x, row, rows, t0, ntok, cols as usize, format, tm);
    let u = row_tile(up, x, row, rows, t0, ntok, cols as usize, format, tm);
    #[unroll]
    for t in 0..tm {
        if t < ntok {
            let gv = g[t];
            out[(t0 + t) * rows + row] = gv / (1.0f32 + f32::exp(-gv)) * u[t];
        }
    }
}

fn format_id(f: QFormat) -> u32 {
    match f {
        QFormat::Q4_1 => 0,
        QFormat::Q8_0 => 1,
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
    let tm = tile(m);
    let units = w.rows * m.div_ceil(tm);
    let (count, dim) = grid(&x.client, units);
    let accumulate = residual.is_some();
    let out = residual.unwrap_or_else(|| super::empty(x, [m, w.rows], DType::F32));
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
            format_id(w.format),
            tm,
            accumulate,
        )
    };
    out
}

/// `silu(gate · x) ⊙ (up · x)`: `x: [m, cols]` -> `[m, rows]`.
pub fn gemv_swiglu(gate: &QMatrix, up: &QMatrix, x: &CubeTensor, m: usize) -> CubeTensor {
    assert_eq!((gate.rows, gate.cols, gate.format), (up.rows, up.cols, up.format), "gate and up differ");
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
            format_id(gate.format),
            tm,
        )
    };
    out
}

/// CPU reference: dequantize (the tested [`crate::quant`] reference), then plain dot products.
/// `w` is GGUF bytes of type `ty`, `[rows, cols]`; `x` is `[m, cols]`.
pub fn gemv_reference(ty: GgmlType, w: &[u8], rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
    let wf = crate::quant::dequantize_to_vec(ty, w, rows * cols).expect("reference weights");
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
