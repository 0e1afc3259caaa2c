//! The model on burn, on both devices: against a naive f64 implementation on tiny random
//! models, and against the llama.cpp f32 references on the real SmolLM2.

mod common;

use std::sync::Arc;

use aisle::device::{self, DeviceKind};
use aisle::gguf::Gguf;
use aisle::model::{ForwardPath, Llama, ModelError};
use aisle::{Engine, GenerateOptions, Generation, LoadOptions, Message, SamplerConfig};
use burn::tensor::Device;
use common::*;

/// The wgpu device, if there is one. `make test` installs lavapipe and sets
/// `AISLE_REQUIRE_GPU=1`, so a missing adapter fails there; elsewhere it is skipped loudly.
fn gpu() -> Option<Device> {
    match pollster::block_on(device::open(DeviceKind::Gpu)) {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("AISLE_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("a wgpu adapter is required: {e}");
            }
            eprintln!("\n*** SKIPPED on gpu: {e} ***\n");
            None
        }
    }
}

/// Every (device, forward path) combination: our kernels on the CPU and on the GPU, and the
/// burn-ops reference on both (built with the `reference` feature, which `make test` enables).
fn setups() -> Vec<(&'static str, Device, ForwardPath)> {
    let mut out = vec![("cpu/kernels", Device::flex(), ForwardPath::CpuKernels)];
    if cfg!(feature = "reference") {
        out.push(("cpu/burn-ops", Device::flex(), ForwardPath::BurnOps));
    } else {
        eprintln!("\n*** SKIPPED the burn-ops reference: built without the `reference` feature ***\n");
    }
    if let Some(d) = gpu() {
        out.push(("gpu/kernels", d.clone(), ForwardPath::Kernels));
        if cfg!(feature = "reference") {
            out.push(("gpu/burn-ops", d, ForwardPath::BurnOps));
        }
    }
    out
}

/// The devices the product runs on, each with the path it picks by itself.
fn devices() -> Vec<(&'static str, Device)> {
    let mut out = vec![("cpu", pollster::block_on(device::open(DeviceKind::Cpu)).unwrap())];
    match pollster::block_on(device::open(DeviceKind::Gpu)) {
        Ok(d) => out.push(("gpu", d)),
        Err(e) => {
            if std::env::var("AISLE_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("a wgpu adapter is required: {e}");
            }
            eprintln!("\n*** SKIPPED on gpu: {e} ***\n");
        }
    }
    out
}

fn logits(model: &Llama, tokens: &[u32], cache: &mut aisle::model::KvCache) -> Vec<f32> {
    pollster::block_on(model.forward(tokens, cache).unwrap().into_host()).unwrap()
}

/// Tolerance against the f64 reference: f32 accumulation over at most a few hundred terms of
/// weights ~0.1 gives errors around 1e-5 relative; logits here are O(1), so 2e-3 leaves room
/// for the GPU's different summation order without hiding a real bug (those are >= 0.1).
const TINY_TOL: f32 = 2e-3;

/// With 8-bit activations (`LoadOptions::int8_decode`) the CPU path's decode rounds them as
/// llama.cpp does: about 1e-2 here; a real bug (a wrong position, head or cache row) is still
/// ≥ 0.1.
const INT8_TOL: f32 = 5e-2;

/// The CPU path's opt-in 8-bit decode, where the processor has it: each decode step within
/// [`INT8_TOL`] of the naive model, and prefill (never rounded) within the f32 tolerance.
#[test]
fn tiny_model_with_8_bit_decode_stays_close_to_the_naive_reference() {
    let bytes = tiny_model(TinyConfig::default(), 7);
    let tokens: Vec<u32> = vec![1, 40, 41, 42, 7, 90, 3, 3, 60, 2, 5, 33];
    let want = naive_logits(&bytes, &tokens);
    let g = Gguf::parse(&bytes).unwrap();
    let mut model = Llama::load_with(&g, &bytes, &Device::flex(), 64, Some(ForwardPath::CpuKernels)).unwrap();
    if !model.set_int8_decode(true) {
        eprintln!("\n*** SKIPPED 8-bit decode: this processor has no AVX2 + FMA ***\n");
        return;
    }
    let decode = |model: &Llama| -> Vec<Vec<f32>> {
        let mut cache = model.new_cache();
        tokens.iter().map(|&t| logits(model, &[t], &mut cache)).collect()
    };
    let rounded = decode(&model);
    for (i, got) in rounded.iter().enumerate() {
        let d = max_abs_diff(got, &want[i]);
        assert!(d < INT8_TOL, "8-bit decode position {i}: max |diff| {d}");
    }
    // It does round: f32 decode gives other logits.
    model.set_int8_decode(false);
    let exact = decode(&model);
    let moved = rounded.iter().zip(&exact).map(|(a, b)| max_abs_diff(a, b)).fold(0f32, f32::max);
    assert!(moved > 1e-4, "8-bit decode gave the f32 logits (max |diff| {moved})");
    model.set_int8_decode(true);
    let mut cache = model.new_cache();
    let d = max_abs_diff(&logits(&model, &tokens, &mut cache), want.last().unwrap());
    assert!(d < TINY_TOL, "prefill stays f32: max |diff| {d}");
}

