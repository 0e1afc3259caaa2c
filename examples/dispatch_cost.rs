//! Cost of many small kernel launches on the wgpu device.
use aisle::kernels::{self, rms_norm::rms_norm};
use burn::tensor::Tensor;
use std::time::Instant;
fn main() {
    let device = pollster::block_on(aisle::device::open(aisle::device::DeviceKind::Gpu)).unwrap();
    let a = kernels::to_cube(Tensor::<1>::zeros([1], &device));
    let x = kernels::upload_f32(&a, &vec![0.5; 576], [1, 576]);
    let w = kernels::upload_f32(&a, &vec![1.0; 576], [576]);
    for n in [1usize, 10, 100, 240, 500] {
        let t = Instant::now();
        let mut y = x.clone();
        for _ in 0..n {
            y = rms_norm(&y, &w, 1, 1e-5);
        }
        let _ = kernels::from_cube::<2>(y).into_data();
        println!(
            "{n} launches: {:.3} ms ({:.3} ms each)",
            t.elapsed().as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    }
}
