//! Every GPU kernel against its plain CPU reference, on random inputs of several shapes.

mod common;

use aisle::device::{self, DeviceKind};
use aisle::kernels::attention::attention;
use aisle::kernels::gemv::{QMatrix, gemv, gemv_reference, gemv_stacked, gemv_swiglu, pack};
use aisle::kernels::rms_norm::rms_norm;
use aisle::kernels::rope_kv::{HeadLayout, RopeTables, rope_kv};
use aisle::kernels::{self, argmax::argmax, embed::embed};
use aisle::model::cpu::ops;
use aisle::quant::{self, GgmlType};
use aisle::sampler::Rng;
use burn::tensor::{DType, Device, Tensor};
use burn_cubecl::tensor::CubeTensor;
use common::*;

/// The wgpu device, or `None` (loudly) where there is none; `make test` requires one.
fn gpu() -> Option<Device> {
    match pollster::block_on(device::open(DeviceKind::Gpu)) {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("AISLE_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("a wgpu adapter is required: {e}");
            }
            eprintln!("\n*** SKIPPED: no wgpu adapter: {e} ***\n");
            None
        }
    }
}

/// Any buffer of the device, to create others beside it.
fn anchor(dev: &Device) -> CubeTensor {
    kernels::to_cube(Tensor::<1>::zeros([1], dev))
}

fn read_f32(c: &CubeTensor) -> Vec<f32> {
    kernels::from_cube::<1>(reshape_1d(c)).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn reshape_1d(c: &CubeTensor) -> CubeTensor {
    let n = c.meta.shape().num_elements();
    CubeTensor::new_contiguous(c.client.clone(), c.device.clone(), [n].into(), c.handle.clone(), c.dtype)
}

fn qmatrix(anchor: &CubeTensor, ty: GgmlType, raw: &[u8], rows: usize, cols: usize) -> QMatrix {
    let (format, words) = pack(ty, raw, rows).unwrap();
    QMatrix { format, rows, cols, words: kernels::upload_u32(anchor, &words) }
}

#[test]
fn gemv_matches_reference_for_each_format_shape_and_mode() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(11);
    for (ty, shapes) in formats_and_shapes() {
        for (rows, cols, m) in shapes {
            let raw = random_blocks(&mut rng, ty, rows * cols);
            let x = random_vec(&mut rng, m * cols, 1.0);
            let want = gemv_reference(ty, &raw, rows, cols, &x);
            let w = qmatrix(&a, ty, &raw, rows, cols);
            let xc = kernels::upload_f32(&a, &x, [m, cols]);
            let got = read_f32(&gemv(&w, &xc, m, None));
            assert_close(&got, &want, 1e-4, &format!("{ty:?} {rows}x{cols} m={m}"));
            // With a residual: adds into it in place.
            let res = random_vec(&mut rng, m * rows, 2.0);
            let rc = kernels::upload_f32(&a, &res, [m, rows]);
            let got = read_f32(&gemv(&w, &xc, m, Some(rc)));
            let want_res: Vec<f32> = want.iter().zip(&res).map(|(a, b)| a + b).collect();
            assert_close(&got, &want_res, 1e-4, &format!("{ty:?} {rows}x{cols} m={m} residual"));
        }
    }
}

#[test]
fn gemv_swiglu_matches_reference() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(12);
    // Gate and up in the same format, and in different ones (a file may mix them).
    use GgmlType::*;
    for (g_ty, u_ty, shapes) in [(Q4_1, Q4_1, SHAPES), (Q8_0, Q5_1, SHAPES), (Q4_K, Q6_K, formats_and_shapes()[5].1)] {
        for (rows, cols, m) in shapes {
            let g_raw = random_blocks(&mut rng, g_ty, rows * cols);
            let u_raw = random_blocks(&mut rng, u_ty, rows * cols);
            let x = random_vec(&mut rng, m * cols, 1.0);
            let g = gemv_reference(g_ty, &g_raw, rows, cols, &x);
            let u = gemv_reference(u_ty, &u_raw, rows, cols, &x);
            let want: Vec<f32> = g.iter().zip(&u).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            let xc = kernels::upload_f32(&a, &x, [m, cols]);
            let got = read_f32(&gemv_swiglu(
                &qmatrix(&a, g_ty, &g_raw, rows, cols),
                &qmatrix(&a, u_ty, &u_raw, rows, cols),
                &xc,
                m,
            ));
            assert_close(&got, &want, 1e-4, &format!("swiglu {g_ty:?}/{u_ty:?} {rows}x{cols} m={m}"));
        }
    }
}

