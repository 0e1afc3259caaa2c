//! Causal grouped-query attention over the KV cache with an online softmax.
//!
//! One invocation per (token, query head): it streams the keys and values of positions
//! `0..=pos+t` once, keeping a running maximum, denominator and weighted sum of values
//! (`head_dim` registers), so no score matrix is ever stored. Query head `h` reads KV head
//! `h / (H / KV)`, as llama.cpp does.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::grid;
use super::rope_kv::HeadLayout;

#[cube(launch_unchecked)]
pub fn attention_kernel(
    qkv: &Tensor<f32>,
    k_cache: &Tensor<f32>,
    v_cache: &Tensor<f32>,
    out: &mut Tensor<f32>,
    m: u32,
    n_heads: u32,
    n_kv: u32,
    pos: u32,
    capacity: u32,
    scale: f32,
    #[comptime] head_dim: usize,
) {
    let n_heads = n_heads as usize;
    let n_kv = n_kv as usize;
    let h = ABSOLUTE_POS % n_heads;
    let t = ABSOLUTE_POS / n_heads;
    if t >= m as usize {
        terminate!();
    }
    let kvh = h / (n_heads / n_kv);
    let q_off = t * (n_heads + 2 * n_kv) * head_dim + h * head_dim;
    let mut q = Array::<f32>::new(head_dim);
    let mut acc = Array::<f32>::new(head_dim);
    #[unroll]
    for d in 0..head_dim {
        q[d] = qkv[q_off + d] * scale;
        acc[d] = 0.0;
    }
    let mut max = f32::new(-1.0e30);
    let mut denom = 0.0f32;
    let n = pos as usize + t + 1;
    let base = kvh * capacity as usize * head_dim;
    for p in 0..n {
        let o = base + p * head_dim;
        let mut s = 0.0f32;
        #[unroll]
        for d in 0..head_dim {
            s += q[d] * k_cache[o + d];
        }
        let new_max = f32::max(max, s);
        let correction = f32::exp(max - new_max);
        let e = f32::exp(s - new_max);
        denom = denom * correction + e;
        #[unroll]
        for d in 0..head_dim {
            acc[d] = acc[d] * correction + e * v_cache[o + d];
        }
        max = new_max;
    }
    let out_off = t * n_heads * head_dim + h * head_dim;
    let inv = 1.0f32 / denom;
    #[unroll]
    for d in 0..head_dim {
        out[out_off + d] = acc[d] * inv;
    }
}

/// Attention of the `m` queries in `qkv` (positions `pos..pos+m`) -> `[m, H·hd]`.
pub fn attention(
    qkv: &CubeTensor,
    k_cache: &CubeTensor,
    v_cache: &CubeTensor,
    l: HeadLayout,
    m: usize,
    pos: usize,
) -> CubeTensor {
    let out = super::empty(qkv, [m, l.n_heads * l.head_dim], DType::F32);
    let (count, dim) = grid(&qkv.client, m * l.n_heads);
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        attention_kernel::launch_unchecked(
            &qkv.client,
            count,
            dim,
            qkv.clone().into_tensor_arg(),
            k_cache.clone().into_tensor_arg(),
            v_cache.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            m as u32,
            l.n_heads as u32,
            l.n_kv as u32,
            pos as u32,
            l.capacity as u32,
            1.0 / (l.head_dim as f32).sqrt(),
            l.head_dim,
        )
    };
    out
}
