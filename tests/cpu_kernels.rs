//! The CPU path's quantized products ([`aisle::model::cpu::QMat`]) against the dequantization
//! reference, on random blocks of every format and several shapes. Natively that tests the AVX2
//! kernels (and the portable loops beside them); built for `wasm32-wasip1` it tests the SIMD128
//! kernels the browser runs, under Node's WASI (`make test`: `scripts/wasi-run.mjs` is the
//! target's runner). No model and no device needed: it builds without the `model` feature.

mod common;

use aisle::model::cpu::QMat;
use aisle::quant::{self, GgmlType, gemv_reference};
use aisle::sampler::Rng;
use common::*;

/// `x` rounded to 8 bits per block of 32, as the CPU path's decode rounds it.
fn rounded(x: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    return aisle::model::cpu::int8::Act::new(x).dequantized();
    #[cfg(not(target_arch = "x86_64"))]
    return x.to_vec();
}

/// The CPU path's quantized matrix-vector product (decode, one vector) and its tiled prefill
/// (several vectors) against the same reference as the GPU kernels, and each row dequantized
/// as prefill dequantizes it.
#[test]
fn matvec_matches_reference_for_each_format_shape_and_mode() {
    println!(
        "# {}: {}",
        std::env::consts::ARCH,
        if cfg!(target_feature = "simd128") { "SIMD128 kernels" } else { "native kernels" }
    );
    let mut rng = Rng::new(13);
    for (ty, shapes) in formats_and_shapes() {
        let wide = if ty.block_size() == 32 { (1536, 576, 2) } else { (1536, 1536, 2) };
        for (rows, cols, m) in shapes.into_iter().chain([wide]) {
            let raw = random_blocks(&mut rng, ty, rows * cols);
            let x = random_vec(&mut rng, m * cols, 1.0);
            let w = QMat::from_blocks(ty, &raw, rows, cols).unwrap();
            let exact = gemv_reference(ty, &raw, rows, cols, &x);
            let mut row = vec![0f32; cols];
            for r in [0, rows / 2, rows - 1] {
                w.row(r, &mut row);
                let per_row = raw.len() / rows;
                let want = quant::dequantize_to_vec(ty, &raw[r * per_row..(r + 1) * per_row], cols).unwrap();
                assert_close(&row, &want, 1e-6, &format!("cpu {ty:?} row {r} of {rows}x{cols}"));
            }
            let mut got = vec![0f32; m * rows];
            w.matvec_with(&x, m, &mut got, false, false);
            assert_close(&got, &exact, 1e-4, &format!("cpu {ty:?} {rows}x{cols} m={m}"));
            // The portable loop (processors without AVX2 + FMA) for the dedicated layouts, which
            // the dispatch above does not reach on a machine that has them.
            if matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0) {
                let sums: Vec<f32> = x[..cols].chunks_exact(32).map(|c| c.iter().sum()).collect();
                let got: Vec<f32> = (0..rows).map(|r| w.dot_portable(r, &x[..cols], &sums)).collect();
                assert_close(&got, &exact[..rows], 1e-4, &format!("cpu portable {ty:?} {rows}x{cols}"));
            }
            // The opt-in 8-bit activations (llama.cpp's scheme, one vector): exactly the product
            // of the rounded vector, and close to the exact one.
            if m == 1 && w.int8_capable() {
                let want = gemv_reference(ty, &raw, rows, cols, &rounded(&x));
                let mut got = vec![0f32; rows];
                w.matvec_with(&x, 1, &mut got, false, true);
                assert_close(&got, &want, 1e-4, &format!("cpu int8 {ty:?} {rows}x{cols}"));
                let scale = exact.iter().fold(1f32, |a, v| a.max(v.abs()));
                assert_close(&got, &exact, 0.02 * scale, &format!("cpu int8 {ty:?} {rows}x{cols} vs exact"));
            }
            let res = random_vec(&mut rng, m * rows, 2.0);
            let mut got = res.clone();
            w.matvec_with(&x, m, &mut got, true, false);
            let want_res: Vec<f32> = exact.iter().zip(&res).map(|(a, b)| a + b).collect();
            assert_close(&got, &want_res, 1e-4, &format!("cpu {ty:?} {rows}x{cols} m={m} accumulate"));
        }
    }
    // Q4_0 and Q5_0 keep their `-8·d` / `-16·d` as an f16 min: a scale whose multiple
    // overflows f16 is refused, not computed as infinity (the GPU's packing: tests/kernels.rs).
    for (ty, d_ok, d_bad) in [(GgmlType::Q4_0, 8000.0, 8192.0), (GgmlType::Q5_0, 4000.0, 4096.0)] {
        assert!(QMat::from_blocks(ty, &scaled_block(ty, d_ok), 1, 32).is_ok(), "cpu {ty:?} d={d_ok}");
        assert!(QMat::from_blocks(ty, &scaled_block(ty, d_bad), 1, 32).is_err(), "cpu {ty:?} d={d_bad}");
    }
    // A matrix whose bytes do not match its shape is refused, not read out of bounds.
    assert!(QMat::from_blocks(GgmlType::Q4_1, &[0u8; 19], 1, 32).is_err());
    assert!(QMat::from_blocks(GgmlType::Q6_K, &[0u8; 209], 1, 256).is_err());
    assert!(QMat::from_blocks(GgmlType::Q6_K, &[0u8; 210], 2, 128).is_err()); // a block across rows
}
