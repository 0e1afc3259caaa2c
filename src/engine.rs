//! Everything loaded from one GGUF file: model, tokenizer and chat template, on one device.

use std::sync::Mutex;

use burn::tensor::Device;

use crate::chat::{ChatError, ChatTemplate, Message};
use crate::gguf::{Gguf, GgufError};
use crate::model::{KvCache, Llama, ModelError};
use crate::tokenizer::{Tokenizer, TokenizerError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Sampler(#[from] crate::sampler::SamplerError),
    #[error("this reply has finished")]
    Finished,
    #[error("the prompt has {prompt} tokens but the session holds only {capacity}")]
    PromptTooLong { prompt: usize, capacity: usize },
}

/// A chat's prompt after [`Engine::fit_chat`].
#[derive(Debug, Clone)]
pub struct FittedChat {
    pub prompt: Vec<u32>,
    /// Reply tokens allowed: the asked maximum, clamped to the room left.
    pub max_reply: usize,
    /// Oldest non-system messages left out.
    pub dropped: usize,
    /// Whether the newest message lost its beginning.
    pub cut: bool,
}

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Longest conversation (prompt + reply) in tokens; sizes the KV cache. Capped at the
    /// model's context length.
    pub max_context: usize,
    /// Force a forward path (default: the fastest the device and the weights allow).
    pub path: Option<crate::model::ForwardPath>,
    /// On the CPU path, decode with 8-bit activations (llama.cpp's arithmetic: faster natively,
    /// but greedy replies may differ from the f32 ones; see [`Llama::set_int8_decode`]).
    pub int8_decode: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        // 2048 tokens of SmolLM2's KV cache is 94 MB in f32: affordable on a phone's GPU.
        LoadOptions { max_context: 2048, path: None, int8_decode: false }
    }
}

pub struct Engine {
    pub model: Llama,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    /// A KV cache kept between generations, so that it is allocated once per session, and
    /// the tokens its positions hold.
    cache: Mutex<Option<(KvCache, Vec<u32>)>>,
}

impl Engine {
    /// Parses `bytes` as GGUF and loads everything onto `device`. The bytes are only read
    /// during this call: no copy of the file is kept.
    pub fn load(bytes: &[u8], device: &Device, options: &LoadOptions) -> Result<Self, EngineError> {
        let gguf = Gguf::parse(bytes)?;
        Self::load_parsed(&gguf, bytes, device, options)
    }

    pub fn load_parsed(gguf: &Gguf, bytes: &[u8], device: &Device, options: &LoadOptions) -> Result<Self, EngineError> {
        let tokenizer = Tokenizer::from_gguf(gguf)?;
        let template = ChatTemplate::from_gguf(gguf)?;
        let mut model = Llama::load_with(gguf, bytes, device, options.max_context, options.path)?;
        model.set_int8_decode(options.int8_decode);
        Ok(Engine { model, tokenizer, template, cache: Mutex::new(None) })
    }

    /// The prompt text for a chat (the model's own template, generation prompt appended).
    pub fn render_chat(&self, messages: &[Message]) -> Result<String, EngineError> {
        let safe: Vec<Message> = messages
            .iter()
            .map(|m| Message { role: m.role.clone(), content: self.tokenizer.defuse_control_text(&m.content) })
            .collect();
        Ok(self.template.render(&safe, true)?)
    }

    /// Prompt token ids for a chat: the rendered template, with its control tokens parsed.
    pub fn chat_tokens(&self, messages: &[Message]) -> Result<Vec<u32>, EngineError> {
        let text = self.render_chat(messages)?;
        Ok(self.tokenizer.encode(&text, true)?)
    }

