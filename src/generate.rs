//! Text generation: prefill the prompt, then one token per step, pulled by the caller.
//!
//! The caller drives the loop (`next().await` until `None`), which is what a browser needs:
//! between two tokens the worker can post text, notice an abort, or yield to the event loop.
//! Device reads are async because WebGPU readback is; natively the CLI blocks on them.

use std::sync::Arc;
use std::time::Duration;

use burn::tensor::Tensor;

use crate::engine::{Engine, EngineError};
use crate::model::{KvCache, ModelError};
use crate::sampler::{Sampler, SamplerConfig};
use crate::tokenizer::StreamingDecoder;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampler: SamplerConfig,
    /// Stop at an end-of-generation token (`<|im_end|>`...). Off only to compare with
    /// references that run on regardless.
    pub stop_at_eog: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { max_tokens: 256, sampler: SamplerConfig::default(), stop_at_eog: true }
    }
}

/// One generated token and the text it completed (empty while a character is unfinished).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub token: u32,
    pub text: String,
}

/// Time spent and tokens processed in each phase.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub prefill_tokens: usize,
    pub prefill: Duration,
    pub decode_tokens: usize,
    pub decode: Duration,
}

impl Timings {
    pub fn prefill_tps(&self) -> f64 {
        rate(self.prefill_tokens, self.prefill)
    }

    /// Tokens per second after the first (the first token's time is prefill).
    pub fn decode_tps(&self) -> f64 {
        rate(self.decode_tokens, self.decode)
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    if n == 0 || d.is_zero() { 0.0 } else { n as f64 / d.as_secs_f64() }
}

/// Milliseconds on a monotonic clock; `std::time::Instant` panics in the browser.
fn now_ms() -> f64 {
    #[cfg(target_family = "wasm")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
    }
}

/// One reply being generated.
pub struct Generation {
    engine: Arc<Engine>,
    cache: Option<KvCache>,
    sampler: Sampler,
    options: GenerateOptions,
    /// Prompt, then every generated token.
    history: Vec<u32>,
    prompt_len: usize,
    decoder: StreamingDecoder,
    finished: bool,
    timings: Timings,
}

impl Generation {
    pub fn new(engine: Arc<Engine>, prompt: Vec<u32>, options: GenerateOptions) -> Result<Self, EngineError> {
        let sampler = Sampler::new(options.sampler.clone())?;
        let capacity = engine.model.max_context();
        if prompt.is_empty() {
            return Err(ModelError::EmptyInput.into());
        }
        if prompt.len() >= capacity {
            return Err(EngineError::PromptTooLong { prompt: prompt.len(), capacity });
        }
        let cache = Some(engine.take_cache());
        Ok(Generation {
            engine,
            cache,
            sampler,
            options,
            prompt_len: prompt.len(),
            history: prompt,
            decoder: StreamingDecoder::new(),
            finished: false,
            timings: Timings::default(),
        })
    }

    /// Generates the next token; `None` once the reply is complete. The step that ends the
    /// reply also carries any unfinished character left in the decoder (as U+FFFD).
    pub async fn next(&mut self) -> Result<Option<Step>, EngineError> {
        if self.finished {
            return Ok(None);
        }
        if self.options.max_tokens == 0 {
            self.release();
            return Ok(None);
        }
        let first = self.history.len() == self.prompt_len;
        let start = now_ms();
        let token = self.step().await?;
        let elapsed = Duration::from_secs_f64((now_ms() - start).max(0.0) / 1e3);
        if first {
            self.timings.prefill_tokens = self.prompt_len;
            self.timings.prefill += elapsed;
        } else {
            self.timings.decode_tokens += 1;
            self.timings.decode += elapsed;
        }
        self.history.push(token);

        let eog = self.options.stop_at_eog && self.engine.tokenizer.is_end_of_generation(token);
        let mut text = if eog { String::new() } else { self.decoder.push(&self.engine.tokenizer, token)? };
        let n_generated = self.history.len() - self.prompt_len;
        if eog || n_generated >= self.options.max_tokens || self.history.len() >= self.engine.model.max_context() {
            text.push_str(&self.decoder.finish());
            self.release();
        }
        Ok(Some(Step { token, text }))
    }

    /// Runs the tokens the cache has not seen yet and samples one.
    async fn step(&mut self) -> Result<u32, EngineError> {
        let cache = self.cache.as_mut().expect("cache is present until finished");
        let pending = &self.history[cache.len()..];
        let logits = self.engine.model.forward(pending, cache)?; // [1, vocab]
        if self.sampler.config().is_greedy() {
            let id = logits.argmax(1).into_scalar_async::<i32>().await.map_err(readback)?;
            return Ok(id as u32);
        }
        let logits = read_logits(logits).await?;
        Ok(self.sampler.sample(&logits, &self.history)?)
    }

    /// Stops the reply early (an abort): the next `next()` returns `None`; timings and tokens
    /// so far stay readable.
    pub fn stop(&mut self) {
        self.decoder.finish();
        self.release();
    }

    /// Ends the reply and gives the KV cache back to the engine.
    fn release(&mut self) {
        self.finished = true;
        if let Some(cache) = self.cache.take() {
            self.engine.return_cache(cache);
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn prompt_tokens(&self) -> &[u32] {
        &self.history[..self.prompt_len]
    }

    pub fn generated_tokens(&self) -> &[u32] {
        &self.history[self.prompt_len..]
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.release();
    }
}

/// Reads a `[1, vocab]` logits tensor back to the host.
pub async fn read_logits(logits: Tensor<2>) -> Result<Vec<f32>, EngineError> {
    let data = logits.into_data_async().await.map_err(readback)?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| readback(format!("{e:?}")))
}

fn readback(e: impl std::fmt::Debug) -> EngineError {
    EngineError::Model(ModelError::Readback(format!("{e:?}")))
}
