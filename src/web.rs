//! The wasm-bindgen surface: a thin layer over [`Engine`] and [`Generation`] for the worker in
//! `www/worker.js`. Every failure reaches JS as an `Error` with a readable message and a stable
//! `name` and `code` ([`WebError`]): "integrity", "model-format", "device", "failed".

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::Promise;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::device::{self, DeviceKind};
use crate::shop::answer::{self, Answer, Extractive};
use crate::shop::assist::Shop;
use crate::shop::dialogue::{Dialogue, Said, Step};
use crate::shop::meaning::Meaning;
use crate::shop::reviews;
use crate::shop::route;
use crate::shop::suggest::{self, SuggestOptions, Suggestion};
use crate::shop::{Catalog, Event as ShopEvent, Lang, Policies, Profile};
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

/// What the wasm surface throws: a JS `Error` whose `name` and `code` stay stable across
/// versions, so the worker, the client and pages branch on `code`, never on the wording.
#[derive(Debug, thiserror::Error)]
enum WebError {
    /// The model file is not the one its sha256 names (a damaged download or cache entry).
    #[error("{0}")]
    Integrity(String),
    /// The file is no model we can run: not GGUF, an unsupported architecture or format, too large.
    #[error("{0}")]
    ModelFormat(String),
    /// No device to run on (WebGPU unavailable or failing to open).
    #[error("{0}")]
    Device(String),
    /// Anything else (bad options, a catalog or policies that do not parse, a failed task).
    #[error("{0}")]
    Failed(String),
}

impl WebError {
    /// `Error.name` and `Error.code` on the JS side.
    fn name_and_code(&self) -> (&'static str, &'static str) {
        match self {
            WebError::Integrity(_) => ("IntegrityError", "integrity"),
            WebError::ModelFormat(_) => ("ModelFormatError", "model-format"),
            WebError::Device(_) => ("DeviceError", "device"),
            WebError::Failed(_) => ("AisleError", "failed"),
        }
    }
}

impl From<WebError> for JsValue {
    fn from(e: WebError) -> JsValue {
        let (name, code) = e.name_and_code();
        let err = js_sys::Error::new(&e.to_string());
        err.set_name(name);
        // Setting a property on a fresh Error cannot fail.
        let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
        err.into()
    }
}

/// Any failure without a more specific kind: an `AisleError` with code "failed".
fn js_err(e: impl std::fmt::Display) -> JsValue {
    WebError::Failed(e.to_string()).into()
}

/// Largest model file we accept (wasm32 memory is 4 GiB, and the weights need room too).
const MAX_MODEL_BYTES: f64 = 2.0 * 1024.0 * 1024.0 * 1024.0;

/// Collects the model file as it downloads, so the page never holds a second full copy.
///
/// The sha256 is computed here, chunk by chunk, unless the worker hashes the finished buffer
/// with the browser's SubtleCrypto (several times faster than sha2 compiled to wasm: about
/// 0.4 s of a cached load) and passes the digest to [`ModelLoader::finish`].
#[wasm_bindgen]
pub struct ModelLoader {
    bytes: Vec<u8>,
    hasher: Option<Sha256>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LoaderOptions {
    /// "webgpu", "cpu" or "auto".
    backend: Option<String>,
    /// Expected sha256 (hex) of the whole file; a mismatch refuses the load.
    sha256: Option<String>,
    /// The file's sha256 (hex) as the worker computed it over [`ModelLoader::view`]; required
    /// when the loader was made with `hash: false`.
    digest: Option<String>,
    max_context: Option<usize>,
}

#[wasm_bindgen]
impl ModelLoader {
    /// `expected_len` (the Content-Length, when known) reserves memory once. `hash: false`
    /// leaves the sha256 to the caller (see [`ModelLoader::view`]).
    #[wasm_bindgen(constructor)]
    pub fn new(expected_len: Option<f64>, hash: Option<bool>) -> Result<ModelLoader, JsValue> {
        let len = expected_len.unwrap_or(0.0);
        if !(0.0..=MAX_MODEL_BYTES).contains(&len) {
            return Err(WebError::ModelFormat(format!(
                "model file of {len} bytes is larger than the 2 GiB we can hold"
            ))
            .into());
        }
        let hasher = hash.unwrap_or(true).then(Sha256::new);
        Ok(ModelLoader { bytes: Vec::with_capacity(len as usize), hasher })
    }

