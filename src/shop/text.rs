//! Text as search sees it: script detection, stemming and search terms. A leaf module: the
//! request reader, retrieval, the lexicon and the assistant all build on it.

/// Han, kana and hangul: scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3040..=0x30FF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// Words too common to carry meaning in a shopping request or a service question (en, de),
/// sorted, for a binary search (indexing a large catalog looks up every word).
const STOP: &[&str] = &[
    "a",
    "aber",
    "about",
    "absolutely",
    "ach",
    "alle",
    "alles",
    "als",
    "also",
    "alt",
    "am",
    "an",
    "and",
    "any",
    "anything",
    "are",
    "around",
    "at",
    "auch",
    "auf",
    "aus",
    "be",
    "bei",
    "below",
    "besonders",
    "best",
    "bis",
    "bitte",
    "brauch",
    "brauche",
    "budget",
    "buy",
    "by",
    "can",
    "cheap",
    "cheaper",
    "could",
    "d",
    "das",
    "dass",
    "definitely",
    "dem",
    "den",
    "der",
    "des",
    "dich",
    "did",
    "die",
    "diese",
    "dieser",
    "dieses",
    "dir",
    "do",
    "does",
    "dollar",
    "dollars",
    "echt",
    "ein",
    "eine",
    "einem",
    "einen",
    "einer",
    "er",
    "es",
    "etwas",
    "euch",
    "eur",
    "euro",
    "euros",
    "find",
    "for",
    "from",
    "fuer",
    "führen",
    "führt",
    "für",
    "ganz",
    "gern",
    "gerne",
    "get",
    "gibt",
    "give",
    "good",
    "got",
    "great",
    "habe",
    "haben",
    "habt",
    "had",
    "hallo",
    "has",
    "hast",
    "hat",
    "have",
    "hello",
    "here",
    "hey",
    "hi",
    "how",
    "hätte",
    "höchstens",
    "i",
    "ich",
    "if",
    "ihr",
    "ihre",
    "im",
    "immer",
    "in",
    "is",
    "ist",
    "it",
    "its",
    "jahre",
    "jede",
    "jeder",
    "jetzt",
    "just",
    "jährig",
    "jährigen",
    "kann",
    "kaufen",
    "kein",
    "keine",
    "keinen",
    "können",
    "less",
    "lieben",
    "liebt",
    "like",
    "likes",
    "ll",
    "look",
    "looking",
    "love",
    "loves",
    "m",
    "mag",
    "man",
    "many",
    "max",
    "maximal",
    "maximum",
    "me",
    "mein",
    "meine",
    "meinen",
    "mich",
    "mindestens",
    "mir",
    "mit",
    "more",
    "much",
    "my",
    "möchte",
    "need",
    "neu",
    "neue",
    "neuen",
    "neuer",
    "neues",
    "new",
    "nice",
    "nicht",
    "no",
    "noch",
    "not",
    "now",
    "nur",
    "oder",
    "of",
    "old",
    "on",
    "or",
    "our",
    "over",
    "please",
    "policies",
    "policy",
    "price",
    "quite",
    "re",
    "really",
    "recommend",
    "recommendation",
    "richtlinie",
    "richtlinien",
    "s",
    "schon",
    "sehr",
    "sein",
    "sell",
    "selling",
    "sells",
    "should",
    "show",
    "sie",
    "sind",
    "so",
    "some",
    "something",
    "suche",
    "suggest",
    "t",
    "tell",
    "than",
    "that",
    "the",
    "there",
    "these",
    "thing",
    "this",
    "those",
    "to",
    "total",
    "totally",
    "und",
    "under",
    "uns",
    "unter",
    "usd",
    "ve",
    "verkaufen",
    "verkauft",
    "very",
    "viel",
    "viele",
    "von",
    "wann",
    "want",
    "warum",
    "was",
    "we",
    "welche",
    "welcher",
    "welches",
    "wenn",
    "werden",
    "what",
    "what's your return policy?",
    "when",
    "where",
    "which",
    "who",
    "why",
    "wie",
    "will",
    "wird",
    "wirklich",
    "with",
    "wo",
    "would",
    "wurde",
    "wäre",
    "wären",
    "würde",
    "würden",
    "year",
    "years",
    "yes",
    "you",
    "your",
    "zeit",
    "ziemlich",
    "zu",
    "zum",
    "zur",
    "über",
];

