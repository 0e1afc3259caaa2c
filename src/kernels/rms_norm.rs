//! RMSNorm: `out[t] = x[t] / sqrt(mean(x[t]²) + eps) · w`, one invocation per token row.
//!
//! The residual add that precedes each norm in a Llama block is fused into the GEMV that
//! produces it (`gemv` with a residual), so this kernel only normalises.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::grid;

/// Normalises rows `skip..skip+n` of `x` into rows `0..n` of `out`.
#[cube(launch_unchecked)]
pub fn rms_norm_kernel(x: &Tensor<f32>, w: &Tensor<f32>, out: &mut Tensor<f32>, n: u32, skip: u32, dim: u32, eps: f32) {
    let row = ABSOLUTE_POS;
    if row >= n as usize {
        terminate!();
    }
    let dim = dim as usize;
    let src = (row + skip as usize) * dim;
    let dst = row * dim;
    let mut ss = 0.0f32;
    for i in 0..dim {
        let v = x[src + i];
        ss += v * v;
    }
    let scale = 1.0f32 / f32::sqrt(ss / f32::cast_from(dim) + eps);
    for i in 0..dim {
        out[dst + i] = x[src + i] * scale * w[i];
    }
}

/// `x: [m, dim]`, `w: [dim]` -> `[m, dim]`.
pub fn rms_norm(x: &CubeTensor, w: &CubeTensor, m: usize, eps: f32) -> CubeTensor {
    rms_norm_rows(x, w, 0, m, eps)
}

/// Only rows `skip..m` of `x: [m, dim]` -> `[m - skip, dim]` (the LM head needs the last row).
pub fn rms_norm_rows(x: &CubeTensor, w: &CubeTensor, skip: usize, m: usize, eps: f32) -> CubeTensor {
    let dim = w.meta.shape()[0];
    let n = m - skip;
    let out = super::empty(x, [n, dim], DType::F32);
    let (count, cube_dim) = grid(&x.client, n);
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        rms_norm_kernel::launch_unchecked(
            &x.client,
            count,
            cube_dim,
            x.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            n as u32,
            skip as u32,
            dim as u32,
            eps,
        )
    };
    out
}
