//! The tokenizer, assembled from the GGUF's own vocabulary, merges and token types.
//!
//! Encoding goes through the `tokenizers` crate (a byte-level BPE with the pre-tokenizer that the
//! file names); decoding uses our own table of token bytes, so that streamed text can be cut
//! only at UTF-8 character boundaries (a CJK character or an emoji often spans two tokens).

use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use crate::gguf::{Gguf, GgufError};

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("tokenizer model {0:?} is not supported (only byte-level BPE, \"gpt2\")")]
    UnsupportedModel(String),
    #[error("pre-tokenizer {0:?} is not supported (supported: smollm, llama-bpe, qwen2, gpt2, default)")]
    UnsupportedPreTokenizer(String),
    #[error("tokenizer.ggml.merges entry {index} ({merge:?}) is not two tokens separated by a space")]
    BadMerge { index: usize, merge: String },
    #[error("tokenizer.ggml.token_type has {types} entries for {tokens} tokens")]
    TypeCountMismatch { types: usize, tokens: usize },
    #[error("token id {0} is outside the vocabulary")]
    BadTokenId(u32),
    #[error("tokenizer: {0}")]
    Library(String),
}

type Result<T> = std::result::Result<T, TokenizerError>;

/// GGUF `tokenizer.ggml.token_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    fn from_gguf(v: i64) -> Self {
        match v {
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Normal,
        }
    }
}

/// Splits text before byte-level BPE. Llama 3 and Qwen2 use the same pattern except for how many
/// digits form a group (llama.cpp's `LLAMA_VOCAB_PRE_TYPE_LLAMA3` and `_QWEN2`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_PATTERN: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Text <-> token ids for one model.
pub struct Tokenizer {
    /// Parses special-token text (`<|im_start|>`) into the control token.
    with_special: tokenizers::Tokenizer,
    /// Splits special-token text like any other text.
    plain: tokenizers::Tokenizer,
    /// Raw bytes of each token as it appears in output; empty for control tokens.
    token_bytes: Vec<Vec<u8>>,
    token_types: Vec<TokenType>,
    tokens: Vec<String>,
    eog: Vec<u32>,
}

impl Tokenizer {
    /// Builds the tokenizer described by the GGUF metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let model = g.get_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(TokenizerError::UnsupportedModel(model.to_string()));
        }
        let pre = g.get("tokenizer.ggml.pre").and_then(|v| v.as_str()).unwrap_or("default").to_string();
        let tokens: Vec<String> = g.get_str_array("tokenizer.ggml.tokens")?.into_iter().map(String::from).collect();
        let token_types = read_token_types(g, tokens.len())?;
        let merges = read_merges(g)?;

        let vocab: tokenizers::models::bpe::Vocab =
            tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .ignore_merges(pre == "llama-bpe")
            .build()
            .map_err(|e| TokenizerError::Library(e.to_string()))?;

        let mut with_special = tokenizers::Tokenizer::new(bpe);
        with_special.with_pre_tokenizer(Some(pre_tokenizer(&pre)?));
        let added: Vec<AddedToken> = tokens
            .iter()
            .zip(&token_types)
            .filter(|(_, t)| matches!(t, TokenType::Control | TokenType::UserDefined))
            .map(|(s, t)| AddedToken::from(s.clone(), *t == TokenType::Control).normalized(false))
            .collect();
        with_special.add_special_tokens(added).map_err(|e| TokenizerError::Library(e.to_string()))?;
        let mut plain = with_special.clone();
        plain.set_encode_special_tokens(true);

        let token_bytes = tokens.iter().zip(&token_types).map(|(s, t)| piece_bytes(s, *t)).collect();
        let eog = end_of_generation_ids(g, &tokens, &token_types);
        Ok(Tokenizer { with_special, plain, token_bytes, token_types, tokens, eog })
    }

    /// Token ids of `text`. With `parse_special`, exact control-token text becomes that token;
    /// without it, such text is tokenized like any other (what untrusted shopper text needs).
    /// No BOS is added: chat templates write their own start tokens.
    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        let tk = if parse_special { &self.with_special } else { &self.plain };
        let enc = tk.encode_fast(text, false).map_err(|e| TokenizerError::Library(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids`, control tokens omitted, invalid UTF-8 replaced by U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The bytes token `id` contributes to output text (empty for control tokens).
    pub fn token_bytes(&self, id: u32) -> Result<&[u8]> {
        self.token_bytes.get(id as usize).map(Vec::as_slice).ok_or(TokenizerError::BadTokenId(id))
    }

    /// The vocabulary string of `id` (GPT-2 byte-level form, e.g. `Ġthe`).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.token_types.get(id as usize).copied()
    }

    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.tokens.iter().position(|t| t == text).map(|i| i as u32)
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Tokens that end a reply (`<|im_end|>`, `<|endoftext|>`, ...).
    pub fn end_of_generation(&self) -> &[u32] {
        &self.eog
    }

    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// `text` with every control-token string broken by a zero-width space after its first
    /// character, so that text from a shopper can never be parsed into a control token (e.g. a
    /// typed `<|im_start|>system` opening a turn of its own) when a prompt is encoded with
    /// special-token parsing.
    pub fn defuse_control_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (t, ty) in self.tokens.iter().zip(&self.token_types) {
            if *ty == TokenType::Control && t.len() > 1 && out.contains(t.as_str()) {
                let mut chars = t.chars();
                let first = chars.next().map(String::from).unwrap_or_default();
                out = out.replace(t.as_str(), &format!("{first}\u{200B}{}", chars.as_str()));
            }
        }
        out
    }
}

fn read_token_types(g: &Gguf, n_tokens: usize) -> Result<Vec<TokenType>> {
    let Some(v) = g.get("tokenizer.ggml.token_type") else {
        return Ok(vec![TokenType::Normal; n_tokens]);
    };
    let arr = v.as_array().ok_or_else(|| GgufError::WrongType {
        key: "tokenizer.ggml.token_type".into(),
        expected: "array of integers",
        found: v.value_type().name(),
    })?;
    if arr.len() != n_tokens {
        return Err(TokenizerError::TypeCountMismatch { types: arr.len(), tokens: n_tokens });
    }
    Ok(arr
        .iter()
        .map(|x| match *x {
            crate::gguf::Value::I32(i) => TokenType::from_gguf(i.into()),
            ref other => TokenType::from_gguf(other.as_u64().map(|u| u as i64).unwrap_or(1)),
        })
        .collect())
}

fn read_merges(g: &Gguf) -> Result<Vec<(String, String)>> {
    let merges = match g.get("tokenizer.ggml.merges") {
        Some(_) => g.get_str_array("tokenizer.ggml.merges")?,
        None => Vec::new(),
    };
    merges
        .iter()
        .enumerate()
        .map(|(index, m)| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| TokenizerError::BadMerge { index, merge: m.to_string() })
        })
        .collect()
}

/// The pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre`, in `tokenizers` terms.
fn pre_tokenizer(pre: &str) -> Result<PreTokenizerWrapper> {
    let byte_level = |use_regex| PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, use_regex));
    let split = |pattern: &str| -> Result<PreTokenizerWrapper> {
        let s = Split::new(SplitPattern::Regex(pattern.to_string()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| TokenizerError::Library(e.to_string()))?;
        Ok(PreTokenizerWrapper::Split(s))
    };
    Ok(match pre {
        // SmolLM: every digit on its own, then GPT-2's pattern (verified against llama.cpp on
        // all 60 reference strings).
        "smollm" => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            byte_level(true),
        ])),
        "llama-bpe" | "llama3" => {
            PreTokenizerWrapper::Sequence(Sequence::new(vec![split(LLAMA3_PATTERN)?, byte_level(false)]))
        }
        "qwen2" => PreTokenizerWrapper::Sequence(Sequence::new(vec![split(QWEN2_PATTERN)?, byte_level(false)])),
        "gpt2" | "default" => byte_level(true),
        other => return Err(TokenizerError::UnsupportedPreTokenizer(other.to_string())),
    })
}

