//! Greedy sampling on the device: the index of the largest logit, so that a decode step reads
//! back 4 bytes instead of the whole vocabulary. Ties go to the lowest index, as in the
//! references; NaNs are skipped. It is the top-1 of [`super::sample::topk`] (the same two
//! barrier-free launches: chunk winners, then one invocation over them).

use burn_cubecl::tensor::CubeTensor;

/// Index of the largest of the `n` values in `x` -> a one-element u32 buffer.
pub fn argmax(x: &CubeTensor, n: usize) -> CubeTensor {
    super::sample::topk(x, n, 1).1
}
