//! Constrained decoding: where the model may only say what the shop's files say.
//!
//! A [`TokenTrie`] over the token sequences of allowed phrases (a product's description
//! sentences, a policy's sentences): at each step only the tokens that continue some phrase
//! are allowed, so the model chooses *which* sentence to say but cannot say another.

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
