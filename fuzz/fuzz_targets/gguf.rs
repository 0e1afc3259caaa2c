//! Any bytes as a GGUF file: the reader must refuse or accept without panicking, and allocate
//! no more than the file could describe. Files that parse go on to the tokenizer and the chat
//! template built from their metadata, as a model load would.
#![no_main]

use aisle::chat::ChatTemplate;
use aisle::gguf::Gguf;
use aisle::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    for t in &g.tensors {
        let _ = t.n_elements();
    }
    if let Ok(tok) = Tokenizer::from_gguf(&g) {
        if let Ok(ids) = tok.encode("ab a", true) {
            let _ = tok.decode(&ids);
        }
    }
    if let Ok(tpl) = ChatTemplate::from_gguf(&g) {
        let _ = tpl.render(&[aisle::chat::Message::new("user", "hi")], true);
    }
});
