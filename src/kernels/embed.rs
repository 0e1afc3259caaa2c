//! Embedding lookup: rows of a quantized table (the device layout of [`super::gemv`]),
//! dequantized on the device.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::gemv::{QMatrix, dequant_group};
use super::grid;

/// `out[t, 32·g + k] = table[ids[t], 32·g + k]`, one invocation per group of 32 outputs.
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
    let groups = cols as usize / 32;
    let t = ABSOLUTE_POS / groups;
    let g = ABSOLUTE_POS % groups;
    if t >= m as usize {
        terminate!();
    }
    let v = dequant_group(table, ids[t] as usize, rows as usize, g, format);
    let o = t * cols as usize + g * 32;
    #[unroll]
    for k in 0..32usize {
        out[o + k] = v[k];
    }
}

/// Rows `ids` (a u32 buffer of `m` ids, each checked by the caller) of `table` -> `[m, cols]`.
pub fn embed(table: &QMatrix, ids: &CubeTensor, m: usize) -> CubeTensor {
    let out = super::empty(ids, [m, table.cols], DType::F32);
    let (count, dim) = grid(&ids.client, m * table.cols / 32);
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
            table.format.id(),
        )
    };
    out
}
