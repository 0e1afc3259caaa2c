//! Any bytes as a GGUF file: the reader must refuse or accept without panicking, and allocate
//! no more than the file could describe (libFuzzer's -rss_limit_mb catches the rest).
#![no_main]

use aisle::gguf::Gguf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    for t in &g.tensors {
        let _ = t.n_elements();
    }
});
