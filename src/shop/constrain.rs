//! Constrained decoding: where the model may only say what the shop's files say.
//!
//! - A [`TokenTrie`] over the token sequences of allowed phrases (candidate product titles): at
//!   each step only the tokens that continue some phrase are allowed, so the model chooses
//!   *which* product to name but cannot name one that does not exist.
//! - A [`NumberGuard`]: inside free text, a digit may only start or continue a number that
//!   appears in the grounding text (a policy passage), so "30 days" cannot become "60 days".
//! - [`TokenClasses`]: per-token facts (has a digit, a currency sign, a newline, control text)
//!   computed once per vocabulary.

use std::collections::BTreeSet;

use crate::tokenizer::{TokenType, Tokenizer};

/// A trie over token sequences; node 0 is the root.
#[derive(Debug, Clone, Default)]
pub struct TokenTrie {
    children: Vec<Vec<(u32, usize)>>,
    /// The phrase that ends at a node.
    ends: Vec<Option<usize>>,
}

impl TokenTrie {
    pub fn new(phrases: &[Vec<u32>]) -> Self {
        let mut t = TokenTrie { children: vec![Vec::new()], ends: vec![None] };
        for (i, seq) in phrases.iter().enumerate() {
            let mut node = 0;
            for &tok in seq {
                node = match t.children[node].iter().find(|(k, _)| *k == tok) {
                    Some(&(_, next)) => next,
                    None => {
                        t.children.push(Vec::new());
                        t.ends.push(None);
                        let next = t.children.len() - 1;
                        t.children[node].push((tok, next));
                        next
                    }
                };
            }
            t.ends[node].get_or_insert(i);
        }
        t
    }

    /// Tokens that continue some phrase from `node`.
    pub fn allowed(&self, node: usize) -> impl Iterator<Item = u32> + '_ {
        self.children[node].iter().map(|(t, _)| *t)
    }

    pub fn step(&self, node: usize, token: u32) -> Option<usize> {
        self.children[node].iter().find(|(t, _)| *t == token).map(|(_, n)| *n)
    }

    /// The phrase completed at `node`, if one ends there.
    pub fn phrase_at(&self, node: usize) -> Option<usize> {
        self.ends[node]
    }

    pub fn is_leaf(&self, node: usize) -> bool {
        self.children[node].is_empty()
    }
}

/// The highest-scoring token among `allowed` (ties to the lowest id).
pub fn best_of(logits: &[f32], allowed: impl Iterator<Item = u32>) -> Option<u32> {
    let mut best: Option<(u32, f32)> = None;
    for t in allowed {
        let Some(&l) = logits.get(t as usize) else { continue };
        match best {
            Some((bt, bl)) if l < bl || (l == bl && t > bt) => {}
            _ => best = Some((t, l)),
        }
    }
    best.map(|(t, _)| t)
}

/// Facts about every token of a vocabulary, computed once, for masks.
pub struct TokenClasses {
    /// Bytes of each token's text.
    pub bytes: Vec<Vec<u8>>,
    /// Control or unused tokens: never written in free text.
    pub control: Vec<bool>,
    pub has_digit: Vec<bool>,
    /// Never in a product reason: control text, a currency sign (prices come from the
    /// catalog) or a link.
    pub banned_free: Vec<bool>,
    /// Starts a word: optional spaces, then a letter.
    pub word_start: Vec<bool>,
}

impl TokenClasses {
    pub fn new(tok: &Tokenizer) -> Self {
        let n = tok.vocab_size() as u32;
        let bytes: Vec<Vec<u8>> = (0..n).map(|i| tok.token_bytes(i).map(<[u8]>::to_vec).unwrap_or_default()).collect();
        let control: Vec<bool> =
            (0..n).map(|i| matches!(tok.token_type(i), Some(TokenType::Control | TokenType::Unused))).collect();
        let has_digit = bytes.iter().map(|b| b.iter().any(u8::is_ascii_digit)).collect();
        let text: Vec<String> = bytes.iter().map(|b| String::from_utf8_lossy(b).to_ascii_lowercase()).collect();
        let link: Vec<bool> =
            text.iter().map(|s| s.contains("http") || s.contains("www") || s.contains("://")).collect();
        let currency = text.iter().map(|s| s.contains(['$', '€', '£', '¥', '元']));
        let banned_free = currency.zip(&link).zip(&control).map(|((cur, &l), &c)| cur || l || c).collect();
        let word_start = text
            .iter()
            .zip(&control)
            .map(|(s, &c)| !c && s.trim_start().chars().next().is_some_and(char::is_alphabetic))
            .collect();
        TokenClasses { bytes, control, has_digit, banned_free, word_start }
    }

    pub fn has_newline(&self, t: u32) -> bool {
        self.bytes[t as usize].contains(&b'\n')
    }
}

/// Allows a digit only where it starts or continues a number present in the grounding text.
#[derive(Debug, Clone, Default)]
pub struct NumberGuard {
    numbers: BTreeSet<String>,
    /// Digits of the number being written.
    current: String,
}

impl NumberGuard {
    pub fn new(grounding: &str) -> Self {
        let mut numbers = BTreeSet::new();
        let mut cur = String::new();
        for c in grounding.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() {
                cur.push(c);
            } else if !cur.is_empty() {
                numbers.insert(std::mem::take(&mut cur));
            }
        }
        NumberGuard { numbers, current: String::new() }
    }

    /// Whether `t` may come next.
    pub fn allows(&self, classes: &TokenClasses, t: u32) -> bool {
        if !classes.has_digit[t as usize] {
            // A non-digit ends the number being written: it must be complete.
            return self.current.is_empty() || self.numbers.contains(&self.current);
        }
        let b = &classes.bytes[t as usize];
        let lead: String = b.iter().take_while(|c| c.is_ascii_digit()).map(|&c| c as char).collect();
        let rest_has_digit = b[lead.len()..].iter().any(u8::is_ascii_digit);
        if rest_has_digit {
            return false;
        }
        if lead.is_empty() {
            // A non-digit ends the number being written: it must be complete.
            return self.current.is_empty() || self.numbers.contains(&self.current);
        }
        let candidate = format!("{}{}", self.current, lead);
        let whole_token_digits = lead.len() == b.len();
        self.numbers.iter().any(|n| if whole_token_digits { n.starts_with(&candidate) } else { *n == candidate })
    }

    /// Records that `t` was written.
    pub fn accept(&mut self, classes: &TokenClasses, t: u32) {
        let b = &classes.bytes[t as usize];
        let lead: String = b.iter().take_while(|c| c.is_ascii_digit()).map(|&c| c as char).collect();
        if lead.len() == b.len() && !b.is_empty() {
            self.current.push_str(&lead);
        } else {
            self.current.clear();
        }
    }
}