#[test]
fn tiny_model_matches_naive_reference_token_by_token_and_in_prefill() {
    let bytes = tiny_model(TinyConfig::default(), 7);
    let tokens: Vec<u32> = vec![1, 40, 41, 42, 7, 90, 3, 3, 60, 2, 5, 33];
    let want = naive_logits(&bytes, &tokens);
    let g = Gguf::parse(&bytes).unwrap();
    for (name, dev, path) in setups() {
        let model = Llama::load_with(&g, &bytes, &dev, 64, Some(path)).unwrap();
        assert_eq!(model.path(), path);
        // One token at a time (the decode path).
        let mut cache = model.new_cache();
        for (i, &t) in tokens.iter().enumerate() {
            let got = logits(&model, &[t], &mut cache);
            let d = max_abs_diff(&got, &want[i]);
            assert!(d < TINY_TOL, "{name}: decode position {i}: max |diff| {d}");
        }
        // The whole prompt at once (prefill with a causal mask).
        let mut cache = model.new_cache();
        let got = logits(&model, &tokens, &mut cache);
        let d = max_abs_diff(&got, want.last().unwrap());
        assert!(d < TINY_TOL, "{name}: prefill: max |diff| {d}");
        // Prefill in two chunks, then a decode step: the mask must account for the offset.
        let mut cache = model.new_cache();
        let _ = logits(&model, &tokens[..5], &mut cache);
        let got = logits(&model, &tokens[5..11], &mut cache);
        assert!(max_abs_diff(&got, &want[10]) < TINY_TOL, "{name}: chunked prefill");
        let got = logits(&model, &tokens[11..], &mut cache);
        assert!(max_abs_diff(&got, &want[11]) < TINY_TOL, "{name}: decode after chunked prefill");
        assert_eq!(cache.len(), tokens.len());
    }
}

#[test]
fn tiny_model_variants_untied_head_and_other_gqa() {
    let cfgs = [
        TinyConfig { tied: false, ..Default::default() },
        TinyConfig { n_heads: 8, n_kv_heads: 8, n_embd: 128, ..Default::default() },
        TinyConfig { n_heads: 6, n_kv_heads: 2, n_embd: 96, n_layers: 3, rope_base: 100000.0, ..Default::default() },
        TinyConfig { arch: "qwen2", pre: "qwen2", rope_base: 1_000_000.0, ..Default::default() },
        TinyConfig { pre: "llama-bpe", rope_freqs: true, tied: false, ..Default::default() },
        TinyConfig { mixed_types: true, n_embd: 256, n_ff: 512, ..Default::default() },
    ];
    for (k, cfg) in cfgs.into_iter().enumerate() {
        let bytes = tiny_model(cfg, 100 + k as u64);
        let tokens: Vec<u32> = vec![1, 10, 20, 30, 40, 50, 2];
        let want = naive_logits(&bytes, &tokens);
        let g = Gguf::parse(&bytes).unwrap();
        for (name, dev, path) in setups() {
            let model = match Llama::load_with(&g, &bytes, &dev, 32, Some(path)) {
                Ok(m) => m,
                Err(ModelError::Unsupported(why)) if path == ForwardPath::Kernels && cfg.arch == "qwen2" => {
                    // The GPU kernels have no biases: the automatic choice runs the CPU kernels.
                    assert!(why.contains("bias"), "{why}");
                    let auto = Llama::load(&g, &bytes, &dev, 32).unwrap();
                    assert_eq!(auto.path(), ForwardPath::CpuKernels);
                    continue;
                }
                Err(e) => panic!("{name} config {k}: {e}"),
            };
            let mut cache = model.new_cache();
            let got = logits(&model, &tokens, &mut cache);
            let d = max_abs_diff(&got, want.last().unwrap());
            assert!(d < TINY_TOL, "{name} config {k} {cfg:?}: max |diff| {d}");
        }
    }
}