    /// A chat fitted into the session: prompt ids that leave room for a reply of up to
    /// `max_reply` tokens, and that reply budget (clamped to what remains).
    ///
    /// The policy, when a chat is longer than the context window: leading system messages are
    /// kept; the oldest other messages are dropped first, whole; if the newest message alone
    /// still does not fit, its beginning is cut and its end kept (a long paste usually ends
    /// with the question). The reply gets at most half the session when the chat is long, so
    /// that trimming never empties the conversation to make room for a huge `max_reply`.
    pub fn fit_chat(&self, messages: &[Message], max_reply: usize) -> Result<FittedChat, EngineError> {
        let capacity = self.model.max_context();
        let budget = capacity - max_reply.clamp(1, capacity / 2);
        let fits = |m: &[Message]| Ok::<_, EngineError>(self.chat_tokens(m)?.len() <= budget);
        let fitted = |prompt: Vec<u32>, dropped: usize, cut: bool| -> Result<FittedChat, EngineError> {
            if prompt.len() > budget {
                // Only system messages are left, and they alone overflow the session.
                return Err(EngineError::PromptTooLong { prompt: prompt.len(), capacity: budget });
            }
            Ok(FittedChat { max_reply: max_reply.min(capacity - prompt.len()), prompt, dropped, cut })
        };
        let system = messages.iter().take_while(|m| m.role == "system").count();
        let (head, rest) = messages.split_at(system);
        let whole = self.chat_tokens(messages)?;
        if rest.is_empty() || whole.len() <= budget {
            return fitted(whole, 0, false);
        }
        let with = |keep_from: usize| [head, &rest[keep_from..]].concat();
        // The fewest dropped messages that fit (fitting is monotone in the number dropped).
        if fits(&with(rest.len() - 1))? {
            let dropped = least(1, rest.len() - 1, |n| fits(&with(n)))?;
            return fitted(self.chat_tokens(&with(dropped))?, dropped, false);
        }
        // Only the newest message is left and it is too long: keep the longest tail that fits.
        let mut kept = with(rest.len() - 1);
        let last = kept.len() - 1;
        let text: Vec<char> = kept[last].content.chars().collect();
        let cut = least(0, text.len(), |n| {
            kept[last].content = text[n..].iter().collect();
            fits(&kept)
        })?;
        kept[last].content = text[cut..].iter().collect();
        fitted(self.chat_tokens(&kept)?, rest.len() - 1, true)
    }

    /// The KV cache kept from the last generation (or a new one), still holding the longest
    /// start of `prompt` it holds, short of `prompt`'s last token (whose logits the caller
    /// needs). A prompt that begins as the last one did (the same system prompt and shop, a
    /// conversation grown by a turn) then runs only what is new: a position's keys and values
    /// depend only on the tokens up to it. Returns the cache and how many positions it kept.
    pub fn take_cache_for(&self, prompt: &[u32]) -> (KvCache, usize) {
        let kept = self.cache.lock().map(|mut c| c.take()).unwrap_or(None);
        let Some((mut cache, tokens)) = kept else { return (self.model.new_cache(), 0) };
        let limit = prompt.len().saturating_sub(1).min(cache.len());
        let shared = tokens.iter().zip(prompt).take(limit).take_while(|(a, b)| a == b).count();
        cache.truncate(shared);
        (cache, shared)
    }

    /// A cleared KV cache (nothing reused: what a speed measurement needs).
    pub fn take_cache(&self) -> KvCache {
        self.take_cache_for(&[]).0
    }

    /// Keeps `cache` for the next generation; `tokens` are those its positions hold.
    pub fn return_cache(&self, cache: KvCache, tokens: &[u32]) {
        if let Ok(mut c) = self.cache.lock() {
            let tokens = tokens[..cache.len().min(tokens.len())].to_vec();
            *c = Some((cache, tokens));
        }
    }

    pub fn device(&self) -> &Device {
        self.model.device()
    }
}

/// The least `n` in `lo..=hi` for which `ok(n)` holds, given that it holds at `hi` and, once
/// it holds, for every larger `n` (a binary search whose test may fail).
fn least<E>(mut lo: usize, mut hi: usize, mut ok: impl FnMut(usize) -> Result<bool, E>) -> Result<usize, E> {
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(mid)? { hi = mid } else { lo = mid + 1 }
    }
    Ok(lo)
}
