//! RoPE on queries and keys, fused with the KV-cache write.
//!
//! Input is the fused QKV projection `qkv: [m, (H + 2·KV)·hd]` (query heads, then key heads,
//! then value heads). Queries are rotated in place; keys are rotated and values copied straight
//! into the caches `[KV, capacity, hd]` at positions `pos..pos+m`. One invocation per
//! (token, head, pair of dimensions).

use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::grid;

#[cube(launch_unchecked)]
pub fn rope_kv_kernel(
    qkv: &mut Tensor<f32>,
    cos: &Tensor<f32>,
    sin: &Tensor<f32>,
    k_cache: &mut Tensor<f32>,
    v_cache: &mut Tensor<f32>,
    m: u32,
    n_heads: u32,
    n_kv: u32,
    pos: u32,
    capacity: u32,
    #[comptime] head_dim: usize,
    #[comptime] rope_dims: usize,
    #[comptime] half_split: bool,
) {
    let pairs = head_dim / 2;
    let rope_pairs = rope_dims / 2;
    let n_heads = n_heads as usize;
    let n_kv = n_kv as usize;
    let all_heads = n_heads + 2 * n_kv;
    let i = ABSOLUTE_POS % pairs;
    let head = (ABSOLUTE_POS / pairs) % all_heads;
    let t = ABSOLUTE_POS / (pairs * all_heads);
    if t >= m as usize {
        terminate!();
    }
    // The two dimensions this invocation owns, and whether RoPE rotates them.
    let rotated = i < rope_pairs;
    let (a, b) = if half_split && rotated { (i, i + rope_pairs) } else { (2 * i, 2 * i + 1) };
    let row = t * all_heads * head_dim + head * head_dim;
    let p = pos as usize + t;
    let x0 = qkv[row + a];
    let x1 = qkv[row + b];
    let mut y0 = x0;
    let mut y1 = x1;
    if rotated {
        let c = cos[p * rope_pairs + i];
        let s = sin[p * rope_pairs + i];
        y0 = x0 * c - x1 * s;
        y1 = x0 * s + x1 * c;
    }
    if head < n_heads {
        qkv[row + a] = y0;
        qkv[row + b] = y1;
    } else if head < n_heads + n_kv {
        let o = ((head - n_heads) * capacity as usize + p) * head_dim;
        k_cache[o + a] = y0;
        k_cache[o + b] = y1;
    } else {
        let o = ((head - n_heads - n_kv) * capacity as usize + p) * head_dim;
        v_cache[o + a] = x0;
        v_cache[o + b] = x1;
    }
}

/// Geometry of one attention layer, shared by `rope_kv` and `attention`.
#[derive(Debug, Clone, Copy)]
pub struct HeadLayout {
    pub n_heads: usize,
    pub n_kv: usize,
    pub head_dim: usize,
    pub rope_dims: usize,
    pub half_split: bool,
    pub capacity: usize,
}

/// cos and sin of every (position, pair) angle, `[capacity, rope_dims / 2]` each.
#[derive(Clone)]
pub struct RopeTables {
    pub cos: CubeTensor,
    pub sin: CubeTensor,
}

/// Rotates `qkv: [m, (H+2KV)·hd]` (queries in place) and writes K, V at `pos..pos+m` of
/// `cache` (keys, values).
pub fn rope_kv(
    qkv: &CubeTensor,
    rope: &RopeTables,
    cache: (&CubeTensor, &CubeTensor),
    l: HeadLayout,
    m: usize,
    pos: usize,
) {
    let (k_cache, v_cache) = cache;
    let units = m * (l.n_heads + 2 * l.n_kv) * l.head_dim / 2;
    let (count, dim) = grid(&qkv.client, units);
    // SAFETY: the launcher sized every buffer for the indices the kernel computes.
    unsafe {
        rope_kv_kernel::launch_unchecked(
            &qkv.client,
            count,
            dim,
            qkv.clone().into_tensor_arg(),
            rope.cos.clone().into_tensor_arg(),
            rope.sin.clone().into_tensor_arg(),
            k_cache.clone().into_tensor_arg(),
            v_cache.clone().into_tensor_arg(),
            m as u32,
            l.n_heads as u32,
            l.n_kv as u32,
            pos as u32,
            l.capacity as u32,
            l.head_dim,
            l.rope_dims,
            l.half_split,
        )
    };
}
