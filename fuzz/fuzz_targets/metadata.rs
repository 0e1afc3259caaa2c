//! GGUF files that parse, on to what a model load builds from their metadata: the tokenizer
//! (vocabulary, merges, token types, pre-tokenizer name) and the chat template (Jinja from the
//! file). Slower per input than the `gguf` target, so it is a target of its own.
#![no_main]

use aisle::chat::{ChatTemplate, Message};
use aisle::gguf::Gguf;
use aisle::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    if let Ok(tok) = Tokenizer::from_gguf(&g)
        && let Ok(ids) = tok.encode("ab a", true)
    {
        let _ = tok.decode(&ids);
    }
    if let Ok(tpl) = ChatTemplate::from_gguf(&g) {
        let _ = tpl.render(&[Message::new("user", "hi")], true);
    }
});
