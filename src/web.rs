//! The wasm-bindgen surface: a thin layer over [`Engine`] and [`Generation`] for the worker in
//! `www/worker.js`. Every failure reaches JS as an `Error` with a readable message.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::Promise;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::device::{self, DeviceKind};
use crate::{Engine, GenerateOptions, Generation, LoadOptions, Message, SamplerConfig};

unsafe extern "C" {
    /// Static constructors that wasm-ld collects. Calling them once here stops the linker from
    /// wrapping every export in a call to them (which made each tensor op ~100x slower).
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // SAFETY: called once, at instantiation, before any other export runs.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
    // CubeCL reports WGSL compile errors through `log`; without a logger they vanish.
    let _ = console_log::init_with_level(log::Level::Warn);
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// Largest model file we accept (wasm32 memory is 4 GiB, and the weights need room too).
const MAX_MODEL_BYTES: f64 = 2.0 * 1024.0 * 1024.0 * 1024.0;

/// Collects the model file as it downloads, hashing it on the way, so the page never holds a
/// second full copy.
#[wasm_bindgen]
pub struct ModelLoader {
    bytes: Vec<u8>,
    hasher: Sha256,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LoaderOptions {
    /// "webgpu", "cpu" or "auto".
    backend: Option<String>,
    /// Expected sha256 (hex) of the whole file; a mismatch refuses the load.
    sha256: Option<String>,
    max_context: Option<usize>,
}

#[wasm_bindgen]
impl ModelLoader {
    /// `expected_len` (the Content-Length, when known) reserves memory once.
    #[wasm_bindgen(constructor)]
    pub fn new(expected_len: Option<f64>) -> Result<ModelLoader, JsValue> {
        let len = expected_len.unwrap_or(0.0);
        if !(0.0..=MAX_MODEL_BYTES).contains(&len) {
            return Err(js_err(format!("model file of {len} bytes is larger than the 2 GiB we can hold")));
        }
        Ok(ModelLoader { bytes: Vec::with_capacity(len as usize), hasher: Sha256::new() })
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsValue> {
        if (self.bytes.len() + chunk.len()) as f64 > MAX_MODEL_BYTES {
            return Err(js_err("model file is larger than the 2 GiB we can hold"));
        }
        self.hasher.update(chunk);
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    #[wasm_bindgen(getter)]
    pub fn length(&self) -> f64 {
        self.bytes.len() as f64
    }

    /// Verifies, opens the device, parses and uploads; resolves to an [`Assistant`]. The
    /// loader is consumed and its bytes freed once the weights are on the device.
    pub fn finish(self, options: JsValue) -> Promise {
        future_to_promise(async move {
            let opts: LoaderOptions = if options.is_undefined() || options.is_null() {
                LoaderOptions::default()
            } else {
                serde_wasm_bindgen::from_value(options).map_err(js_err)?
            };
            let digest = hex(&self.hasher.finalize());
            if let Some(want) = &opts.sha256
                && !want.eq_ignore_ascii_case(&digest)
            {
                return Err(js_err(format!("model file sha256 is {digest}, expected {want}: refusing to load it")));
            }
            let backend = opts.backend.as_deref().unwrap_or("auto");
            let device = match backend {
                "auto" => match device::open(DeviceKind::Gpu).await {
                    Ok(d) => d,
                    Err(_) => device::open(DeviceKind::Cpu).await.map_err(js_err)?,
                },
                "webgpu" => device::open(DeviceKind::Gpu)
                    .await
                    .map_err(|e| js_err(format!("WebGPU is not available in this browser ({e})")))?,
                "cpu" => device::open(DeviceKind::Cpu).await.map_err(js_err)?,
                other => return Err(js_err(format!("unknown backend {other:?} (expected auto, webgpu or cpu)"))),
            };
            let load = LoadOptions { max_context: opts.max_context.unwrap_or(LoadOptions::default().max_context) };
            let engine = Engine::load(&self.bytes, &device, &load).map_err(js_err)?;
            drop(self.bytes);
            let state = State { engine: Arc::new(engine), generation: None, epoch: 0, sha256: digest };
            Ok(Assistant { state: Rc::new(RefCell::new(state)) }.into())
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct State {
    engine: Arc<Engine>,
    generation: Option<Generation>,
    /// Bumped by `start` and `abort`: a `next` that was awaiting when it changed drops its
    /// generation instead of putting it back.
    epoch: u64,
    sha256: String,
}

/// A loaded model, ready to chat.
#[wasm_bindgen]
pub struct Assistant {
    state: Rc<RefCell<State>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ChatOptions {
    max_tokens: Option<usize>,
    temperature: Option<f32>,
    top_k: Option<usize>,
    top_p: Option<f32>,
    repetition_penalty: Option<f32>,
    seed: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Piece {
    text: String,
    token: u32,
    done: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    prompt_tokens: usize,
    generated_tokens: usize,
    prefill_tps: f64,
    decode_tps: f64,
}

/// Upper bound on one reply, whatever the page asks for.
const MAX_REPLY_TOKENS: usize = 4096;

#[wasm_bindgen]
impl Assistant {
    /// "webgpu" or "cpu".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        let s = self.state.borrow();
        if s.engine.device().identity().is_some() { "webgpu".into() } else { "cpu".into() }
    }

    /// The GPU adapter's name, or "cpu".
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        device::describe(self.state.borrow().engine.device())
    }

    #[wasm_bindgen(getter)]
    pub fn sha256(&self) -> String {
        self.state.borrow().sha256.clone()
    }

    #[wasm_bindgen(getter, js_name = weightBytes)]
    pub fn weight_bytes(&self) -> f64 {
        self.state.borrow().engine.model.weight_bytes() as f64
    }

    /// Token ids of `text`; `special` parses control-token text.
    pub fn tokenize(&self, text: &str, special: bool) -> Result<Vec<u32>, JsValue> {
        self.state.borrow().engine.tokenizer.encode(text, special).map_err(js_err)
    }

    /// Starts a reply to `messages` (`[{role, content}]`); returns the prompt's token count.
    /// A reply still running is dropped.
    pub fn start(&self, messages: JsValue, options: JsValue) -> Result<usize, JsValue> {
        let messages: Vec<Message> = serde_wasm_bindgen::from_value(messages)
            .map_err(|e| js_err(format!("messages must be an array of {{role, content}}: {e}")))?;
        let opts: ChatOptions = if options.is_undefined() || options.is_null() {
            ChatOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("bad chat options: {e}")))?
        };
        let mut s = self.state.borrow_mut();
        s.generation = None;
        s.epoch += 1;
        let prompt = s.engine.chat_tokens(&messages).map_err(js_err)?;
        let n = prompt.len();
        let sampler = SamplerConfig {
            temperature: opts.temperature.unwrap_or(0.0),
            top_k: opts.top_k.unwrap_or(0),
            top_p: opts.top_p.unwrap_or(1.0),
            repetition_penalty: opts.repetition_penalty.unwrap_or(1.0),
            seed: opts.seed.unwrap_or(0),
            ..SamplerConfig::default()
        };
        let max_tokens = opts.max_tokens.unwrap_or(256).min(MAX_REPLY_TOKENS);
        let options = GenerateOptions { max_tokens, sampler, stop_at_eog: true };
        s.generation = Some(Generation::new(s.engine.clone(), prompt, options).map_err(js_err)?);
        Ok(n)
    }

    /// Resolves to the next `{text, token, done}`, or `null` when the reply is complete.
    pub fn next(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            // Take the generation out while awaiting, so no RefCell borrow spans the await.
            let (taken, epoch) = {
                let mut s = state.borrow_mut();
                (s.generation.take(), s.epoch)
            };
            let Some(mut generation) = taken else {
                return Ok(JsValue::NULL);
            };
            let step = generation.next().await;
            let done = generation.is_finished();
            let mut s = state.borrow_mut();
            if s.epoch != epoch {
                // Aborted (or replaced) while this token was computed: drop the token, keep the
                // stopped reply for its stats unless a new one has started.
                generation.stop();
                if s.generation.is_none() {
                    s.generation = Some(generation);
                }
                return Ok(JsValue::NULL);
            }
            s.generation = Some(generation);
            drop(s);
            match step.map_err(js_err)? {
                None => Ok(JsValue::NULL),
                Some(step) => {
                    let piece = Piece { text: step.text, token: step.token, done };
                    serde_wasm_bindgen::to_value(&piece).map_err(js_err)
                }
            }
        })
    }

    /// Token counts and speeds of the current (or last) reply.
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let s = self.state.borrow();
        let Some(g) = &s.generation else { return Ok(JsValue::NULL) };
        let t = g.timings();
        let stats = Stats {
            prompt_tokens: g.prompt_tokens().len(),
            generated_tokens: g.generated_tokens().len(),
            prefill_tps: t.prefill_tps(),
            decode_tps: t.decode_tps(),
        };
        serde_wasm_bindgen::to_value(&stats).map_err(js_err)
    }

    /// Stops the current reply; the next `next()` resolves to `null`.
    pub fn abort(&self) {
        let mut s = self.state.borrow_mut();
        if let Some(g) = s.generation.as_mut() {
            g.stop();
        }
        s.epoch += 1;
    }
}
