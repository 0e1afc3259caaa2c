//! Sampling on the device: repetition penalty, top-k, temperature, top-p and the draw, so that a
//! sampled decode step reads back one token id (4 bytes) instead of the vocabulary's logits
//! (196 KB for SmolLM2), exactly as [`crate::sampler::Sampler`] chooses on the host.
//!
//! No barriers (see [`super`]): `PARTS` invocations each keep the top `k` of a contiguous chunk,
//! sorted; one invocation merges those lists; one draws. `k` is at most [`MAX_K`]; wider or
//! unlimited top-k samples on the host.

use burn::tensor::DType;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use crate::sampler::Draw;

/// The largest top-k sampled on the device (the per-invocation lists live in registers).
pub const MAX_K: usize = 64;

const PARTS: usize = 256;

/// llama.cpp's repetition penalty on the logits of `ids` (distinct), in place.
#[cube(launch_unchecked)]
pub fn penalize_kernel(x: &mut Tensor<f32>, ids: &Tensor<u32>, penalty: f32) {
    if ABSOLUTE_POS >= ids.len() {
        terminate!();
    }
    let i = ids[ABSOLUTE_POS] as usize;
    let v = x[i];
    x[i] = select(v > 0.0, v / penalty, v * penalty);
}

/// `v` ranks before `w` (larger value, or the same value at a lower index).
#[cube]
fn before(v: f32, i: u32, w: f32, j: u32) -> bool {
    v > w || (v == w && i < j)
}

/// Each invocation: the top `k` of its chunk, sorted, into `vals`/`idx[part·MAX_K ..]`; unused
/// slots get the lowest f32 and index `u32::MAX` (WGSL has no infinity). NaN logits are skipped (as on the host:
/// `v == v` is false only for NaN).
#[allow(clippy::eq_op)]
#[cube(launch_unchecked)]
pub fn topk_partial_kernel(x: &Tensor<f32>, vals: &mut Tensor<f32>, idx: &mut Tensor<u32>, n: u32, chunk: u32, k: u32) {
    let part = ABSOLUTE_POS;
    if part >= PARTS {
        terminate!();
    }
    let k = k as usize;
    let mut bv = Array::<f32>::new(MAX_K);
    let mut bi = Array::<u32>::new(MAX_K);
    let mut cnt = 0usize;
    let start = part * chunk as usize;
    let end = min(start + chunk as usize, n as usize);
    for i in start..end {
        let v = x[i];
        // Indices rise through the chunk, so a value equal to the last kept one ranks after it.
        let enters = v == v && (cnt < k || v > bv[k - 1]);
        if enters {
            let mut p = min(cnt, k - 1);
            loop {
                if p == 0 || bv[p - 1] >= v {
                    break;
                }
                bv[p] = bv[p - 1];
                bi[p] = bi[p - 1];
                p -= 1;
            }
            bv[p] = v;
            bi[p] = i as u32;
            cnt = min(cnt + 1, k);
        }
    }
    let base = part * MAX_K;
    for j in 0..k {
        vals[base + j] = select(j < cnt, bv[j], f32::new(-3.402_823_5e38));
        idx[base + j] = select(j < cnt, bi[j], u32::MAX);
    }
}

/// One invocation: the top `k` of all parts' lists, sorted, into `top_val`/`top_idx`.
#[cube(launch_unchecked)]
pub fn topk_merge_kernel(
    vals: &Tensor<f32>,
    idx: &Tensor<u32>,
    top_val: &mut Tensor<f32>,
    top_idx: &mut Tensor<u32>,
    k: u32,
) {
    if ABSOLUTE_POS > 0 {
        terminate!();
    }
    let mut head = Array::<u32>::new(PARTS);
    for p in 0..PARTS {
        head[p] = 0u32;
    }
    for j in 0..k as usize {
        let mut best = 0usize;
        let mut bv = f32::new(-3.402_823_5e38);
        let mut bi = 4_294_967_295u32; // u32::MAX, a runtime variable
        for p in 0..PARTS {
            let h = head[p] as usize;
            if h < k as usize {
                let v = vals[p * MAX_K + h];
                let i = idx[p * MAX_K + h];
                if before(v, i, bv, bi) {
                    bv = v;
                    bi = i;
                    best = p;
                }
            }
        }
        let next = head[best] + 1;
        head[best] = next;
        top_val[j] = bv;
        top_idx[j] = bi;
    }
}

