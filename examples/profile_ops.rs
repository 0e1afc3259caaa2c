//! Times single burn ops on a device.
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;

fn time<F: FnMut() -> Tensor<2>>(name: &str, dev: &burn::tensor::Device, mut f: F) {
    let _ = f().into_data();
    let n = 20;
    let t = Instant::now();
    let mut last = None;
    for _ in 0..n {
        last = Some(f());
    }
    let _ = last.unwrap().into_data();
    let _ = dev.sync();
    println!("{name}: {:.3} ms", t.elapsed().as_secs_f64() * 1e3 / n as f64);
}

fn main() {
    let dev = std::env::args().nth(1).unwrap_or("gpu".into());
    let device = pollster::block_on(aisle::device::open(dev.parse().unwrap())).unwrap();
    let x = Tensor::<2>::random([1, 576], Distribution::Default, &device);
    let w = Tensor::<2>::random([576, 1536], Distribution::Default, &device);
    let head = Tensor::<2>::random([576, 49152], Distribution::Default, &device);
    let x45 = Tensor::<2>::random([45, 576], Distribution::Default, &device);
    time("matmul 1x576 @ 576x1536", &device, || x.clone().matmul(w.clone()));
    time("matmul 45x576 @ 576x1536", &device, || x45.clone().matmul(w.clone()));
    time("matmul 1x576 @ 576x49152", &device, || x.clone().matmul(head.clone()));
    time("add 1x576", &device, || x.clone() + x.clone());
    time("mul 45x576", &device, || x45.clone() * x45.clone());
    time("silu 45x576", &device, || burn::tensor::activation::silu(x45.clone()));
    time("mean_dim", &device, || x45.clone().square().mean_dim(1));
}
