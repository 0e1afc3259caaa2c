//! Times each decode step of the real model on a device, to see where time goes.
use std::time::Instant;

fn main() {
    let dev = std::env::args().nth(1).unwrap_or("gpu".into());
    let bytes = std::fs::read("models/SmolLM2-135M-Instruct.Q4_1.gguf").unwrap();
    let device = pollster::block_on(aisle::device::open(dev.parse().unwrap())).unwrap();
    let engine =
        aisle::Engine::load(&bytes, &device, &aisle::LoadOptions { max_context: 512, ..aisle::LoadOptions::default() })
            .unwrap();
    let model = &engine.model;
    let mut cache = model.new_cache();
    let prompt: Vec<u32> = (0..45).map(|i| 100 + i).collect();
    let t = Instant::now();
    let argmax = |l: aisle::model::Logits| aisle::sampler::argmax(&pollster::block_on(l.into_host()).unwrap()).unwrap();
    let l = model.forward(&prompt, &mut cache).unwrap();
    let id = argmax(l);
    println!("prefill 45: {:?} -> {id}", t.elapsed());
    for i in 0..12 {
        let t = Instant::now();
        let l = model.forward(&[id], &mut cache).unwrap();
        let id2 = argmax(l);
        println!("step {i}: {:?} -> {id2}", t.elapsed());
    }
}