/// Matrices of different formats stacked by rows write one output, each at its row offset.
#[test]
fn gemv_stacked_parts_of_different_formats() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(17);
    let cols = 512;
    for m in [1usize, 5] {
        let parts = [(GgmlType::Q4_K, 64), (GgmlType::Q6_K, 32), (GgmlType::Q8_0, 16)];
        let x = random_vec(&mut rng, m * cols, 1.0);
        let mut mats = Vec::new();
        let mut want = vec![Vec::new(); m];
        for (ty, rows) in parts {
            let raw = random_blocks(&mut rng, ty, rows * cols);
            let r = gemv_reference(ty, &raw, rows, cols, &x);
            for (t, w) in want.iter_mut().enumerate() {
                w.extend_from_slice(&r[t * rows..(t + 1) * rows]);
            }
            mats.push(qmatrix(&a, ty, &raw, rows, cols));
        }
        let got = read_f32(&gemv_stacked(&mats, &kernels::upload_f32(&a, &x, [m, cols]), m));
        assert_close(&got, &want.concat(), 1e-4, &format!("stacked m={m}"));
    }
}

#[test]
fn f16_scales_decode_exactly_including_subnormals() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    // Q4_1 blocks whose d and m run through zero, subnormals, tiny, ordinary and huge halves;
    // all nibbles 1 and x = e_0 make the output exactly d + m.
    let halves: [u16; 10] = [0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0x3555, 0x1234];
    let rows = halves.len();
    let mut raw = Vec::new();
    for (i, &d) in halves.iter().enumerate() {
        raw.extend_from_slice(&d.to_le_bytes());
        raw.extend_from_slice(&halves[(i + 3) % rows].to_le_bytes());
        raw.extend_from_slice(&[0x11u8; 16]);
    }
    let mut x = vec![0f32; 32];
    x[0] = 1.0;
    let got =
        read_f32(&gemv(&qmatrix(&a, GgmlType::Q4_1, &raw, rows, 32), &kernels::upload_f32(&a, &x, [1, 32]), 1, None));
    let want = gemv_reference(GgmlType::Q4_1, &raw, rows, 32, &x);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.to_bits(), w.to_bits(), "got {g}, want {w}");
    }
}

#[test]
fn rms_norm_matches_reference() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(13);
    for (m, dim) in [(1, 576), (5, 64), (33, 96)] {
        let x = random_vec(&mut rng, m * dim, 3.0);
        let w = random_vec(&mut rng, dim, 1.5);
        let mut want = vec![0f32; m * dim];
        ops::rms_norm(&x, &w, 1e-5, &mut want);
        let got =
            read_f32(&rms_norm(&kernels::upload_f32(&a, &x, [m, dim]), &kernels::upload_f32(&a, &w, [dim]), m, 1e-5));
        assert_close(&got, &want, 1e-5, &format!("rms_norm {m}x{dim}"));
    }
}

fn layouts() -> Vec<HeadLayout> {
    let l = |n_heads, n_kv, head_dim, rope_dims, half_split| HeadLayout {
        n_heads,
        n_kv,
        head_dim,
        rope_dims,
        half_split,
        capacity: 40,
    };
    vec![l(9, 3, 64, 64, false), l(4, 4, 16, 16, true), l(6, 2, 32, 16, false), l(2, 1, 8, 8, true)]
}

fn rope_tables(rng: &mut Rng, positions: usize, half: usize) -> (Vec<f32>, Vec<f32>) {
    let angles = random_vec(rng, positions * half, 3.0);
    (angles.iter().map(|a| a.cos()).collect(), angles.iter().map(|a| a.sin()).collect())
}

