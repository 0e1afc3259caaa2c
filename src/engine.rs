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

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Longest conversation (prompt + reply) in tokens; sizes the KV cache. Capped at the
    /// model's context length.
    pub max_context: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        // 2048 tokens of SmolLM2's KV cache is 94 MB in f32: affordable on a phone's GPU.
        LoadOptions { max_context: 2048 }
    }
}

pub struct Engine {
    pub model: Llama,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    /// A KV cache kept between generations, so that it is allocated once per session.
    cache: Mutex<Option<KvCache>>,
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
        let model = Llama::load(gguf, bytes, device, options.max_context)?;
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

    /// A cleared KV cache: the one kept from the last generation, or a new one.
    pub fn take_cache(&self) -> KvCache {
        let kept = self.cache.lock().map(|mut c| c.take()).unwrap_or(None);
        let mut cache = kept.unwrap_or_else(|| self.model.new_cache());
        cache.clear();
        cache
    }

    /// Keeps `cache` for the next generation.
    pub fn return_cache(&self, cache: KvCache) {
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(cache);
        }
    }

    pub fn device(&self) -> &Device {
        self.model.device()
    }
}