/// Our test quantizers (round to nearest) round-trip within about half a step of each format.
#[test]
fn test_quantizers_round_trip() {
    use aisle::quant::{GgmlType::*, dequantize_to_vec};
    let mut rng = aisle::sampler::Rng::new(21);
    let x: Vec<f32> = (0..4096).map(|_| 0.2 * (rng.next_f32() - 0.5) + 0.01).collect();
    // Levels per block: relative to the block's range (K-quants lose a little to 6-bit scales).
    for (ty, rel) in [(Q5_0, 0.04), (Q5_1, 0.02), (Q8_0, 0.005), (Q4_K, 0.06), (Q6_K, 0.02)] {
        let back = dequantize_to_vec(ty, &requant::quantize(ty, &x), x.len()).unwrap();
        let worst = x.iter().zip(&back).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst <= rel * 0.2, "{ty:?}: worst error {worst}");
    }
}

/// The real SmolLM2 requantized into a llama.cpp-style mix (Q5_0, Q5_1, Q8_0, Q4_K, Q6_K; query
/// and key of one type, value of another; gate and up of different types) runs on the
/// quantized paths by itself, and every path computes the burn-ops reference's first logits.
#[cfg(feature = "reference")]
#[test]
fn real_model_in_a_k_quant_mix_agrees_across_paths() {
    let Some(bytes) = model_bytes() else { return };
    let mixed = requant::mixed_model(&bytes);
    let g = Gguf::parse(&mixed).unwrap();
    let r = &references()[0];
    let reference = Llama::load_with(&g, &mixed, &Device::flex(), 256, Some(ForwardPath::BurnOps)).unwrap();
    let want = logits(&reference, &r.prompt_ids, &mut reference.new_cache());
    for (name, dev, path) in setups() {
        if name == "cpu/burn-ops" {
            continue;
        }
        let model = Llama::load_with(&g, &mixed, &dev, 256, Some(path)).unwrap();
        let got = logits(&model, &r.prompt_ids, &mut model.new_cache());
        let d = max_abs_diff(&got, &want);
        assert!(d <= F32_TOL, "{name}: max |diff| {d} against burn ops on the same file");
        assert_eq!(aisle::sampler::argmax(&got), aisle::sampler::argmax(&want), "{name}: first token");
    }
    for (name, dev) in devices() {
        let auto = Llama::load(&g, &mixed, &dev, 64).unwrap().path();
        assert_ne!(auto, ForwardPath::BurnOps, "{name}: the mix runs on the quantized path");
    }
}

/// A llama.cpp-style mix of block types (K-quants, Q5_x, and query/key/value of two types)
/// runs on the quantized paths by itself, not on the f32 burn-ops fallback.
#[test]
fn mixed_block_types_choose_the_quantized_paths() {
    let bytes = tiny_model(TinyConfig { mixed_types: true, n_embd: 256, n_ff: 512, ..Default::default() }, 9);
    let g = Gguf::parse(&bytes).unwrap();
    for (name, dev) in devices() {
        let model = Llama::load(&g, &bytes, &dev, 32).unwrap();
        let want = if name == "gpu" { ForwardPath::Kernels } else { ForwardPath::CpuKernels };
        assert_eq!(model.path(), want, "{name}");
        // Weights stay at the file's size (Q5_0's 22-byte blocks widen to 24 on the GPU).
        let file: u64 = g.tensors.iter().map(|t| t.n_bytes).sum();
        let ratio = model.weight_bytes() as f64 / file as f64;
        assert!(ratio < 1.1, "{name}: weights {} bytes for {file} in the file", model.weight_bytes());
    }
}

#[test]
fn context_limits_and_bad_tokens_are_errors() {
    let bytes = tiny_model(TinyConfig::default(), 1);
    let g = Gguf::parse(&bytes).unwrap();
    let dev = Device::flex();
    let model = Llama::load(&g, &bytes, &dev, 8).unwrap();
    let mut cache = model.new_cache();
    assert!(matches!(model.forward(&[1; 9], &mut cache), Err(ModelError::ContextFull { needed: 9, capacity: 8 })));
    assert!(matches!(model.forward(&[], &mut cache), Err(ModelError::EmptyInput)));
    assert!(matches!(model.forward(&[96], &mut cache), Err(ModelError::BadToken(96))));
    assert_eq!(cache.len(), 0, "a refused call leaves the cache untouched");
    // A session's context is capped at the model's.
    assert_eq!(Llama::load(&g, &bytes, &dev, 1 << 20).unwrap().max_context(), 128);
}

