//! Picking the next token from logits: greedy, or seeded sampling with temperature, top-k,
//! top-p and a repetition penalty.
//!
//! The random generator is our own (SplitMix64) so that the same seed gives the same text on
//! every platform, natively and in wasm, without an entropy source.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SamplerConfig {
    /// 0 (or below) means greedy: always the highest logit, ties to the lowest id.
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 disables.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p; 1 disables.
    pub top_p: f32,
    /// > 1 discourages tokens seen in the last `repeat_last_n` tokens (llama.cpp's rule).
    pub repetition_penalty: f32,
    pub repeat_last_n: usize,
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig { temperature: 0.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0, repeat_last_n: 64, seed: 0 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerError {
    #[error("temperature must be a finite number >= 0, got {0}")]
    Temperature(f32),
    #[error("top_p must be in (0, 1], got {0}")]
    TopP(f32),
    #[error("repetition penalty must be a finite number > 0, got {0}")]
    Penalty(f32),
    #[error("no logits to sample from")]
    Empty,
    #[error("every logit is NaN")]
    NotANumber,
}

impl SamplerConfig {
    pub fn greedy() -> Self {
        Self::default()
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 && self.repetition_penalty == 1.0
    }

    pub fn validate(&self) -> Result<(), SamplerError> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(SamplerError::Temperature(self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SamplerError::TopP(self.top_p));
        }
        if !self.repetition_penalty.is_finite() || self.repetition_penalty <= 0.0 {
            return Err(SamplerError::Penalty(self.repetition_penalty));
        }
        Ok(())
    }
}

/// SplitMix64: tiny, fast, and identical everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

pub struct Sampler {
    config: SamplerConfig,
    rng: Rng,
}

impl Sampler {
    pub fn new(config: SamplerConfig) -> Result<Self, SamplerError> {
        config.validate()?;
        let rng = Rng::new(config.seed);
        Ok(Sampler { config, rng })
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    /// Chooses the next token. `history` is every token so far (prompt and reply), used by the
    /// repetition penalty.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> Result<u32, SamplerError> {
        if logits.is_empty() {
            return Err(SamplerError::Empty);
        }
        if self.config.is_greedy() {
            return argmax(logits).ok_or(SamplerError::NotANumber);
        }
        // The random number is taken only where it is used, so seeds replay the same way.
        let u = if self.config.temperature <= 0.0 { 0.0 } else { self.rng.next_f32() };
        self.sample_with(logits, history, u).ok_or(SamplerError::NotANumber)
    }

    /// What [`Sampler::sample`] would pick with the uniform draw `u` (the rng untouched): the
    /// host's answer for a device that samples by itself. `None` when every logit is NaN.
    pub fn sample_with(&self, logits: &[f32], history: &[u32], u: f32) -> Option<u32> {
        let mut logits = logits.to_vec();
        self.apply_repetition_penalty(&mut logits, history);
        if self.config.is_greedy() || self.config.temperature <= 0.0 {
            return argmax(&logits);
        }
        draw(&self.candidates(&logits), u)
    }

    /// The next token's draw for a device that samples by itself (one random number taken, as
    /// [`Sampler::sample`] takes), or `None` where the host must sample: greedy, no temperature,
    /// or a top-k that is unlimited or wider than `max_k`.
    pub fn plan(&mut self, history: &[u32], max_k: usize) -> Option<Draw> {
        let c = &self.config;
        if c.is_greedy() || c.temperature <= 0.0 || c.top_k == 0 || c.top_k > max_k {
            return None;
        }
        let (penalty, top_k, temperature, top_p) = (c.repetition_penalty, c.top_k, c.temperature, c.top_p);
        let penalized = self.penalized_ids(history);
        Some(Draw { penalized, penalty, top_k, temperature, top_p, u: self.rng.next_f32() })
    }

    /// The distinct ids of the last `repeat_last_n` tokens (none when there is no penalty).
    fn penalized_ids(&self, history: &[u32]) -> Vec<u32> {
        if self.config.repetition_penalty == 1.0 {
            return Vec::new();
        }
        let start = history.len().saturating_sub(self.config.repeat_last_n);
        let mut seen = std::collections::HashSet::new();
        history[start..].iter().copied().filter(|&id| seen.insert(id)).collect()
    }

    /// llama.cpp's penalty: positive logits are divided by it, negative ones multiplied.
    fn apply_repetition_penalty(&self, logits: &mut [f32], history: &[u32]) {
        let p = self.config.repetition_penalty;
        for id in self.penalized_ids(history) {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = if *l > 0.0 { *l / p } else { *l * p };
            }
        }
    }

    /// Tokens that survive top-k and top-p, with their probabilities (sorted, most likely first).
    fn candidates(&self, logits: &[f32]) -> Vec<(u32, f32)> {
        let t = self.config.temperature;
        let mut c: Vec<(u32, f32)> =
            logits.iter().enumerate().filter(|(_, l)| !l.is_nan()).map(|(i, &l)| (i as u32, l / t)).collect();
        c.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if self.config.top_k > 0 {
            c.truncate(self.config.top_k);
        }
        let max = c.first().map(|x| x.1).unwrap_or(0.0);
        let mut sum = 0.0f64;
        for x in &mut c {
            x.1 = (x.1 - max).exp();
            sum += x.1 as f64;
        }
        for x in &mut c {
            x.1 = (x.1 as f64 / sum) as f32;
        }
        if self.config.top_p < 1.0 {
            let mut acc = 0.0;
            let keep = c
                .iter()
                .position(|x| {
                    acc += x.1;
                    acc >= self.config.top_p
                })
                .map_or(c.len(), |i| i + 1);
            c.truncate(keep);
        }
        c
    }
}

/// One token's sampling, as a device carries it out (`crate::kernels::sample`).
#[derive(Debug, Clone)]
pub struct Draw {
    /// Distinct token ids whose logits the repetition penalty changes.
    pub penalized: Vec<u32>,
    pub penalty: f32,
    pub top_k: usize,
    pub temperature: f32,
    pub top_p: f32,
    /// The uniform random number in [0, 1) that picks among the candidates.
    pub u: f32,
}

/// The candidate that `u` ∈ [0, 1) falls on, in proportion to the probabilities (`None`: no
/// candidates, every logit NaN).
fn draw(candidates: &[(u32, f32)], u: f32) -> Option<u32> {
    let total: f32 = candidates.iter().map(|x| x.1).sum();
    let mut r = u * total;
    for &(id, p) in candidates {
        if r < p {
            return Some(id);
        }
        r -= p;
    }
    candidates.last().map(|x| x.0)
}

/// Index of the largest value, ties to the lowest index; a NaN never wins. `None` when every
/// value is NaN (or there are none). The one greedy rule: the device's
/// [`crate::kernels::argmax`] keeps it too.
pub fn argmax(v: &[f32]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &x) in v.iter().enumerate() {
        if !x.is_nan() && best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i as u32)
}