#[test]
fn rope_kv_and_attention_match_the_cpu_path() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(14);
    for l in layouts() {
        let heads = ops::Heads { n_heads: l.n_heads, n_kv: l.n_kv, head_dim: l.head_dim };
        let width = heads.qkv_width();
        let half = l.rope_dims / 2;
        let (cos, sin) = rope_tables(&mut rng, l.capacity, half);
        let tables = RopeTables {
            cos: kernels::upload_f32(&a, &cos, [l.capacity, half]),
            sin: kernels::upload_f32(&a, &sin, [l.capacity, half]),
        };
        let cache_len = l.n_kv * l.capacity * l.head_dim;
        // [n_kv, capacity, hd] each, on both sides
        let (mut k_want, mut v_want) = (random_vec(&mut rng, cache_len, 1.0), random_vec(&mut rng, cache_len, 1.0));
        let kc = kernels::upload_f32(&a, &k_want, [cache_len]);
        let vc = kernels::upload_f32(&a, &v_want, [cache_len]);
        // A prefill of 5, then decode steps of 1, then a chunk of 3: positions carry over.
        let mut pos = 0;
        for m in [5usize, 1, 1, 3] {
            let mut want_qkv = random_vec(&mut rng, m * width, 1.5); // [m, (H+2KV)·hd]
            let qkv_c = kernels::upload_f32(&a, &want_qkv, [m, width]);
            rope_kv(&qkv_c, &tables, (&kc, &vc), l, m, pos);
            let caches = (&mut k_want[..], &mut v_want[..]);
            ops::rope_kv_write(&mut want_qkv, heads, &cos, &sin, half, l.half_split, caches, l.capacity, pos);
            let q_of = |rows: &[f32]| -> Vec<f32> {
                rows.chunks_exact(width).flat_map(|r| r[..l.n_heads * l.head_dim].to_vec()).collect()
            };
            assert_close(&q_of(&read_f32(&qkv_c)), &q_of(&want_qkv), 1e-5, &format!("{l:?}: rotated q at {pos}"));
            assert_close(&read_f32(&kc), &k_want, 1e-5, &format!("{l:?}: k cache"));
            assert_close(&read_f32(&vc), &v_want, 0.0, &format!("{l:?}: v cache"));
            let got = read_f32(&attention(&qkv_c, &kc, &vc, l, m, pos));
            let mut want = vec![0f32; m * l.n_heads * l.head_dim]; // [m, H·hd]
            let caches = (&k_want[..], &v_want[..]);
            ops::attention(&want_qkv, width, caches, heads, l.capacity, pos, m, &mut want);
            assert_close(&got, &want, 1e-4, &format!("{l:?}: attention m={m} pos={pos}"));
            pos += m;
        }
    }
}

#[test]
fn embed_matches_dequantized_rows() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(15);
    let vocab = 50;
    for (ty, shapes) in formats_and_shapes() {
        let cols = shapes[1].1; // 64 or 512
        let raw = random_blocks(&mut rng, ty, vocab * cols);
        let table = quant::dequantize_to_vec(ty, &raw, vocab * cols).unwrap();
        let ids: Vec<u32> = vec![0, 49, 7, 7, 23];
        let ids_c = kernels::upload_u32(&a, &ids);
        let got = read_f32(&embed(&qmatrix(&a, ty, &raw, vocab, cols), &ids_c, ids.len()));
        let want: Vec<f32> = ids.iter().flat_map(|&i| table[i as usize * cols..][..cols].to_vec()).collect();
        // Exact, except where the upload rewrote (q - k)·d as q·d + (-k·d) (Q4_0, Q5_0).
        let tol = if matches!(ty, GgmlType::Q4_0 | GgmlType::Q5_0) { 1e-6 } else { 0.0 };
        assert_close(&got, &want, tol, &format!("embed {ty:?}"));
    }
}

#[test]
fn argmax_matches_reference_with_ties_to_the_lowest_index() {
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(16);
    for n in [1usize, 5, 255, 256, 257, 1000, 49152] {
        let mut x = random_vec(&mut rng, n, 10.0);
        if n > 10 {
            // A tie between two maxima in different chunks.
            let top = x.iter().cloned().fold(f32::MIN, f32::max) + 1.0;
            x[n / 3] = top;
            x[n - 2] = top;
        }
        if n > 5 {
            // NaNs never win, the first logit among them (the rule host and device share).
            x[0] = f32::NAN;
            x[n / 2] = f32::NAN;
        }
        let c = kernels::upload_f32(&a, &x, [n]);
        let out = argmax(&c, n);
        let got = kernels::int_from_cube::<1>(out).into_data().convert::<u32>().try_into_vec::<u32>().unwrap()[0];
        assert_eq!(Some(got), aisle::sampler::argmax(&x), "n={n}");
    }
    // Every logit NaN: no token on the host, an index past the vocabulary on the device
    // (which the decoder turns into an error).
    let x = vec![f32::NAN; 300];
    let got = kernels::int_from_cube::<1>(argmax(&kernels::upload_f32(&a, &x, [300]), 300))
        .into_data()
        .convert::<u32>()
        .try_into_vec::<u32>()
        .unwrap()[0];
    assert!(got as usize >= 300 && aisle::sampler::argmax(&x).is_none(), "all NaN: device {got}");
    let _ = DType::F32;
}

fn read_u32(c: CubeTensor) -> Vec<u32> {
    kernels::int_from_cube::<1>(c).into_data().convert::<u32>().try_into_vec::<u32>().unwrap()
}