#[test]
fn missing_metadata_or_unknown_architecture_is_named() {
    let bytes = tiny_model(TinyConfig::default(), 3);
    let g = Gguf::parse(&bytes).unwrap();
    let rebuild = |skip: &str, arch: Option<&str>| {
        let mut w = GgufWriter::default();
        for (k, v) in &g.metadata {
            match (k.as_str(), arch) {
                (k, _) if k == skip => {}
                ("general.architecture", Some(a)) => {
                    w.kv(k, aisle::gguf::Value::String(a.into()));
                }
                _ => {
                    w.kv(k, v.clone());
                }
            }
        }
        for t in &g.tensors {
            w.tensor(&t.name, &t.dims, t.ggml_type.id(), g.tensor_bytes(&bytes, t).unwrap().to_vec());
        }
        w.to_bytes()
    };
    let b = rebuild("llama.embedding_length", None);
    let err = Llama::load(&Gguf::parse(&b).unwrap(), &b, &Device::flex(), 16).err().expect("must fail");
    assert!(err.to_string().contains("\"llama.embedding_length\" is missing"), "{err}");
    let b = rebuild("", Some("gpt2"));
    let err = Llama::load(&Gguf::parse(&b).unwrap(), &b, &Device::flex(), 16).err().expect("must fail");
    assert!(err.to_string().contains("unsupported architecture \"gpt2\""), "{err}");
    let b = rebuild("tokenizer.ggml.tokens", None);
    let err = aisle::Engine::load(&b, &Device::flex(), &LoadOptions::default()).err().expect("must fail");
    assert!(err.to_string().contains("tokenizer.ggml.tokens"), "{err}");
}

#[test]
fn missing_tensor_or_wrong_shape_is_named() {
    let mut w = GgufWriter::default();
    let bytes = tiny_model(TinyConfig::default(), 3);
    let g = Gguf::parse(&bytes).unwrap();
    // Rebuild the file without blk.1.ffn_up.weight.
    for (k, v) in &g.metadata {
        w.kv(k, v.clone());
    }
    for t in &g.tensors {
        if t.name != "blk.1.ffn_up.weight" {
            w.tensor(&t.name, &t.dims, t.ggml_type.id(), g.tensor_bytes(&bytes, t).unwrap().to_vec());
        }
    }
    let b2 = w.to_bytes();
    let g2 = Gguf::parse(&b2).unwrap();
    let err = Llama::load(&g2, &b2, &Device::flex(), 16).err().expect("must fail");
    assert!(err.to_string().contains("blk.1.ffn_up.weight"), "{err}");
}

// ------------------------------------------------------------------------ the real SmolLM2

struct Reference {
    id: String,
    messages: Vec<Message>,
    prompt_ids: Vec<u32>,
    gen_ids: Vec<u32>,
    margins: Vec<f64>,
}

fn references() -> Vec<Reference> {
    let g = read_json("f32/greedy.json");
    g["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Reference {
            id: p["id"].as_str().unwrap().to_string(),
            messages: serde_json::from_value(p["messages"].clone()).unwrap(),
            prompt_ids: ids(&p["prompt_ids"]),
            gen_ids: ids(&p["gen_ids"]),
            margins: p["steps"].as_array().unwrap().iter().map(|s| s["margin"].as_f64().unwrap()).collect(),
        })
        .collect()
}

/// llama.cpp's f32 oracle keeps K and V in f16; an f32 implementation measured 0.012 from it
/// (tests/reference/README.md). 0.03 leaves room for summation order on a GPU; a real bug
/// (RoPE pairing, epsilon, GQA mapping, Q4_1 min term) moves logits by 0.1 or more.
const F32_TOL: f32 = 0.03;

fn top5_values(v: &[f32]) -> Vec<f32> {
    let mut s = v.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    s.truncate(5);
    s
}