    /// The bytes received so far, as a view into wasm memory: valid only until the next call
    /// into wasm (memory may grow), so hash or copy it at once.
    pub fn view(&self) -> js_sys::Uint8Array {
        // SAFETY: the view is handed straight to a synchronous copy (SubtleCrypto copies its
        // input before returning); no allocation happens while it is alive.
        unsafe { js_sys::Uint8Array::view(&self.bytes) }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsValue> {
        if (self.bytes.len() + chunk.len()) as f64 > MAX_MODEL_BYTES {
            return Err(WebError::ModelFormat("model file is larger than the 2 GiB we can hold".into()).into());
        }
        if let Some(h) = &mut self.hasher {
            h.update(chunk);
        }
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
            let digest = match (self.hasher, opts.digest) {
                (Some(h), _) => hex(&h.finalize()),
                (None, Some(d)) if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) => d.to_ascii_lowercase(),
                (None, _) => {
                    return Err(js_err("the loader was made without hashing, and no valid sha256 digest was given"));
                }
            };
            check_sha256("model file", &digest, opts.sha256.as_deref())?;
            let backend = opts.backend.as_deref().unwrap_or("auto");
            let device = match backend {
                "auto" => match device::open(DeviceKind::Gpu).await {
                    Ok(d) => d,
                    Err(_) => device::open(DeviceKind::Cpu).await.map_err(|e| WebError::Device(e.to_string()))?,
                },
                "webgpu" => device::open(DeviceKind::Gpu)
                    .await
                    .map_err(|e| WebError::Device(format!("WebGPU is not available in this browser ({e})")))?,
                "cpu" => device::open(DeviceKind::Cpu).await.map_err(|e| WebError::Device(e.to_string()))?,
                other => return Err(js_err(format!("unknown backend {other:?} (expected auto, webgpu or cpu)"))),
            };
            let load = LoadOptions {
                max_context: opts.max_context.unwrap_or(LoadOptions::default().max_context),
                ..LoadOptions::default()
            };
            let engine = Engine::load(&self.bytes, &device, &load).map_err(|e| WebError::ModelFormat(e.to_string()))?;
            drop(self.bytes);
            let state = State { engine: Arc::new(engine), task: None, epoch: 0, sha256: digest, shop: None };
            Ok(Assistant { state: Rc::new(RefCell::new(state)) }.into())
        })
    }
}

/// The speed probe behind `backend: "auto"` on a software GPU adapter: milliseconds of one
/// decode-sized quantized product on each side, `{cpuMs, webgpuMs}` (`webgpuMs` null when
/// WebGPU cannot run it).
#[wasm_bindgen(js_name = probeBackends)]
pub async fn probe_backends() -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        cpu_ms: f64,
        webgpu_ms: Option<f64>,
    }
    let webgpu_ms = device::probe_ms(DeviceKind::Gpu).await.ok();
    let cpu_ms = device::probe_ms(DeviceKind::Cpu).await.map_err(js_err)?;
    serde_wasm_bindgen::to_value(&Probe { cpu_ms, webgpu_ms }).map_err(js_err)
}

