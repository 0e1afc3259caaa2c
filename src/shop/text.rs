//! Text as search sees it: script detection, stemming and search terms. A leaf module: the
//! request reader, retrieval, the lexicon and the assistant all build on it.

/// Han, kana and hangul: scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3040..=0x30FF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// Words too common to carry meaning in a shopping request or a service question (en, de).
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "for",
    "to",
    "of",
    "in",
    "on",
    "at",
    "by",
    "with",
    "from",
    "is",
    "are",
    "was",
    "be",
    "i",
    "im",
    "me",
    "my",
    "we",
    "our",
    "you",
    "your",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "what",
    "which",
    "who",
    "how",
    "when",
    "where",
    "why",
    "can",
    "could",
    "would",
    "should",
    "will",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "get",
    "got",
    "buy",
    "find",
    "show",
    "tell",
    "give",
    "some",
    "any",
    "many",
    "much",
    "good",
    "best",
    "great",
    "nice",
    "new",
    "recommend",
    "recommendation",
    "looking",
    "look",
    "need",
    "want",
    "like",
    "likes",
    "love",
    "loves",
    "please",
    "suggest",
    "something",
    "anything",
    "thing",
    "under",
    "below",
    "over",
    "about",
    "around",
    "than",
    "less",
    "more",
    "cheap",
    "cheaper",
    // A service question's "policy" names no policy: "what's your return policy?" is about returns.
    "policy",
    "policies",
    "richtlinie",
    "richtlinien",
    "budget",
    "price",
    "dollars",
    "dollar",
    "usd",
    "eur",
    "euro",
    "euros",
    "year",
    "years",
    "old",
    "there",
    "here",
    "if",
    "so",
    "very",
    "really",
    "just",
    "also",
    "not",
    "no",
    "yes",
    "s",
    "t",
    "m",
    "ich",
    "und",
    "oder",
    "für",
    "fuer",
    "ein",
    "eine",
    "einen",
    "einem",
    "einer",
    "der",
    "die",
    "das",
    "den",
    "dem",
    "des",
    "mit",
    "von",
    "zu",
    "zum",
    "zur",
    "auf",
    "aus",
    "im",
    "in",
    "am",
    "an",
    "suche",
    "brauche",
    "möchte",
    "hätte",
    "gern",
    "gerne",
    "bitte",
    "unter",
    "bis",
    "über",
    "ist",
    "sind",
    "mein",
    "meine",
    "meinen",
    "gibt",
    "es",
    "wie",
    "was",
    "wann",
    "wo",
    "warum",
    "kann",
    "können",
    "viel",
    "viele",
    "habe",
    "haben",
    "zeit",
    "liebt",
    "lieben",
    "mag",
    "jahre",
    "jährig",
    "jährigen",
    "alt",
    "neu",
    "kaufen",
    "etwas",
    "welche",
    "welcher",
    "welches",
    "ihr",
    "ihre",
];

/// Chinese characters that carry no content in a request ("I want to buy one ...", "is there",
/// "recommend", budget words): they split a run before bigrams are taken.
const CJK_STOP: &str = "我你他她它们的了吗呢吧啊想要给买一个些这那有没什么怎样么请问还帮找在和是能可以推荐预算元块内以下左右多少哪款种个台辆件双把对";

/// Strips common English and German inflections, one after another until none is left, so
/// that "shoes"/"shoe", "running"/"runner"/"run", "flowers"/"flowering" meet.
pub fn stem(word: &str) -> String {
    let mut w = word.to_string();
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
    let lower = text.to_lowercase();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        let keep = !word.is_empty() && !STOP.contains(&word.as_str()) && !word.chars().all(|c| c.is_ascii_digit());
        if keep {
            out.push(stem(word));
        }
        word.clear();
    };
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        match cjk.len() {
            0 => {}
            1 => out.push(cjk[0].to_string()),
            _ => out.extend(cjk.windows(2).map(|w| w.iter().collect::<String>())),
        }
        cjk.clear();
    };
    for c in lower.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            if CJK_STOP.contains(c) {
                flush_cjk(&mut cjk, &mut out);
            } else {
                cjk.push(c);
            }
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}