#[test]
fn real_model_first_logits_match_f32_reference_on_both_devices() {
    let Some(bytes) = model_bytes() else { return };
    let g = Gguf::parse(&bytes).unwrap();
    for (name, dev) in devices() {
        let model = Llama::load(&g, &bytes, &dev, 512).unwrap();
        eprintln!("{name}: forward path {:?}", model.path());
        let mut worst = 0f32;
        for r in references() {
            let mut cache = model.new_cache();
            let got = logits(&model, &r.prompt_ids, &mut cache);
            let want = read_f32_file(&format!("f32/{}.f32", r.id));
            let d = max_abs_diff(&got, &want);
            worst = worst.max(d);
            assert!(d <= F32_TOL, "{name} {}: max |diff| {d} > {F32_TOL}", r.id);
            assert_eq!(aisle::sampler::argmax(&got), Some(r.gen_ids[0]), "{name} {}: first token", r.id);
            for (a, b) in top5_values(&got).iter().zip(top5_values(&want)) {
                assert!((a - b).abs() <= F32_TOL, "{name} {}: top-5 values {a} vs {b}", r.id);
            }
            // Loosely against llama.cpp's own Q4_1 arithmetic (8-bit activations): README bounds.
            let q = read_f32_file(&format!("q4_1/{}.f32", r.id));
            let rms = (got.iter().zip(&q).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / q.len() as f64).sqrt();
            assert!(max_abs_diff(&got, &q) <= 1.5 && rms <= 0.4, "{name} {}: far from q4_1 oracle", r.id);
        }
        eprintln!("{name}: worst first-position max |diff| vs f32 reference: {worst:.4}");
    }
}

#[test]
fn real_model_greedy_matches_f32_reference_on_both_devices() {
    let Some(bytes) = model_bytes() else { return };
    for (name, dev) in devices() {
        let engine =
            Arc::new(Engine::load(&bytes, &dev, &LoadOptions { max_context: 512, ..LoadOptions::default() }).unwrap());
        let mut agree = 0;
        let mut report = Vec::new();
        for r in references() {
            // Compare up to the oracle's first near-tie (margin < 0.05), at most 32 tokens.
            let horizon = r.margins.iter().position(|&m| m < 0.05).unwrap_or(64).min(32);
            let prompt = engine.chat_tokens(&r.messages).unwrap();
            assert_eq!(prompt, r.prompt_ids, "{}: prompt ids", r.id);
            let options = GenerateOptions { max_tokens: horizon, sampler: SamplerConfig::greedy(), stop_at_eog: false };
            let mut generation = Generation::new(engine.clone(), prompt, options).unwrap();
            while pollster::block_on(generation.next()).unwrap().is_some() {}
            let got = generation.generated_tokens().to_vec();
            let same = got[..] == r.gen_ids[..horizon];
            agree += same as usize;
            report.push(format!(
                "{}: {}/{} {}",
                r.id,
                got.iter().zip(&r.gen_ids).take_while(|(a, b)| a == b).count(),
                horizon,
                if same { "ok" } else { "DIFFERS" }
            ));
        }
        eprintln!("{name}: greedy agreement with f32 reference:\n  {}", report.join("\n  "));
        assert!(agree >= 7, "{name}: only {agree}/8 chats agree: {report:?}");
    }
}

/// A prompt that starts as the last one did runs only what is new (the same system prompt, a
/// chat grown by a turn), and its logits are those of running it whole.
#[test]
fn a_shared_prompt_start_is_reused_not_run_again() {
    use aisle::generate::Decoder;
    let Some(bytes) = model_bytes() else { return };
    for (name, dev) in devices() {
        let engine =
            Arc::new(Engine::load(&bytes, &dev, &LoadOptions { max_context: 512, ..LoadOptions::default() }).unwrap());
        let chat = |user: &str| {
            let m =
                [Message::new("system", "You are the shopping assistant of Northwind."), Message::new("user", user)];
            engine.chat_tokens(&m).unwrap()
        };
        let (a, b) = (chat("a cozy blanket"), chat("headphones for the gym"));
        let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        assert!(shared > 10 && shared < b.len(), "{name}: {shared}");

        let cold = |prompt: &[u32]| {
            let mut d = Decoder::cold(engine.clone(), prompt.to_vec()).unwrap();
            let v = pollster::block_on(d.logits()).unwrap();
            assert_eq!((d.reused(), d.tokens_run()), (0, prompt.len()));
            v
        };
        let want = cold(&b);
        // The first prompt (the cache holds b: their shared start is reused), then greedy
        // tokens; the next turn of that chat reuses its prompt and the generated tokens that ran.
        let mut d = Decoder::new(engine.clone(), a.clone()).unwrap();
        assert_eq!(d.reused(), shared, "{name}");
        for _ in 0..3 {
            let t = pollster::block_on(d.argmax()).unwrap();
            d.push(&[t]);
        }
        let next_turn = [d.history(), &[a[0]]].concat();
        drop(d);
        let mut d = Decoder::new(engine.clone(), next_turn).unwrap();
        assert_eq!(d.reused(), a.len() + 2, "{name}: the prompt and the two generated tokens that ran");
        pollster::block_on(d.logits()).unwrap();
        drop(d);
        // b again: only what it does not share with that chat runs, and its logits are those
        // of running it whole.
        let mut d = Decoder::new(engine.clone(), b.clone()).unwrap();
        let got = pollster::block_on(d.logits()).unwrap();
        assert_eq!(d.reused(), shared, "{name}: the shared start is reused");
        assert_eq!(d.tokens_run(), b.len() - shared, "{name}: only the rest runs");
        let diff = max_abs_diff(&got, &want);
        assert!(diff <= TINY_TOL, "{name}: reused logits differ from a cold run by {diff}");
        drop(d);
        // A prompt equal to the last one still runs its last token (its logits are needed).
        let mut d = Decoder::new(engine.clone(), b.clone()).unwrap();
        pollster::block_on(d.logits()).unwrap();
        assert_eq!((d.reused(), d.tokens_run()), (b.len() - 1, 1), "{name}");
    }
}

