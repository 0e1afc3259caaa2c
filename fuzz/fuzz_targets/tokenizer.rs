//! The real SmolLM2 tokenizer (from the model file `make setup` fetched) on any text and any
//! id sequence: encoding, decoding and the streaming decoder never panic, the streamed pieces
//! concatenate to valid UTF-8, and control tokens typed by a shopper are defused.
#![no_main]

use std::sync::OnceLock;

use aisle::gguf::Gguf;
use aisle::tokenizer::{StreamingDecoder, Tokenizer};
use libfuzzer_sys::fuzz_target;

fn tokenizer() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let path = std::env::var("AISLE_MODEL").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../models/SmolLM2-135M-Instruct.Q4_1.gguf").into()
        });
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make setup`)"));
        let g = Gguf::parse(&bytes).expect("the model file parses");
        Tokenizer::from_gguf(&g).expect("its tokenizer builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let tok = tokenizer();
    let text = String::from_utf8_lossy(data);
    let safe = tok.defuse_control_text(&text);
    if let Ok(ids) = tok.encode(&safe, false) {
        // What a shopper types never becomes a control token.
        for id in &ids {
            assert!(!tok.is_end_of_generation(*id), "{safe:?} encoded to an end-of-generation token");
        }
        let _ = tok.decode(&ids);
    }
    let _ = tok.encode(&text, true);
    // The bytes as token ids (some out of range): streamed pieces are whole characters.
    let mut stream = StreamingDecoder::new();
    let mut out = String::new();
    for pair in data.chunks(2) {
        let id = u16::from_le_bytes([pair[0], *pair.get(1).unwrap_or(&0)]) as u32;
        if let Ok(piece) = stream.push(tok, id) {
            out.push_str(&piece);
        }
    }
    out.push_str(&stream.finish());
    assert!(std::str::from_utf8(out.as_bytes()).is_ok());
});
