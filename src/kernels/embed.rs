//! Embedding lookup: rows of a quantized table (the device layout of [`super::gemv`]),
//! dequantized on the device.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::gemv::{QFormat, QMatrix};
use super::{f16_to_f32, grid};

/// `out[t, c] = table[ids[t], c]`, one invocation per output element.
#[cube(launch_unchecked)]
pub fn embed_kernel(
    table: &Tensor<u32>,
    ids: &Tensor<u32>,
    out: &mut Tensor<f32>,
    m: u32,
    rows: u32,
    cols: u32,
    #[comptime] format: u32,
) {
    let rows = rows as usize;
    let cols = cols as usize;
    let t = ABSOLUTE_POS / cols;
    let c = ABSOLUTE_POS % cols;
    if t >= m as usize {
        terminate!();
    }
    let id = ids[t] as usize;
    let k = c % 32;
    if comptime![format == 0] {
        // Q4_1: 5 words per block; element k is nibble (k % 16) of byte, high half for k >= 16.
        let wb = (c / 32) * 5 * rows + id;
        let dm = table[wb];
        let byte_index = k % 16;
        let word = table[wb + (1 + byte_index / 4) * rows];
        let byte = (word >> (8 * (byte_index % 4) as u32)) & 0xFF;
        let q = select(k < 16, byte & 0xF, byte >> 4);
        out[ABSOLUTE_POS] = f32::cast_from(q) * f16_to_f32(dm & 0xFFFF) + f16_to_f32(dm >> 16);
    } else {
        // Q8_0: 9 words per block.
        let wb = (c / 32) * 9 * rows + id;
        let word = table[wb + (1 + k / 4) * rows];
        let sh = (k % 4) as u32;
        let b = (word >> (8 * sh)) & 0xFF;
        let q = f32::cast_from(b) - select(b > 127, 256.0f32, 0.0f32);
        out[ABSOLUTE_POS] = q * f32::reinterpret(table[wb]);
    }
}

/// Rows `ids` (a u32 buffer of `m` ids, each checked by the caller) of `table` -> `[m, cols]`.
pub fn embed(table: &QMatrix, ids: &CubeTensor, m: usize) -> CubeTensor {
    let out = super::empty(ids, [m, table.cols], DType::F32);
    let (count, dim) = grid(&ids.client, m * table.cols);
    let format = match table.format {
        QFormat::Q4_1 => 0,
        QFormat::Q8_0 => 1,
    };
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        embed_kernel::launch_unchecked(
            &ids.client,
            count,
            dim,
            table.words.clone().into_tensor_arg(),
            ids.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            m as u32,
            table.rows as u32,
            table.cols as u32,
            format,
        )
    };
    out
}