/// Chinese characters that carry no content in a request ("I want to buy one ...", "is there",
/// "recommend", budget words, "一点" of "便宜一点"): they split a run before bigrams are taken.
const CJK_STOP: &str = "我你他她它们的了吗呢吧啊很政策爸妈想要给买一个些这那有没什么怎样么请问还帮找在和是能可以推荐预算元块内以下左右多少哪款种个台辆件双把对点";

/// Strips common English and German inflections, one after another until none is left, so
/// that "shoes"/"shoe", "running"/"runner"/"run", "flowers"/"flowering" meet; German umlauts
/// lose their dots first (as the Snowball German stemmer's do), because German plurals add
/// them: "Bezug"/"Bezüge", "Glas"/"Gläser", "Topf"/"Töpfe".
pub fn stem(word: &str) -> String {
    let mut w: String = word
        .chars()
        .map(|c| match c {
            'ä' => 'a',
            'ö' => 'o',
            'ü' => 'u',
            c => c,
        })
        .collect();
    'strip: loop {
        if w.chars().count() <= 3 {
            return w;
        }
        for suffix in ["ing", "ers", "ern", "ies", "es", "en", "er", "ed", "ly", "e", "s", "n"] {
            if let Some(base) = w.strip_suffix(suffix)
                && base.chars().count() >= 3
            {
                w = if suffix == "ies" { format!("{base}y") } else { base.to_string() };
                continue 'strip;
            }
        }
        return w;
    }
}

/// Search terms of `text`: stemmed words (stop words and bare numbers dropped; budgets are
/// constraints, not words) and CJK character bigrams.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    pieces(text, |p| match p {
        Piece::Word(w) => out.extend(word_term(w)),
        Piece::Cjk(t) => out.push(t),
    });
    out
}

/// A word's search term: its stem, or nothing for a stop word or a bare number.
pub fn word_term(word: &str) -> Option<String> {
    let keep = STOP.binary_search(&word).is_err() && !word.chars().all(|c| c.is_ascii_digit());
    keep.then(|| stem(word))
}

/// What [`pieces`] cuts a text into.
pub enum Piece<'a> {
    /// A lower-cased word, before [`word_term`].
    Word(&'a str),
    /// A CJK character bigram (or a lone character): a term as it is.
    Cjk(String),
}

/// `text` lower-cased and cut into words and the bigrams of CJK runs, in order.
pub fn pieces(text: &str, mut f: impl FnMut(Piece<'_>)) {
    let lower = text.to_lowercase();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush = |word: &mut String, cjk: &mut Vec<char>, f: &mut dyn FnMut(Piece<'_>)| {
        if !word.is_empty() {
            f(Piece::Word(word));
            word.clear();
        }
        match cjk.len() {
            0 => {}
            1 => f(Piece::Cjk(cjk[0].to_string())),
            _ => cjk.windows(2).for_each(|w| f(Piece::Cjk(w.iter().collect()))),
        }
        cjk.clear();
    };
    for c in lower.chars() {
        if is_cjk(c) {
            flush(&mut word, &mut Vec::new(), &mut f);
            if CJK_STOP.contains(c) {
                flush(&mut word, &mut cjk, &mut f);
            } else {
                cjk.push(c);
            }
        } else if c.is_alphanumeric() {
            flush(&mut String::new(), &mut cjk, &mut f);
            word.push(c);
        } else {
            flush(&mut word, &mut cjk, &mut f);
        }
    }
    flush(&mut word, &mut cjk, &mut f);
}

/// The sentences of a description, each as written.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let s = first_sentence(rest);
        if !s.trim().is_empty() {
            out.push(s.trim());
        }
        rest = rest[s.len()..].trim_start();
    }
    out
}

/// The first sentence of `text`: up to a full stop (or ! ?) followed by a space or the end,
/// so that "1.7 l" and "$5.95" do not end one; CJK full stops end one anywhere.
pub fn first_sentence(text: &str) -> &str {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let end = matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
        let at_break = chars.get(k + 1).is_none_or(|&(_, n)| n.is_whitespace() || !c.is_ascii());
        if end && at_break {
            return &text[..i + c.len_utf8()];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(super::STOP.windows(2).all(|w| w[0] < w[1]), "keep STOP sorted and without repeats");
        assert_eq!(super::terms("the kettle and a mug"), ["kettl", "mug"]);
        assert_eq!(
            super::terms("Kettles, 2 mugs: 热水壶和杯子 teapot"),
            ["kettl", "mug", "热水", "水壶", "杯子", "teapot"]
        );
    }
}