/// One invocation: softmax of the `k` sorted candidates at `temperature`, cut to
/// the smallest prefix whose mass reaches `top_p`, and the candidate that `u` ∈ [0, 1) falls on.
#[cube(launch_unchecked)]
pub fn draw_kernel(
    top_val: &Tensor<f32>,
    top_idx: &Tensor<u32>,
    out: &mut Tensor<u32>,
    k: u32,
    temperature: f32,
    top_p: f32,
    u: f32,
) {
    if ABSOLUTE_POS > 0 {
        terminate!();
    }
    // Candidates a NaN-riddled or tiny vocabulary could not fill have index u32::MAX.
    let mut n = 0usize;
    for j in 0..k as usize {
        if top_idx[j] != u32::MAX {
            n = j + 1;
        }
    }
    // Softmax of the candidates, each probability computed once.
    let top = top_val[0] / temperature;
    let mut p = Array::<f32>::new(MAX_K);
    let mut sum = 0.0f32;
    for j in 0..n {
        p[j] = f32::exp(top_val[j] / temperature - top);
        sum += p[j];
    }
    for j in 0..n {
        p[j] /= sum;
    }
    // The prefix reaching top_p (all of them when top_p is 1), and its mass.
    let mut keep = n;
    let mut acc = 0.0f32;
    let mut found = false;
    for j in 0..n {
        if !found {
            acc += p[j];
            if acc >= top_p {
                keep = j + 1;
                found = true;
            }
        }
    }
    let mut total = 0.0f32;
    for j in 0..keep {
        total += p[j];
    }
    let mut r = u * total;
    let mut pick = top_idx[max(keep, 1) - 1];
    let mut done = false;
    for j in 0..keep {
        if !done {
            if r < p[j] {
                pick = top_idx[j];
                done = true;
            } else {
                r -= p[j];
            }
        }
    }
    out[0] = pick;
}

/// The top `k` (1..=[`MAX_K`]) of the `n` logits in `x`, sorted (ties to the lower index):
/// `([k] f32 values, [k] u32 indices)`.
pub fn topk(x: &CubeTensor, n: usize, k: usize) -> (CubeTensor, CubeTensor) {
    assert!((1..=MAX_K).contains(&k), "top-k of {k}: the caller keeps k within 1..={MAX_K}");
    let chunk = n.div_ceil(PARTS);
    let vals = super::empty(x, [PARTS * MAX_K], DType::F32);
    let idx = super::empty(x, [PARTS * MAX_K], DType::U32);
    let top_val = super::empty(x, [k], DType::F32);
    let top_idx = super::empty(x, [k], DType::U32);
    let (count, dim) = super::grid(&x.client, PARTS);
    // SAFETY: the launchers sized every buffer for the indices the kernels compute.
    unsafe {
        topk_partial_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            vals.clone().into_tensor_arg(),
            idx.clone().into_tensor_arg(),
            n as u32,
            chunk as u32,
            k as u32,
        );
        topk_merge_kernel::launch_unchecked(
            &x.client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(1),
            vals.into_tensor_arg(),
            idx.into_tensor_arg(),
            top_val.clone().into_tensor_arg(),
            top_idx.clone().into_tensor_arg(),
            k as u32,
        );
    }
    (top_val, top_idx)
}

/// The token [`Draw`] picks from the `n` logits in `x` (changed in place by the penalty) -> a
/// one-element u32 buffer. `d.top_k` is within 1..=[`MAX_K`] and `d.temperature` positive.
pub fn sample(x: &CubeTensor, n: usize, d: &Draw) -> CubeTensor {
    let penalized: Vec<u32> = d.penalized.iter().copied().filter(|&i| (i as usize) < n).collect();
    if !penalized.is_empty() && d.penalty != 1.0 {
        let ids = super::upload_u32(x, &penalized);
        let (count, dim) = super::grid(&x.client, penalized.len());
        // SAFETY: every id is below `n` (checked by the caller); one invocation per id.
        unsafe {
            penalize_kernel::launch_unchecked(
                &x.client,
                count,
                dim,
                x.clone().into_tensor_arg(),
                ids.into_tensor_arg(),
                d.penalty,
            )
        };
    }
    let (top_val, top_idx) = topk(x, n, d.top_k);
    let out = super::empty(x, [1], DType::U32);
    // SAFETY: one invocation reading `k` candidates and writing one id.
    unsafe {
        draw_kernel::launch_unchecked(
            &x.client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(1),
            top_val.into_tensor_arg(),
            top_idx.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            d.top_k as u32,
            d.temperature,
            d.top_p,
            d.u,
        )
    };
    out
}
