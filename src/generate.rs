//! Text generation: prefill the prompt, then one token per step, pulled by the caller.
//!
//! The caller drives the loop (`next().await` until `None`), which is what a browser needs:
//! between two tokens the worker can post text, notice an abort, or yield to the event loop.
//! Device reads are async because WebGPU readback is; natively the CLI blocks on them.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, EngineError};
use crate::kernels;
use crate::model::{ForwardPath, KvCache, Logits, ModelError};
use crate::sampler::{self, Draw, Sampler, SamplerConfig};
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

/// Milliseconds on a monotonic clock; `std::time::Instant` panics in the browser, where this
/// is `performance.now()` (window or worker), or `Date.now()` without it.
pub(crate) fn now_ms() -> f64 {
    #[cfg(target_family = "wasm")]
    {
        use wasm_bindgen::JsCast;
        let global = js_sys::global();
        let performance = match global.dyn_ref::<web_sys::Window>() {
            Some(window) => window.performance(),
            None => global.dyn_ref::<web_sys::WorkerGlobalScope>().and_then(|worker| worker.performance()),
        };
        performance.map_or_else(js_sys::Date::now, |p| p.now())
    }
    #[cfg(not(target_family = "wasm"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
    }
}

/// The model's side of a reply: the tokens so far, the KV cache holding them, and the timing.
/// Callers append tokens (the prompt, tokens they force, tokens they chose) and ask for the
/// next token's logits; tokens not yet run are run together, so forced text costs one batched
/// step. The cache goes back to the engine when the decoder is dropped or released.
pub struct Decoder {
    engine: Arc<Engine>,
    cache: Option<KvCache>,
    /// Prompt, then every appended token.
    history: Vec<u32>,
    prompt_len: usize,
    /// Prompt positions whose keys and values came from the last generation's cache.
    reused: usize,
    /// Tokens run through the model so far (the prompt included, its reused start not).
    ran: usize,
    timings: Timings,
}

impl Decoder {
    /// A decoder for `prompt`, reusing the start it shares with the last generation's (see
    /// [`Engine::take_cache_for`]).
    pub fn new(engine: Arc<Engine>, prompt: Vec<u32>) -> Result<Self, EngineError> {
        Self::start(engine, prompt, true)
    }

    /// A decoder that runs all of `prompt` (speed measurements).
    pub fn cold(engine: Arc<Engine>, prompt: Vec<u32>) -> Result<Self, EngineError> {
        Self::start(engine, prompt, false)
    }

