//! Greedy sampling on the device: the index of the largest logit, so that a decode step reads
//! back 4 bytes instead of the whole vocabulary. Ties go to the lowest index, as in the
//! references.
//!
//! Two launches without barriers: `PARTS` invocations each scan a contiguous chunk, then one
//! invocation reduces their winners.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

const PARTS: usize = 256;

#[cube(launch_unchecked)]
pub fn argmax_partial_kernel(
    x: &Tensor<f32>,
    best_val: &mut Tensor<f32>,
    best_idx: &mut Tensor<u32>,
    n: u32,
    chunk: u32,
) {
    let part = ABSOLUTE_POS;
    if part >= best_val.len() {
        terminate!();
    }
    let start = part * chunk as usize;
    let end = min(start + chunk as usize, n as usize);
    let mut bv = f32::new(-3.0e38);
    let mut bi = start;
    for i in start..end {
        let v = x[i];
        if v > bv {
            bv = v;
            bi = i;
        }
    }
    best_val[part] = bv;
    best_idx[part] = bi as u32;
}

#[cube(launch_unchecked)]
pub fn argmax_final_kernel(best_val: &Tensor<f32>, best_idx: &Tensor<u32>, out: &mut Tensor<u32>) {
    if ABSOLUTE_POS > 0 {
        terminate!();
    }
    let mut bv = best_val[0];
    let mut bi = best_idx[0];
    for p in 1..best_val.len() {
        let v = best_val[p];
        if v > bv {
            bv = v;
            bi = best_idx[p];
        }
    }
    out[0] = bi;
}

/// Index of the largest of the `n` values in `x` -> a one-element u32 buffer.
pub fn argmax(x: &CubeTensor, n: usize) -> CubeTensor {
    let chunk = n.div_ceil(PARTS);
    let vals = super::empty(x, [PARTS], DType::F32);
    let idx = super::empty(x, [PARTS], DType::U32);
    let out = super::empty(x, [1], DType::U32);
    let (count, dim) = super::grid(&x.client, PARTS);
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        argmax_partial_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            vals.clone().into_tensor_arg(),
            idx.clone().into_tensor_arg(),
            n as u32,
            chunk as u32,
        )
    };
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        argmax_final_kernel::launch_unchecked(
            &x.client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(1),
            vals.into_tensor_arg(),
            idx.into_tensor_arg(),
            out.clone().into_tensor_arg(),
        )
    };
    out
}
