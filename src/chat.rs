//! Chat messages and the prompt text a model expects for them.
//!
//! Models ship their chat template as Jinja in `tokenizer.chat_template`; we render that exact
//! template (SmolLM2's inserts a default system message, which the references depend on) with
//! the same whitespace settings as Hugging Face and llama-cpp-python (`trim_blocks`,
//! `lstrip_blocks`). Files without a template get ChatML.

use minijinja::{Environment, ErrorKind, context};
use serde::{Deserialize, Serialize};

use crate::gguf::Gguf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Message { role: role.to_string(), content: content.to_string() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("chat template does not compile: {0}")]
    Template(String),
    #[error("chat template failed to render: {0}")]
    Render(String),
    #[error("a chat needs at least one message")]
    Empty,
    #[error("message {index}: unknown role {role:?} (expected system, user or assistant)")]
    BadRole { index: usize, role: String },
}

/// ChatML, for files that carry no template of their own.
pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// A compiled chat template plus the special-token strings templates may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, ChatError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // Python-style string/dict methods (`.strip()`, `.items()`) that HF templates use.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned("chat", source.to_string()).map_err(|e| ChatError::Template(e.to_string()))?;
        Ok(ChatTemplate { env, bos_token: bos_token.to_string(), eos_token: eos_token.to_string() })
    }

    /// The template in the GGUF (`tokenizer.chat_template`), or ChatML when there is none.
    pub fn from_gguf(g: &Gguf) -> Result<Self, ChatError> {
        let source = g.get("tokenizer.chat_template").and_then(|v| v.as_str()).unwrap_or(CHATML);
        let token = |key: &str| -> String {
            let tokens = g.get_str_array("tokenizer.ggml.tokens").unwrap_or_default();
            g.get(key)
                .and_then(|v| v.as_u64())
                .and_then(|id| tokens.get(id as usize).map(|s| s.to_string()))
                .unwrap_or_default()
        };
        Self::new(source, &token("tokenizer.ggml.bos_token_id"), &token("tokenizer.ggml.eos_token_id"))
    }

    /// The prompt text for `messages`, ending with the assistant's opening when
    /// `add_generation_prompt` is set.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, ChatError> {
        validate(messages)?;
        let tmpl = self.env.get_template("chat").map_err(|e| ChatError::Template(e.to_string()))?;
        tmpl.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        })
        .map_err(|e| ChatError::Render(e.to_string()))
    }
}

fn validate(messages: &[Message]) -> Result<(), ChatError> {
    if messages.is_empty() {
        return Err(ChatError::Empty);
    }
    for (index, m) in messages.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
            return Err(ChatError::BadRole { index, role: m.role.clone() });
        }
    }
    Ok(())
}