/// End-of-generation ids: the file's EOS and EOT tokens, plus the control tokens that chat
/// templates use to close a turn (llama.cpp adds these by name the same way).
fn end_of_generation_ids(g: &Gguf, tokens: &[String], types: &[TokenType]) -> Vec<u32> {
    let mut eog: Vec<u32> =
        ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]
            .iter()
            .filter_map(|k| g.get(k).and_then(|v| v.as_u64()))
            .filter(|&id| (id as usize) < tokens.len())
            .map(|id| id as u32)
            .collect();
    const TURN_ENDS: [&str; 6] =
        ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>"];
    for (i, (t, ty)) in tokens.iter().zip(types).enumerate() {
        if *ty == TokenType::Control && TURN_ENDS.contains(&t.as_str()) && !eog.contains(&(i as u32)) {
            eog.push(i as u32);
        }
    }
    eog.sort_unstable();
    eog
}

/// Bytes a vocabulary entry stands for: byte-level entries map each char back to one byte;
/// control tokens produce no text; user-defined tokens are their literal text.
fn piece_bytes(s: &str, ty: TokenType) -> Vec<u8> {
    match ty {
        TokenType::Control | TokenType::Unused => Vec::new(),
        TokenType::UserDefined => s.as_bytes().to_vec(),
        _ => {
            let table = unicode_to_byte();
            s.chars()
                .flat_map(|c| match table.get(c as usize) {
                    Some(&b) if b >= 0 => vec![b as u8],
                    // Not a byte-level char (should not happen in a gpt2 vocabulary): keep as UTF-8.
                    _ => c.to_string().into_bytes(),
                })
                .collect()
        }
    }
}

/// Inverse of GPT-2's `bytes_to_unicode`: index by char code point, -1 where no byte maps there.
fn unicode_to_byte() -> &'static [i16; 512] {
    use std::sync::OnceLock;
    static TABLE: OnceLock<[i16; 512]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [-1i16; 512];
        let mut n = 0;
        for b in 0..=255u16 {
            let printable = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
            let c = if printable {
                b
            } else {
                n += 1;
                255 + n
            };
            table[c as usize] = b as i16;
        }
        table
    })
}

/// Turns a stream of token ids into text pieces that never split a UTF-8 character.
#[derive(Debug, Default)]
pub struct StreamingDecoder {
    pending: Vec<u8>,
}

impl StreamingDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String> {
        self.pending.extend_from_slice(tokenizer.token_bytes(id)?);
        Ok(self.take_complete())
    }

    /// Ends the stream. Bytes still pending can only be the start of a character that the reply
    /// was cut off before finishing (the token limit fell inside it); they are dropped rather
    /// than shown as U+FFFD. Invalid sequences inside the stream were already replaced.
    pub fn finish(&mut self) -> String {
        self.pending.clear();
        String::new()
    }

    /// Emits the longest prefix that is valid UTF-8 or definitely invalid (as U+FFFD); keeps
    /// only a possibly-unfinished character at the end.
    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).expect("checked valid"));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                    }
                }
            }
        }
    }
}
