//! Rotary position embedding: the angle tables every forward path reads.

use super::config::LlamaConfig;

/// cos and sin of every (position, pair) angle `pos · base^(-2i/dims) / freq_factor[i]`, as
/// `[capacity, rope_dims / 2]`, computed in f64 so that long contexts keep full f32 precision.
pub fn rope_tables(cfg: &LlamaConfig, capacity: usize, freq_factors: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
    let half = cfg.rope_dims / 2;
    let mut cos = Vec::with_capacity(capacity * half);
    let mut sin = Vec::with_capacity(capacity * half);
    for pos in 0..capacity {
        for i in 0..half {
            let inv_freq = (cfg.rope_base as f64).powf(-2.0 * i as f64 / cfg.rope_dims as f64);
            let factor = freq_factors.and_then(|f| f.get(i)).map_or(1.0, |&f| f as f64);
            let theta = pos as f64 * inv_freq / factor;
            cos.push(theta.cos() as f32);
            sin.push(theta.sin() as f32);
        }
    }
    (cos, sin)
}