    fn start(engine: Arc<Engine>, prompt: Vec<u32>, reuse: bool) -> Result<Self, EngineError> {
        let capacity = engine.model.max_context();
        if prompt.is_empty() {
            return Err(ModelError::EmptyInput.into());
        }
        if prompt.len() >= capacity {
            return Err(EngineError::PromptTooLong { prompt: prompt.len(), capacity });
        }
        let (cache, reused) = if reuse { engine.take_cache_for(&prompt) } else { (engine.take_cache(), 0) };
        Ok(Decoder {
            engine,
            cache: Some(cache),
            prompt_len: prompt.len(),
            reused,
            ran: 0,
            history: prompt,
            timings: Timings::default(),
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Appends tokens; they run with the next [`Decoder::logits`] or [`Decoder::argmax`].
    pub fn push(&mut self, tokens: &[u32]) {
        self.history.extend_from_slice(tokens);
    }

    /// Drops appended tokens that have not run yet, keeping the first `keep` positions (the
    /// ones already run always stay): text put in the context only for the tokens after it
    /// need not cost a forward pass when nothing follows it that needs it.
    pub fn drop_unrun(&mut self, keep: usize) {
        let run = self.cache.as_ref().map_or(self.history.len(), KvCache::len);
        self.history.truncate(keep.max(run));
    }

    /// Positions left in the session.
    pub fn room(&self) -> usize {
        self.engine.model.max_context().saturating_sub(self.history.len())
    }

    pub fn history(&self) -> &[u32] {
        &self.history
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

    /// Tokens run through the model so far, the prompt included (appended tokens not yet run
    /// are not counted, nor the prompt's start reused from the last generation).
    pub fn tokens_run(&self) -> usize {
        self.ran
    }

    /// Prompt positions reused from the last generation's cache instead of run.
    pub fn reused(&self) -> usize {
        self.reused
    }

    /// Prompt tokens that run (or ran) through the model: those not reused.
    pub fn prefilled(&self) -> usize {
        self.prompt_len - self.reused
    }

    pub fn is_released(&self) -> bool {
        self.cache.is_none()
    }

    /// Runs the tokens the cache has not seen; the last one's logits, where the path computed them.
    fn run(&mut self) -> Result<(Logits, usize), EngineError> {
        let cache = self.cache.as_mut().ok_or(EngineError::Finished)?;
        let pending = &self.history[cache.len()..];
        let n = pending.len();
        self.ran += n;
        Ok((self.engine.model.forward(pending, cache)?, n))
    }

    /// Books `n` tokens run in `ms` as prefill (the first run) or decode.
    fn account(&mut self, n: usize, start_ms: f64) {
        let elapsed = Duration::from_secs_f64((now_ms() - start_ms).max(0.0) / 1e3);
        if self.timings.prefill_tokens == 0 {
            self.timings.prefill_tokens = n;
            self.timings.prefill += elapsed;
        } else {
            self.timings.decode_tokens += 1;
            self.timings.decode += elapsed;
        }
    }

    /// The next token's logits, read back to the host.
    pub async fn logits(&mut self) -> Result<Vec<f32>, EngineError> {
        let start = now_ms();
        let (logits, n) = self.run()?;
        let v = logits.into_host().await?;
        self.account(n, start);
        Ok(v)
    }

    /// The most likely next token ([`sampler::argmax`]'s rule), chosen where the logits are:
    /// on the GPU kernels' device only its id is read back.
    pub async fn argmax(&mut self) -> Result<u32, EngineError> {
        let start = now_ms();
        let (logits, n) = self.run()?;
        let vocab = logits.len();
        let id = match logits {
            Logits::Device(t) if self.samples_on_device() => {
                read_id(kernels::argmax::argmax(&kernels::to_cube(t), vocab)).await?
            }
            logits => sampler::argmax(&logits.into_host().await?).unwrap_or(u32::MAX),
        };
        self.account(n, start);
        checked(id, vocab)
    }

    /// Whether [`Decoder::sample_on_device`] can run (the GPU kernel path).
    pub fn samples_on_device(&self) -> bool {
        self.engine.model.path() == ForwardPath::Kernels
    }

    /// The next token as `draw` picks it, chosen on the device (only its id is read back).
    pub async fn sample_on_device(&mut self, draw: &Draw) -> Result<u32, EngineError> {
        let start = now_ms();
        let (logits, n) = self.run()?;
        let Logits::Device(t) = logits else {
            return Err(readback("sampling on the device needs the logits on the device"));
        };
        let vocab = t.dims()[1];
        let id = read_id(kernels::sample::sample(&kernels::to_cube(t), vocab, draw)).await?;
        self.account(n, start);
        checked(id, vocab)
    }

    /// Gives the KV cache back to the engine; the decoder can run no more.
    pub fn release(&mut self) {
        if let Some(cache) = self.cache.take() {
            self.engine.return_cache(cache, &self.history);
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.release();
    }
}

/// One reply being generated freely (sampled or greedy), streamed as text.
pub struct Generation {
    dec: Decoder,
    sampler: Sampler,
    options: GenerateOptions,
    text: StreamingDecoder,
    finished: bool,
}

impl Generation {
    pub fn new(engine: Arc<Engine>, prompt: Vec<u32>, options: GenerateOptions) -> Result<Self, EngineError> {
        let sampler = Sampler::new(options.sampler.clone())?;
        let dec = Decoder::new(engine, prompt)?;
        Ok(Generation { dec, sampler, options, text: StreamingDecoder::new(), finished: false })
    }

    /// Generates the next token; `None` once the reply is complete.
    pub async fn next(&mut self) -> Result<Option<Step>, EngineError> {
        if self.finished {
            return Ok(None);
        }
        if self.options.max_tokens == 0 {
            self.stop();
            return Ok(None);
        }
        let on_device = self.dec.samples_on_device();
        let token = if self.sampler.config().is_greedy() {
            self.dec.argmax().await?
        } else if on_device && let Some(draw) = self.sampler.plan(self.dec.history(), kernels::sample::MAX_K) {
            self.dec.sample_on_device(&draw).await?
        } else {
            let logits = self.dec.logits().await?;
            self.sampler.sample(&logits, self.dec.history())?
        };
        self.dec.push(&[token]);
        let tokenizer = &self.dec.engine().tokenizer;
        let eog = self.options.stop_at_eog && tokenizer.is_end_of_generation(token);
        let text = if eog { String::new() } else { self.text.push(tokenizer, token)? };
        if eog || self.dec.generated_tokens().len() >= self.options.max_tokens || self.dec.room() == 0 {
            self.stop();
        }
        Ok(Some(Step { token, text }))
    }

    /// Ends the reply (also an abort): the next `next()` returns `None`; timings and tokens so
    /// far stay readable. A character cut off mid-way is dropped.
    pub fn stop(&mut self) {
        self.text.finish();
        self.finished = true;
        self.dec.release();
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Prompt positions reused from the last generation's cache.
    pub fn reused(&self) -> usize {
        self.dec.reused()
    }

    pub fn prompt_tokens(&self) -> &[u32] {
        self.dec.prompt_tokens()
    }

    pub fn generated_tokens(&self) -> &[u32] {
        self.dec.generated_tokens()
    }

    pub fn timings(&self) -> &Timings {
        self.dec.timings()
    }
}

/// One benchmark run: the prompt `ids` prefilled in one step, then `n` greedy tokens one step
/// each (end-of-generation tokens do not stop it). Returns (prefill tok/s, decode tok/s).
pub async fn benchmark(engine: Arc<Engine>, ids: Vec<u32>, n: usize) -> Result<(f64, f64), EngineError> {
    let mut dec = Decoder::cold(engine, ids)?;
    for _ in 0..=n {
        if dec.room() == 0 {
            break;
        }
        let t = dec.argmax().await?;
        dec.push(&[t]);
    }
    let t = dec.timings();
    Ok((t.prefill_tps(), t.decode_tps()))
}

/// Reads back a one-element u32 buffer: a token id the device chose.
async fn read_id(id: burn_cubecl::tensor::CubeTensor) -> Result<u32, EngineError> {
    let data = kernels::int_from_cube::<1>(id).into_data_async().await.map_err(readback)?;
    let id = data.convert::<u32>().try_into_vec::<u32>().map_err(|e| readback(format!("{e:?}")))?;
    id.first().copied().ok_or_else(|| readback("no token id"))
}

/// `id`, if it is a token: no token wins when every logit is NaN (a broken model or device).
fn checked(id: u32, vocab: usize) -> Result<u32, EngineError> {
    if (id as usize) < vocab { Ok(id) } else { Err(EngineError::Model(ModelError::NotANumber)) }
}

fn readback(e: impl std::fmt::Debug) -> EngineError {
    EngineError::Model(ModelError::Readback(format!("{e:?}")))
}
