//! Writes the model files the browser tests need and cannot download:
//! `smollm2-mixed.gguf`, the real SmolLM2 requantized into a llama.cpp-style mix of Q5_0, Q5_1,
//! Q8_0, Q4_K and Q6_K (`tests/common/requant.rs`).
//!
//! `cargo run --release --example test_models -- OUT_DIR`

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: test_models OUT_DIR");
        std::process::exit(2);
    };
    let path = common::model_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make setup`)", path.display()));
    let file = std::path::Path::new(&out).join("smollm2-mixed.gguf");
    std::fs::write(&file, common::requant::mixed_model(&bytes)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    println!("{}", file.display());
}
