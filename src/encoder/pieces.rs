//! The encoder's tokenizer: XLM-RoBERTa's SentencePiece unigram model. The text is normalized
//! character by character with the file's map, runs of spaces become one, a leading `▁` is
//! added and every space becomes `▁`; the unigram lattice (the `tokenizers` crate's) then picks
//! the most probable pieces.

use tokenizers::Model;
use tokenizers::models::unigram::Unigram;

use super::EncoderError;
use super::file::Vocab;

const METASPACE: char = '\u{2581}';

pub struct Pieces {
    model: Unigram,
    normalize: Vec<(char, Vec<char>)>,
    pub bos: u32,
    pub eos: u32,
}

impl Pieces {
    pub fn new(vocab: Vocab) -> Result<Self, EncoderError> {
        let Vocab { pieces, bos, eos, unk, normalize } = vocab;
        let model =
            Unigram::from(pieces, Some(unk as usize), false).map_err(|e| EncoderError::Format(e.to_string()))?;
        Ok(Pieces { model, normalize, bos, eos })
    }

    /// The text as the unigram model reads it: normalized, spaces as `▁`, one leading `▁`.
    pub fn normalized(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 3);
        let mut last_space = false;
        for ch in text.chars() {
            let mapped = match self.normalize.binary_search_by_key(&ch, |e| e.0) {
                Ok(i) => self.normalize[i].1.as_slice(),
                Err(_) => std::slice::from_ref(&ch),
            };
            for &c in mapped {
                if c == ' ' && last_space {
                    continue;
                }
                last_space = c == ' ';
                out.push(c);
            }
        }
        if !out.starts_with(' ') {
            out.insert(0, ' ');
        }
        out.replace(' ', &METASPACE.to_string())
    }

    /// Token ids of `text` (no `<s>`/`</s>`), at most `max`.
    pub fn encode(&self, text: &str, max: usize) -> Result<Vec<u32>, EncoderError> {
        let tokens = self.model.tokenize(&self.normalized(text)).map_err(|e| EncoderError::Format(e.to_string()))?;
        Ok(tokens.into_iter().take(max).map(|t| t.id).collect())
    }
}
