//! Times our kernels on the wgpu device at SmolLM2's shapes: each launch gets fresh input and is
//! followed by a readback, median of 7.
use std::time::Instant;

use aisle::kernels::{
    self,
    attention::attention,
    gemv::{QMatrix, gemv, gemv_swiglu, pack},
    rms_norm::rms_norm,
    rope_kv::{HeadLayout, RopeTables, rope_kv},
};
use aisle::quant::GgmlType;
use burn::tensor::Tensor;
use burn_cubecl::tensor::CubeTensor;

fn median_ms(mut f: impl FnMut(usize) -> CubeTensor) -> f64 {
    let mut v: Vec<f64> = (0..7)
        .map(|i| {
            let t = Instant::now();
            let o = f(i);
            let d = kernels::from_cube::<1>(o.clone()).into_data();
            assert!(!d.as_bytes().is_empty());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[3]
}

fn main() {
    let device = pollster::block_on(aisle::device::open(aisle::device::DeviceKind::Gpu)).unwrap();
    let a = kernels::to_cube(Tensor::<1>::zeros([1], &device));
    let mk = |rows: usize, cols: usize, ty: GgmlType| {
        let raw: Vec<u8> = (0..rows * cols / 32 * ty.type_size())
            .map(|i| (i * 7 % 251) as u8 & if i % 20 < 4 { 0x3F } else { 0xFF })
            .collect();
        let (format, words) = pack(ty, &raw, rows).unwrap();
        QMatrix { format, rows, cols, words: kernels::upload_u32(&a, &words) }
    };
    let flat = |c: CubeTensor| {
        let n = c.meta.shape().num_elements();
        CubeTensor::new_contiguous(c.client.clone(), c.device.clone(), [n].into(), c.handle.clone(), c.dtype)
    };
    for (rows, cols, ty, m) in [
        (1536, 576, GgmlType::Q4_1, 1),
        (576, 1536, GgmlType::Q4_1, 1),
        (960, 576, GgmlType::Q4_1, 1),
        (49152, 576, GgmlType::Q8_0, 1),
        (1536, 576, GgmlType::Q4_1, 64),
    ] {
        let w = mk(rows, cols, ty);
        let ms = median_ms(|i| {
            let x = kernels::upload_f32(&a, &vec![0.5 + i as f32; m * cols], [m, cols]);
            flat(gemv(&w, &x, m, None))
        });
        println!("gemv {ty:?} {rows}x{cols} m={m}: {ms:.3} ms");
    }
    let g = mk(1536, 576, GgmlType::Q4_1);
    println!(
        "swiglu 1536x576: {:.3} ms",
        median_ms(|i| {
            let x = kernels::upload_f32(&a, &vec![0.5 + i as f32; 576], [1, 576]);
            flat(gemv_swiglu(&g, &g, &x, 1))
        })
    );
    let w = kernels::upload_f32(&a, &vec![1.0; 576], [576]);
    println!(
        "rms_norm 576: {:.3} ms",
        median_ms(|i| {
            let x = kernels::upload_f32(&a, &vec![0.5 + i as f32; 576], [1, 576]);
            flat(rms_norm(&x, &w, 1, 1e-5))
        })
    );
    let l = HeadLayout { n_heads: 9, n_kv: 3, head_dim: 64, rope_dims: 64, half_split: false, capacity: 512 };
    let cos = kernels::upload_f32(&a, &vec![1.0; 512 * 32], [512, 32]);
    let kc = kernels::upload_f32(&a, &vec![0.1; 3 * 512 * 64], [3 * 512 * 64]);
    let vc = kernels::upload_f32(&a, &vec![0.1; 3 * 512 * 64], [3 * 512 * 64]);
    println!(
        "rope_kv: {:.3} ms",
        median_ms(|i| {
            let q = kernels::upload_f32(&a, &vec![0.5 + i as f32; 960], [1, 960]);
            rope_kv(&q, &RopeTables { cos: cos.clone(), sin: cos.clone() }, (&kc, &vc), l, 1, 100);
            flat(q)
        })
    );
    for pos in [10usize, 100, 400] {
        println!(
            "attention pos={pos}: {:.3} ms",
            median_ms(|i| {
                let q = kernels::upload_f32(&a, &vec![0.5 + i as f32; 960], [1, 960]);
                flat(attention(&q, &kc, &vc, l, 1, pos))
            })
        );
    }
    println!("upload+read only: {:.3} ms", median_ms(|i| kernels::upload_f32(&a, &vec![0.5 + i as f32; 960], [960])));
}