/// An [`WebError::Integrity`] unless `digest` is the sha256 `want` names (or none is named).
fn check_sha256(what: &str, digest: &str, want: Option<&str>) -> Result<(), WebError> {
    match want {
        Some(want) if !want.eq_ignore_ascii_case(digest) => {
            Err(WebError::Integrity(format!("{what} sha256 is {digest}, expected {want}: refusing to load it")))
        }
        _ => Ok(()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the assistant is producing right now (one at a time, so variant sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Task {
    Chat(Generation),
    Suggest(Suggestion),
    Answer(Answer),
    Summary(Extractive),
}

impl Task {
    /// The next item as a JS object, or `None` when complete.
    async fn next(&mut self) -> Result<Option<JsValue>, JsValue> {
        let to_js = |v: &dyn erased::Ser| v.to_js();
        match self {
            Task::Chat(g) => {
                let step = g.next().await.map_err(js_err)?;
                let done = g.is_finished();
                step.map(|s| to_js(&Piece { text: s.text, token: s.token, done })).transpose()
            }
            Task::Suggest(sg) => sg.next().await.map_err(js_err)?.map(|e| to_js(&e)).transpose(),
            Task::Answer(a) => a.next().await.map_err(js_err)?.map(|e| to_js(&e)).transpose(),
            Task::Summary(g) => g.next().await.map_err(js_err)?.map(|e| to_js(&e)).transpose(),
        }
    }

    fn stop(&mut self) {
        match self {
            Task::Chat(g) => g.stop(),
            Task::Suggest(s) => s.stop(),
            Task::Answer(a) => a.stop(),
            Task::Summary(g) => g.stop(),
        }
    }

    fn stats(&self) -> Option<Stats> {
        let (prompt, reused, generated, t) = match self {
            Task::Chat(g) => (g.prompt_tokens().len(), g.reused(), g.generated_tokens().len(), g.timings().clone()),
            Task::Suggest(s) => {
                // The model work: the prompt it ran, and every token run after it (titles and
                // sentences put in its context, and the ones it chose among).
                let (work, d) = (s.work(), s.decoder()?);
                (work.prefill_tokens, work.reused_tokens, work.scored_tokens, d.timings().clone())
            }
            Task::Answer(_) => return None,
            Task::Summary(g) => {
                let d = g.decoder()?;
                (d.prompt_tokens().len(), d.reused(), d.generated_tokens().len(), d.timings().clone())
            }
        };
        Some(Stats {
            prompt_tokens: prompt,
            reused_tokens: reused,
            generated_tokens: generated,
            prefill_tps: t.prefill_tps(),
            decode_tps: t.decode_tps(),
        })
    }
}

/// Serialising through one helper keeps the match arms above short.
mod erased {
    use wasm_bindgen::JsValue;

    pub trait Ser {
        fn to_js(&self) -> Result<JsValue, JsValue>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_js(&self) -> Result<JsValue, JsValue> {
            // Plain JS objects (not Maps) so the worker can post them as they are.
            let ser = serde_wasm_bindgen::Serializer::json_compatible();
            self.serialize(&ser).map_err(super::js_err)
        }
    }
}

struct State {
    engine: Arc<Engine>,
    task: Option<Task>,
    /// Bumped by every start and by `abort`: a `next` that was awaiting when it changed drops
    /// its task instead of putting it back.
    epoch: u64,
    sha256: String,
    shop: Option<Arc<Shop>>,
}

/// A shop's catalog and policies with their search index: usable as soon as the wasm and the
/// catalog have arrived, before the model (whose download is ~50 times larger). Routing,
/// "why these suggestions?" and the quick answers need nothing else; an [`Assistant`] shares
/// it once the model is ready.
#[wasm_bindgen(js_name = Shop)]
pub struct ShopHandle {
    shop: Arc<Shop>,
    /// The catalog being embedded by the sentence encoder, between [`ShopHandle::encode_step`]s.
    embedding: std::cell::RefCell<Option<crate::shop::meaning::Embedding>>,
}

#[wasm_bindgen(js_class = Shop)]
impl ShopHandle {
    /// Parses the catalog (and policies): JSON text as the shop serves it. Errors name the
    /// product or passage at fault.
    #[wasm_bindgen(constructor)]
    pub fn new(catalog_json: &str, policies_json: Option<String>) -> Result<ShopHandle, JsValue> {
        let catalog = Catalog::parse(catalog_json).map_err(js_err)?;
        let policies = policies_json.as_deref().map(Policies::parse).transpose().map_err(js_err)?;
        Ok(ShopHandle { shop: Arc::new(Shop::new(catalog, policies)), embedding: Default::default() })
    }

    /// Starts retrieval by meaning with the sentence encoder file (`bytes`, checked against
    /// `sha256` when given, with the `digest` the browser computed, or hashed here). The
    /// products and policy passages are then embedded by [`ShopHandle::encode_step`], a few at
    /// a time, so that the worker answers between steps; retrieval uses meaning once every one
    /// is embedded.
    #[wasm_bindgen(js_name = useEncoder)]
    pub fn use_encoder(&self, bytes: &[u8], sha256: Option<String>, digest: Option<String>) -> Result<(), JsValue> {
        if let Some(want) = sha256.filter(|w| !w.is_empty()) {
            let got = digest.unwrap_or_else(|| hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes)));
            check_sha256("sentence encoder", &got, Some(&want))?;
        }
        let encoder = crate::encoder::Encoder::from_bytes(bytes).map_err(|e| WebError::ModelFormat(e.to_string()))?;
        *self.embedding.borrow_mut() =
            Some(Meaning::start(Arc::new(encoder), &self.shop.catalog, self.shop.policies.as_ref()));
        Ok(())
    }

    /// Embeds up to `n` more products or policy passages (~0.3 s a product in wasm); returns how
    /// many are left (0: the shop now searches by meaning).
    #[wasm_bindgen(js_name = encodeStep)]
    pub fn encode_step(&self, n: usize) -> usize {
        let mut slot = self.embedding.borrow_mut();
        let Some(e) = slot.as_mut() else { return 0 };
        let left = e.step(n.max(1));
        if left == 0 {
            slot.take().and_then(|e| e.finish()).map(|m| self.shop.set_meaning(m));
        }
        left
    }

    /// Whether the shop searches by meaning too (the encoder is loaded).
    #[wasm_bindgen(getter, js_name = hasEncoder)]
    pub fn has_encoder(&self) -> bool {
        self.shop.meaning().is_some()
    }

    /// How many products the catalog has.
    #[wasm_bindgen(getter)]
    pub fn products(&self) -> usize {
        self.shop.catalog.len()
    }

    /// The words to look `request` up with in a sharded static index of a catalog too large to
    /// load (`[{words: [...], role: "core"|"context"}]`, see [`crate::shop::retrieve::lookup_words`]):
    /// the worker fetches the products they find and loads them as this shop's catalog.
    #[wasm_bindgen(js_name = lookupWords)]
    pub fn lookup_words(request: &str) -> Result<JsValue, JsValue> {
        erased::Ser::to_js(&crate::shop::retrieve::lookup_words(request))
    }

    /// "suggest" or "answer": which job `text` is for.
    pub fn route(&self, text: &str) -> String {
        match route::route(&self.shop, text) {
            route::Route::Suggest => "suggest".into(),
            route::Route::Answer => "answer".into(),
        }
    }

    /// What suggestions for `request` would be based on, without running the model ("why
    /// these suggestions?").
    pub fn explain(&self, request: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: AssistOptions = from_js(options, "options")?;
        let profile = profile_of(&self.shop, &opts.events);
        erased::Ser::to_js(&suggest::plan(&self.shop, request, Some(&profile), &opts.suggest()))
    }

    /// The quick answer to a shopping request, whole: the `{type: "text"}` and
    /// `{type: "product"}` events a model suggestion would yield, with the products retrieval
    /// ranks (the same ones the model's answer names) and each description's first sentence.
    #[wasm_bindgen(js_name = quickSuggest)]
    pub fn quick_suggest(&self, request: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: AssistOptions = from_js(options, "suggest options")?;
        self.quick(request, &opts.events, &opts.suggest())
    }

    /// The quick answer to `conversation`'s pending search (as [`ShopHandle::quick_suggest`]).
    #[wasm_bindgen(js_name = quickSuggestTurn)]
    pub fn quick_suggest_turn(&self, conversation: &Conversation, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: AssistOptions = from_js(options, "suggest options")?;
        let (request, so) = conversation.search(&opts)?;
        self.quick(request.as_str(), &opts.events, &so)
    }

    /// The quick answer to a service question: the best-matching policy sentence and its
    /// `{type: "passage"}`, or "I don't know, please contact the shop".
    #[wasm_bindgen(js_name = quickAnswer)]
    pub fn quick_answer(&self, question: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: AssistOptions = from_js(options, "answer options")?;
        let events = Answer::quick(&self.shop, question, lang_of(&opts.lang), route::ANSWER_MIN_RELEVANCE);
        erased::Ser::to_js(&events)
    }
}

impl ShopHandle {
    /// The quick answer's events for `request` with `so`, ranked with the profile of `events`.
    fn quick(&self, request: &str, events: &[ShopEvent], so: &SuggestOptions) -> Result<JsValue, JsValue> {
        let profile = profile_of(&self.shop, events);
        erased::Ser::to_js(&Suggestion::quick(self.shop.clone(), request, Some(&profile), so))
    }
}

/// A conversation over a [`ShopHandle`]'s shop, kept in the worker for the session: what was
/// shown, the constraints in force, what "it" refers to ([`Dialogue`]). Each shopper message
/// goes through [`Conversation::respond`], which either answers from the catalog's data itself
/// or says which search or policy question to run; the search's products are then reported
/// with [`Conversation::shown`].
#[wasm_bindgen]
pub struct Conversation {
    dialogue: RefCell<Dialogue>,
    /// The search the last `respond` asked for: its turn number, the request and the options it
    /// runs with (constraints in force, products already shown).
    pending: RefCell<Option<(u32, String, SuggestOptions)>>,
    /// Messages read so far.
    turns: std::cell::Cell<u32>,
}

/// What to do with a shopper's message, for the worker.
#[derive(Serialize)]
#[serde(tag = "step", rename_all = "lowercase")]
enum StepJs {
    /// Run the conversation's search (`quickSuggestTurn` / `startSuggestTurn` with `{turn}`),
    /// then `shown`.
    Suggest { request: String, turn: u32 },
    /// Answer `question` from the policies, then `answered`.
    Answer { question: String, lang: &'static str },
    /// The reply, made from the catalog's data.
    Said(Said),
}

#[wasm_bindgen]
impl Conversation {
    /// A new conversation over `shop`; `lang` ("en", "de", "zh") forces the reply language.
    #[wasm_bindgen(constructor)]
    pub fn new(shop: &ShopHandle, lang: Option<String>) -> Conversation {
        let dialogue = Dialogue::new(shop.shop.clone(), lang_of(&lang));
        Conversation { dialogue: RefCell::new(dialogue), pending: RefCell::new(None), turns: Default::default() }
    }

    /// The next shopper message: `{step: "suggest", request, turn}`, `{step: "answer",
    /// question, lang}`, or `{step: "said", kind, products, text, rows, chips}`.
    pub fn respond(&self, message: &str) -> Result<JsValue, JsValue> {
        let turn = self.turns.get() + 1;
        self.turns.set(turn);
        let step = self.dialogue.borrow_mut().respond(message);
        let js = match step {
            Step::Suggest { request, opts } => {
                *self.pending.borrow_mut() = Some((turn, request.clone(), opts));
                StepJs::Suggest { request, turn }
            }
            Step::Answer { question, lang } => StepJs::Answer { question, lang: lang.code() },
            Step::Said(said) => StepJs::Said(said),
        };
        erased::Ser::to_js(&js)
    }

    /// Goes on over `shop`: a catalog fetched product by product from a sharded index grows
    /// with each request, and the conversation follows it (what was shown is kept by id).
    #[wasm_bindgen(js_name = useShop)]
    pub fn use_shop(&self, shop: &ShopHandle) {
        self.dialogue.borrow_mut().use_shop(shop.shop.clone());
    }

    /// The products the conversation's search named, in order.
    pub fn shown(&self, products: Vec<String>) {
        self.dialogue.borrow_mut().shown(&products);
    }

    /// The policy question was answered (a short follow-up may go on about the policies).
    pub fn answered(&self) {
        self.dialogue.borrow_mut().answered();
    }
}

impl Conversation {
    /// The pending search with the page's options (profile events, most items) added. A
    /// search of an older turn (an answer refined after the shopper wrote again) is refused:
    /// the conversation has moved on.
    fn search(&self, opts: &AssistOptions) -> Result<(String, SuggestOptions), JsValue> {
        let pending = self.pending.borrow();
        let (turn, request, so) = pending.as_ref().ok_or_else(|| js_err("no search to run in this conversation"))?;
        if opts.turn.is_some_and(|t| t != *turn) {
            return Err(js_err("that search is no longer the conversation's latest"));
        }
        let (request, mut so) = (request.clone(), so.clone());
        opts.limit(&mut so);
        Ok((request, so))
    }
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

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AssistOptions {
    /// On-page events (`[{type: "view"|"cart", id} | {type: "search", text}]`).
    events: Vec<ShopEvent>,
    /// "en", "de" or "zh"; detected from the text when absent or "auto".
    lang: Option<String>,
    max_items: Option<usize>,
    /// The conversation turn a search belongs to (`Conversation.respond`'s `turn`).
    turn: Option<u32>,
}

impl AssistOptions {
    fn suggest(&self) -> SuggestOptions {
        let mut so = SuggestOptions { lang: lang_of(&self.lang), ..SuggestOptions::default() };
        self.limit(&mut so);
        so
    }

    /// The page's `maxItems`, within 1..=10, in place of `so`'s.
    fn limit(&self, so: &mut SuggestOptions) {
        if let Some(n) = self.max_items {
            so.max_items = n.clamp(1, 10);
        }
    }
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
    /// Prompt tokens whose keys and values the last task's cache already held.
    reused_tokens: usize,
    generated_tokens: usize,
    prefill_tps: f64,
    decode_tps: f64,
}

/// Upper bound on one reply, whatever the page asks for.
const MAX_REPLY_TOKENS: usize = 4096;

fn from_js<T: serde::de::DeserializeOwned + Default>(v: JsValue, what: &str) -> Result<T, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(v).map_err(|e| js_err(format!("bad {what}: {e}")))
}

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

    /// The shop that suggestions and answers draw on (shared, not copied).
    #[wasm_bindgen(js_name = useShop)]
    pub fn use_shop(&self, shop: &ShopHandle) {
        self.state.borrow_mut().shop = Some(shop.shop.clone());
    }

    /// Token ids of `text`; `special` parses control-token text.
    pub fn tokenize(&self, text: &str, special: bool) -> Result<Vec<u32>, JsValue> {
        self.state.borrow().engine.tokenizer.encode(text, special).map_err(js_err)
    }

    /// Starts a reply to `messages` (`[{role, content}]`); returns the prompt's token count.
    /// A task still running is dropped.
    pub fn start(&self, messages: JsValue, options: JsValue) -> Result<usize, JsValue> {
        let messages: Vec<Message> = serde_wasm_bindgen::from_value(messages)
            .map_err(|e| js_err(format!("messages must be an array of {{role, content}}: {e}")))?;
        let opts: ChatOptions = from_js(options, "chat options")?;
        let engine = self.begin();
        let fitted =
            engine.fit_chat(&messages, opts.max_tokens.unwrap_or(256).min(MAX_REPLY_TOKENS)).map_err(js_err)?;
        let (prompt, max_tokens) = (fitted.prompt, fitted.max_reply);
        let n = prompt.len();
        let sampler = SamplerConfig {
            temperature: opts.temperature.unwrap_or(0.0),
            top_k: opts.top_k.unwrap_or(0),
            top_p: opts.top_p.unwrap_or(1.0),
            repetition_penalty: opts.repetition_penalty.unwrap_or(1.0),
            seed: opts.seed.unwrap_or(0),
            ..SamplerConfig::default()
        };
        let options = GenerateOptions { max_tokens, sampler, stop_at_eog: true };
        let g = Generation::new(engine, prompt, options).map_err(js_err)?;
        self.state.borrow_mut().task = Some(Task::Chat(g));
        Ok(n)
    }

    /// Starts grounded suggestions for `request`: `next()` then yields `{type: "text", text}`
    /// and `{type: "product", id}` events. Returns the retrieval plan (candidates, constraints).
    #[wasm_bindgen(js_name = startSuggest)]
    pub fn start_suggest(&self, request: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: AssistOptions = from_js(options, "suggest options")?;
        self.start_suggestion(request, &opts.events, opts.suggest())
    }

    /// Starts the model's suggestions for `conversation`'s pending search (as
    /// [`Assistant::start_suggest`]).
    #[wasm_bindgen(js_name = startSuggestTurn)]
    pub fn start_suggest_turn(&self, conversation: &Conversation, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: AssistOptions = from_js(options, "suggest options")?;
        let (request, so) = conversation.search(&opts)?;
        self.start_suggestion(&request, &opts.events, so)
    }

    /// Starts a service answer from the shop's policies: `{type: "passage", id}` (the passage
    /// quoted), then text; or "I don't know, please contact the shop".
    #[wasm_bindgen(js_name = startAnswer)]
    pub fn start_answer(&self, question: &str, options: JsValue) -> Result<(), JsValue> {
        let opts: AssistOptions = from_js(options, "answer options")?;
        let shop = self.shop()?;
        let engine = self.begin();
        let a =
            Answer::new(engine, &shop, question, lang_of(&opts.lang), route::ANSWER_MIN_RELEVANCE).map_err(js_err)?;
        self.state.borrow_mut().task = Some(Task::Answer(a));
        Ok(())
    }

    /// The merchant's review analysis of a JSON or CSV reviews file: sentiment counts, themes
    /// with quotes, products drawing complaints. Nothing leaves the browser.
    #[wasm_bindgen(js_name = analyzeReviews)]
    pub fn analyze_reviews(&self, text: &str) -> Result<JsValue, JsValue> {
        let reviews = reviews::parse(text).map_err(js_err)?;
        erased::Ser::to_js(&reviews::analyze(&reviews))
    }

    /// Starts a written summary of a reviews file: `next()` yields `{type: "text"}` events;
    /// its numbers can only be those of the computed analysis.
    #[wasm_bindgen(js_name = startReviewSummary)]
    pub fn start_review_summary(&self, text: &str) -> Result<(), JsValue> {
        let reviews = reviews::parse(text).map_err(js_err)?;
        let report = reviews::analyze(&reviews);
        let engine = self.begin();
        let g = answer::review_summary(engine, &report).map_err(js_err)?;
        self.state.borrow_mut().task = Some(Task::Summary(g));
        Ok(())
    }

    /// Resolves to the next item of the current task (`{text, token, done}` for a chat, an
    /// event for suggestions and answers), or `null` when it is complete.
    pub fn next(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            // Take the task out while awaiting, so no RefCell borrow spans the await.
            let (taken, epoch) = {
                let mut s = state.borrow_mut();
                (s.task.take(), s.epoch)
            };
            let Some(mut task) = taken else {
                return Ok(JsValue::NULL);
            };
            let item = task.next().await;
            let mut s = state.borrow_mut();
            if s.epoch != epoch {
                // Aborted (or replaced) while this step ran: drop its output, keep the stopped
                // task for its stats unless a new one has started.
                task.stop();
                if s.task.is_none() {
                    s.task = Some(task);
                }
                return Ok(JsValue::NULL);
            }
            s.task = Some(task);
            drop(s);
            Ok(item?.unwrap_or(JsValue::NULL))
        })
    }

    /// Speed: prefills `ids` in one step, then generates `n` greedy tokens; resolves to
    /// `{prefillTps, decodeTps}`. Any task running is stopped first.
    pub fn benchmark(&self, ids: Vec<u32>, n: usize) -> Promise {
        let engine = self.begin();
        future_to_promise(async move {
            let (prefill, decode) = crate::generate::benchmark(engine, ids, n).await.map_err(js_err)?;
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Speed {
                prefill_tps: f64,
                decode_tps: f64,
            }
            erased::Ser::to_js(&Speed { prefill_tps: prefill, decode_tps: decode })
        })
    }

    /// Token counts and speeds of the current (or last) task.
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let s = self.state.borrow();
        match s.task.as_ref().and_then(Task::stats) {
            Some(st) => erased::Ser::to_js(&st),
            None => Ok(JsValue::NULL),
        }
    }

    /// Stops the current task; the next `next()` resolves to `null`.
    pub fn abort(&self) {
        let mut s = self.state.borrow_mut();
        if let Some(t) = s.task.as_mut() {
            t.stop();
        }
        s.epoch += 1;
    }
}