#[test]
fn topk_matches_sorted_reference_with_ties_and_nans() {
    use aisle::kernels::sample::topk;
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(18);
    for n in [1usize, 5, 300, 1000, 49152] {
        let mut x = random_vec(&mut rng, n, 8.0);
        if n > 100 {
            // Ties across chunks and within one, and NaNs (skipped, as on the host).
            let top = x.iter().cloned().fold(f32::MIN, f32::max);
            for i in [n / 2, 3, n - 1, 4] {
                x[i] = top;
            }
            x[n / 3] = f32::NAN;
            x[7] = f32::NAN;
        }
        let mut want: Vec<(u32, f32)> =
            x.iter().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, &v)| (i as u32, v)).collect();
        want.sort_by(|p, q| q.1.total_cmp(&p.1).then(p.0.cmp(&q.0)));
        for k in [1usize, 7, 40, 64] {
            let xc = kernels::upload_f32(&a, &x, [n]);
            let (vals, idx) = topk(&xc, n, k);
            let (got_v, got_i) = (read_f32(&vals), read_u32(idx));
            let m = k.min(want.len());
            let want_i: Vec<u32> = want[..m].iter().map(|p| p.0).collect();
            assert_eq!(&got_i[..m], &want_i[..], "n={n} k={k}");
            assert_eq!(&got_v[..m], &want[..m].iter().map(|p| p.1).collect::<Vec<_>>()[..], "n={n} k={k}");
            assert!(got_i[m..].iter().all(|&i| i == u32::MAX), "n={n} k={k}: unfilled slots");
        }
    }
}

/// The device's draw picks what the host sampler picks for the same uniform number, through
/// repetition penalty, top-k, temperature and top-p.
#[test]
fn device_sampling_matches_the_host_sampler() {
    use aisle::sampler::{Draw, Sampler, SamplerConfig};
    let Some(dev) = gpu() else { return };
    let a = anchor(&dev);
    let mut rng = Rng::new(19);
    let n = 2000;
    let logits = random_vec(&mut rng, n, 4.0);
    // A history with repeats and an id outside the vocabulary (ignored on both sides).
    let mut history: Vec<u32> = (0..90).map(|_| (rng.next_u64() % 60) as u32 * 31).collect();
    history.push(n as u32 + 5);
    let configs = [(0.8, 40, 1.0, 1.0), (1.3, 64, 0.9, 1.3), (0.5, 1, 1.0, 1.0), (2.0, 12, 0.5, 0.7)];
    for (temperature, top_k, top_p, repetition_penalty) in configs {
        let cfg = SamplerConfig { temperature, top_k, top_p, repetition_penalty, repeat_last_n: 64, seed: 3 };
        let mut sampler = Sampler::new(cfg.clone()).unwrap();
        for _ in 0..12 {
            let draw: Draw = sampler.plan(&history, 64).expect("samples on the device");
            let xc = kernels::upload_f32(&a, &logits, [n]);
            let got = read_u32(aisle::kernels::sample::sample(&xc, n, &draw))[0];
            let want = sampler.sample_with(&logits, &history, draw.u);
            assert_eq!(Some(got), want, "{cfg:?} u={}", draw.u);
        }
    }
    // Unlimited or too wide a top-k, and greedy, stay on the host.
    let mut s = Sampler::new(SamplerConfig { temperature: 0.7, top_k: 0, ..Default::default() }).unwrap();
    assert!(s.plan(&history, 64).is_none());
    let mut s = Sampler::new(SamplerConfig { temperature: 0.7, top_k: 65, ..Default::default() }).unwrap();
    assert!(s.plan(&history, 64).is_none());
    assert!(Sampler::new(SamplerConfig::greedy()).unwrap().plan(&history, 64).is_none());
}

/// The speed probe that `backend: "auto"` runs on a software adapter measures both sides.
/// Q4_0 and Q5_0 keep their `-8·d` / `-16·d` as an f16 min on the device too: a scale whose
/// multiple overflows f16 is refused by the packing, not computed as infinity (the CPU path's
/// check: tests/cpu_kernels.rs).
#[test]
fn packing_refuses_a_min_that_overflows_f16() {
    for (ty, d_ok, d_bad) in [(GgmlType::Q4_0, 8000.0, 8192.0), (GgmlType::Q5_0, 4000.0, 4096.0)] {
        assert!(pack(ty, &scaled_block(ty, d_ok), 1).is_ok(), "{ty:?} d={d_ok}");
        let err = pack(ty, &scaled_block(ty, d_bad), 1).unwrap_err();
        assert!(matches!(err, quant::QuantError::Range { .. }), "{ty:?} d={d_bad}: {err}");
    }
}

#[test]
fn backend_probe_times_both_sides() {
    let cpu = pollster::block_on(device::probe_ms(DeviceKind::Cpu)).unwrap();
    assert!(cpu.is_finite() && cpu > 0.0, "cpu {cpu} ms");
    if gpu().is_none() {
        return;
    }
    let gpu_ms = pollster::block_on(device::probe_ms(DeviceKind::Gpu)).unwrap();
    assert!(gpu_ms.is_finite() && gpu_ms > 0.0, "gpu {gpu_ms} ms");
    eprintln!("probe: cpu {cpu:.3} ms, gpu {gpu_ms:.3} ms per 1536x576 Q4_1 product");
}
