//! The Llama forward pass, written once: each product path implements [`Backend`]'s operations
//! on its own buffers (the CPU kernels on host vectors, [`super::cpu`]; the GPU kernels on
//! device buffers, [`super::gpu`]), and [`forward`] reads like the math.
//!
//! ```text
//! x = embed(tokens)                                       [m, n_embd]
//! per layer:
//!     qkv = Wqkv · rms_norm(x) (+ biases)                 [m, (H + 2KV)·hd]
//!     rotate q and k; cache[pos..pos+m] = k, v            [n_kv, capacity, hd] each
//!     x += Wo · attention(q, cache[0..pos+m])             [m, H·hd] -> [m, n_embd]
//!     h = rms_norm(x)
//!     x += Wdown · (silu(Wgate · h) ⊙ (Wup · h))          [m, n_ff] -> [m, n_embd]
//! logits = head · rms_norm(x[m-1])                        [vocab]
//! ```
//!
//! The burn-ops reference ([`super::reference`], tests only) is written separately, in
//! tensor operations, so that it shares no code with what it checks.

use super::weights::LayerTensors;

/// One forward path's operations. `m` is the number of tokens run, `pos` the position of the
/// first.
pub trait Backend {
    /// Activations, `[m, width]` row-major (host memory, or a device buffer).
    type Act;
    /// A norm's weights, `[n_embd]`.
    type Vector;
    /// A linear layer's weights, `[rows, cols]`, quantized.
    type Matrix;
    /// One layer's keys and values, `[n_kv_heads, capacity, head_dim]` each.
    type Cache;
    /// The last token's logits, where the path computed them.
    type Logits;

    fn layers(&self) -> &[LayerTensors<Self::Vector, Self::Matrix>];
    /// `[m, n_embd]`: the tokens' rows of the embedding table.
    fn embed(&self, tokens: &[u32]) -> Self::Act;
    /// `[m, n_embd]`: each row of `x` over its root mean square, times `w`.
    fn rms_norm(&self, x: &Self::Act, w: &Self::Vector, m: usize) -> Self::Act;
    /// `[m, (H + 2KV)·hd]`: layer `layer`'s query, key and value projections (`w`: its parts,
    /// stacked by rows), with the layer's biases where the model has them.
    fn qkv(&self, layer: usize, w: &[Self::Matrix], h: &Self::Act, m: usize) -> Self::Act;
    /// Rotates the queries and keys in `qkv` for positions `pos..pos+m`, and writes the keys
    /// and values into `cache` there.
    fn rope_kv_write(&self, qkv: &mut Self::Act, cache: &mut Self::Cache, m: usize, pos: usize);
    /// `[m, H·hd]`: causal grouped-query attention of the `m` queries in `qkv` over positions
    /// `0..pos+m` of `cache`.
    fn attention(&self, qkv: &Self::Act, cache: &Self::Cache, m: usize, pos: usize) -> Self::Act;
    /// `x + W·a` (`a: [m, cols]`, `x: [m, rows]`), in place.
    fn matvec_add(&self, w: &Self::Matrix, a: &Self::Act, m: usize, x: Self::Act) -> Self::Act;
    /// `[m, n_ff]`: `silu(gate·h) ⊙ (up·h)`.
    fn swiglu(&self, gate: &Self::Matrix, up: &Self::Matrix, h: &Self::Act, m: usize) -> Self::Act;
    /// `[1, n_embd]`: the last of the `m` rows of `x`, through the output norm.
    fn last_norm(&self, x: &Self::Act, m: usize) -> Self::Act;
    /// `[vocab]`: `last` (`[1, n_embd]`) through the output head.
    fn logits(&self, last: &Self::Act) -> Self::Logits;
    /// Takes back activations the forward is done with, for a later op's output: the CPU path
    /// reuses its buffers (a prefill's are megabytes each, allocated six times a layer
    /// otherwise); the GPU path's allocator pools them already.
    fn recycle(&self, _a: Self::Act) {}
}

/// Runs `tokens` at positions `pos..` (checked by the caller: they fit the cache), writes
/// their keys and values into `cache` (one per layer), and returns the last token's logits.
pub fn forward<B: Backend>(b: &B, tokens: &[u32], cache: &mut [B::Cache], pos: usize) -> B::Logits {
    let m = tokens.len();
    let mut x = b.embed(tokens); // [m, n_embd]
    for (i, (w, c)) in b.layers().iter().zip(cache).enumerate() {
        let h = b.rms_norm(&x, &w.attn_norm, m); // [m, n_embd]
        let mut qkv = b.qkv(i, &w.wqkv, &h, m); // [m, (H + 2KV)·hd]
        b.recycle(h);
        b.rope_kv_write(&mut qkv, c, m, pos);
        let att = b.attention(&qkv, c, m, pos); // [m, H·hd]
        b.recycle(qkv);
        x = b.matvec_add(&w.wo, &att, m, x); // [m, n_embd]
        b.recycle(att);
        let h = b.rms_norm(&x, &w.ffn_norm, m);
        let act = b.swiglu(&w.gate, &w.up, &h, m); // [m, n_ff]
        b.recycle(h);
        x = b.matvec_add(&w.down, &act, m, x); // [m, n_embd]
        b.recycle(act);
    }
    b.logits(&b.last_norm(&x, m))
}