fn lang_of(code: &Option<String>) -> Option<Lang> {
    code.as_deref().filter(|c| *c != "auto").and_then(Lang::from_code)
}

fn profile_of(shop: &Shop, events: &[ShopEvent]) -> Profile {
    Profile::from_events(events, &shop.catalog, |t| shop.search_categories(t))
}

impl Assistant {
    /// Starts the model's suggestions for `request` with `so`, ranked with the profile of
    /// `events`, as the current task; returns the retrieval plan.
    fn start_suggestion(&self, request: &str, events: &[ShopEvent], so: SuggestOptions) -> Result<JsValue, JsValue> {
        let shop = self.shop()?;
        let engine = self.begin();
        let profile = profile_of(&shop, events);
        let sg = Suggestion::new(engine, shop, request, Some(&profile), so).map_err(js_err)?;
        let plan = erased::Ser::to_js(sg.plan())?;
        self.state.borrow_mut().task = Some(Task::Suggest(sg));
        Ok(plan)
    }

    /// Drops the current task and returns the engine for a new one.
    fn begin(&self) -> Arc<Engine> {
        let mut s = self.state.borrow_mut();
        if let Some(t) = s.task.as_mut() {
            t.stop();
        }
        s.task = None;
        s.epoch += 1;
        s.engine.clone()
    }

    fn shop(&self) -> Result<Arc<Shop>, JsValue> {
        self.state.borrow().shop.clone().ok_or_else(|| js_err("no catalog loaded: call useShop(shop) first"))
    }
}
