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
    let l = model.forward(&prompt, &mut cache).unwrap();
    let id = l.argmax(1).into_scalar::<i32>();
    println!("prefill 45: {:?} -> {id}", t.elapsed());
    for i in 0..12 {
        let t = Instant::now();
        let l = model.forward(&[id as u32], &mut cache).unwrap();
        let id2 = l.argmax(1).into_scalar::<i32>();
        println!("step {i}: {:?} -> {id2}", t.elapsed());
    }
}