/// A chat longer than the session is trimmed by the documented policy (system kept, oldest
/// turns dropped, then the newest message's beginning cut), never refused or crashed; the
/// reply budget is clamped to the room left.
#[test]
fn long_chats_are_trimmed_keeping_system_and_newest_turns() {
    let Some(bytes) = model_bytes() else { return };
    let engine = Arc::new(
        Engine::load(&bytes, &Device::flex(), &LoadOptions { max_context: 256, ..LoadOptions::default() }).unwrap(),
    );
    let text = |ids: &[u32]| engine.tokenizer.decode(ids).unwrap();
    let system = Message::new("system", "You are the SYSTEM-MARKER shop assistant.");
    let mut chat = vec![system.clone()];
    for i in 0..40 {
        chat.push(Message::new("user", &format!("Question {i}: do you sell red mugs in size {i}?")));
        chat.push(Message::new("assistant", &format!("Answer {i}: yes, we have red mugs.")));
    }
    chat.push(Message::new("user", "NEWEST: which mug is cheapest?"));
    let f = engine.fit_chat(&chat, 64).unwrap();
    let prompt = text(&f.prompt);
    assert!(f.prompt.len() + f.max_reply <= 256, "{} + {}", f.prompt.len(), f.max_reply);
    assert_eq!(f.max_reply, 64);
    assert!(f.dropped > 0 && !f.cut);
    assert!(prompt.contains("SYSTEM-MARKER") && prompt.contains("NEWEST: which mug is cheapest?"), "{prompt}");
    assert!(!prompt.contains("Question 0:"), "the oldest turn must go first");
    assert!(prompt.contains("Answer 39:"), "the newest turns stay");
    // The fewest messages dropped: one more would have fitted otherwise.
    let mut kept = vec![system.clone()];
    kept.extend_from_slice(&chat[f.dropped..]);
    assert!(engine.chat_tokens(&kept).unwrap().len() > 256 - 64);

    // One enormous message: its beginning is cut, its end (the question) kept.
    let paste = format!("{} FINAL QUESTION: is it dishwasher safe?", "lorem ipsum dolor ".repeat(400));
    let f = engine.fit_chat(&[system.clone(), Message::new("user", &paste)], 10_000).unwrap();
    assert!(f.cut && f.max_reply == 128, "reply capped at half the session: {}", f.max_reply);
    assert!(f.prompt.len() <= 128);
    assert!(text(&f.prompt).contains("FINAL QUESTION: is it dishwasher safe?"));
    // And it generates within the session.
    let options = GenerateOptions { max_tokens: f.max_reply, sampler: SamplerConfig::greedy(), stop_at_eog: false };
    let mut g = Generation::new(engine.clone(), f.prompt, options).unwrap();
    while pollster::block_on(g.next()).unwrap().is_some() {}
    assert!(g.generated_tokens().len() <= 128);

    // A short chat asking for more reply than there is room: the reply is clamped.
    let f = engine.fit_chat(&[Message::new("user", "Hi")], 100_000).unwrap();
    assert_eq!(f.dropped, 0);
    assert_eq!(f.prompt.len() + f.max_reply, 256);
    // System messages that alone overflow the session: a clear error, not a crash.
    let huge = Message::new("system", &"rules ".repeat(2000));
    let err = engine.fit_chat(&[huge, Message::new("user", "Hi")], 16).unwrap_err();
    assert!(err.to_string().contains("tokens but the session holds only"), "{err}");
}
