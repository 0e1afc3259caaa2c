//! Simple quantizers (round to nearest; not llama.cpp's error-minimising search) for the block
//! formats our kernels read, and a rewrite of the real SmolLM2 file into a llama.cpp-style mix
//! of them: real weights, real text, in the formats K-quant files use.

use aisle::gguf::Gguf;
use aisle::quant::{self, GgmlType};
use half::f16;

use super::GgufWriter;

fn put_f16(out: &mut Vec<u8>, x: f32) {
    out.extend_from_slice(&f16::from_f32(x).to_le_bytes());
}

/// `x` (a multiple of the block size) in GGUF blocks of `ty` (Q5_0, Q5_1, Q8_0, Q4_K, Q6_K).
pub fn quantize(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.len() / ty.block_size() * ty.type_size());
    for b in x.chunks_exact(ty.block_size()) {
        match ty {
            GgmlType::Q5_0 => q5(b, false, &mut out),
            GgmlType::Q5_1 => q5(b, true, &mut out),
            GgmlType::Q8_0 => q8_0(b, &mut out),
            GgmlType::Q4_K => q4_k(b, &mut out),
            GgmlType::Q6_K => q6_k(b, &mut out),
            other => panic!("no quantizer for {other:?}"),
        }
    }
    out
}

/// Q5_0 (`(q - 16)·d`, d from the value of largest magnitude) or Q5_1 (`q·d + m`).
fn q5(b: &[f32], with_min: bool, out: &mut Vec<u8>) {
    let (d, m) = if with_min {
        let (lo, hi) = b.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        ((hi - lo) / 31.0, lo)
    } else {
        let max = b.iter().fold(0f32, |a, &v| if v.abs() > a.abs() { v } else { a });
        (max / -16.0, 0.0)
    };
    let d16 = f16::from_f32(d).to_f32();
    let m16 = f16::from_f32(m).to_f32();
    let inv = if d16 != 0.0 { 1.0 / d16 } else { 0.0 };
    let q: Vec<u32> = b
        .iter()
        .map(|&v| if with_min { ((v - m16) * inv).round() } else { (v * inv).round() + 16.0 }.clamp(0.0, 31.0) as u32)
        .collect();
    put_f16(out, d);
    if with_min {
        put_f16(out, m);
    }
    let qh = (0..32).fold(0u32, |h, j| h | ((q[j] >> 4) & 1) << j);
    out.extend_from_slice(&qh.to_le_bytes());
    (0..16).for_each(|j| out.push((q[j] & 15) as u8 | ((q[j + 16] & 15) as u8) << 4));
}

fn q8_0(b: &[f32], out: &mut Vec<u8>) {
    let amax = b.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = f16::from_f32(amax / 127.0).to_f32();
    let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(out, d);
    b.iter().for_each(|&v| out.push((v * inv).round().clamp(-127.0, 127.0) as i8 as u8));
}

/// Q4_K: per 32 weights a 6-bit scale and min of the super-block's `d` and `dmin`.
fn q4_k(b: &[f32], out: &mut Vec<u8>) {
    let subs: Vec<(f32, f32)> = b
        .chunks_exact(32)
        .map(|s| {
            let (lo, hi) = s.iter().fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            ((hi - lo) / 15.0, -lo) // scale, and min as a positive offset
        })
        .collect();
    let d = f16::from_f32(subs.iter().fold(0f32, |a, s| a.max(s.0)) / 63.0).to_f32();
    let dmin = f16::from_f32(subs.iter().fold(0f32, |a, s| a.max(s.1)) / 63.0).to_f32();
    let sc: Vec<u8> = subs.iter().map(|s| if d > 0.0 { (s.0 / d).round().min(63.0) as u8 } else { 0 }).collect();
    let mn: Vec<u8> = subs.iter().map(|s| if dmin > 0.0 { (s.1 / dmin).round().min(63.0) as u8 } else { 0 }).collect();
    put_f16(out, d);
    put_f16(out, dmin);
    let mut scales = [0u8; 12];
    for j in 0..8 {
        if j < 4 {
            scales[j] = sc[j];
            scales[j + 4] = mn[j];
        } else {
            scales[j + 4] = (sc[j] & 15) | (mn[j] & 15) << 4;
            scales[j - 4] |= (sc[j] >> 4) << 6;
            scales[j] |= (mn[j] >> 4) << 6;
        }
    }
    out.extend_from_slice(&scales);
    let q: Vec<u8> = b
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (s, m) = (d * sc[i / 32] as f32, dmin * mn[i / 32] as f32);
            if s > 0.0 { ((v + m) / s).round().clamp(0.0, 15.0) as u8 } else { 0 }
        })
        .collect();
    // 32 bytes per 64 weights: the first 32 in low nibbles, the next 32 in high nibbles.
    for chunk in q.chunks_exact(64) {
        (0..32).for_each(|l| out.push(chunk[l] | chunk[l + 32] << 4));
    }
}

/// Q6_K: per 16 weights a signed 8-bit scale of the super-block's `d`; values `q - 32`.
fn q6_k(b: &[f32], out: &mut Vec<u8>) {
    let sub_scale: Vec<f32> = b.chunks_exact(16).map(|s| s.iter().fold(0f32, |a, v| a.max(v.abs())) / 31.0).collect();
    let d = f16::from_f32(sub_scale.iter().fold(0f32, |a, &s| a.max(s)) / 127.0).to_f32();
    let sc: Vec<i8> = sub_scale.iter().map(|&s| if d > 0.0 { (s / d).round().min(127.0) as i8 } else { 0 }).collect();
    let q: Vec<u8> = b
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let s = d * sc[i / 16] as f32;
            (if s > 0.0 { (v / s).round().clamp(-32.0, 31.0) } else { 0.0 } + 32.0) as u8
        })
        .collect();
    let (mut ql, mut qh) = ([0u8; 128], [0u8; 64]);
    for half in 0..2 {
        let y = &q[half * 128..];
        for l in 0..32 {
            ql[half * 64 + l] = (y[l] & 15) | (y[l + 64] & 15) << 4;
            ql[half * 64 + l + 32] = (y[l + 32] & 15) | (y[l + 96] & 15) << 4;
            qh[half * 32 + l] = (y[l] >> 4) | (y[l + 32] >> 4) << 2 | (y[l + 64] >> 4) << 4 | (y[l + 96] >> 4) << 6;
        }
    }
    out.extend_from_slice(&ql);
    out.extend_from_slice(&qh);
    sc.iter().for_each(|&s| out.push(s as u8));
    put_f16(out, d);
}

/// The type the mix gives tensor `name` (`None`: kept as the file has it). K-quants need
/// rows that are multiples of 256, which only `ffn_down` (1536 inputs) has in SmolLM2-135M;
/// elsewhere llama.cpp falls back to Q5_0, as here.
fn mix(name: &str) -> Option<GgmlType> {
    let layer: usize = name.strip_prefix("blk.")?.split('.').next()?.parse().ok()?;
    Some(match name.split('.').nth(2)? {
        "attn_q" | "attn_k" | "ffn_gate" => GgmlType::Q5_0,
        "attn_v" => GgmlType::Q8_0,
        "attn_output" | "ffn_up" => GgmlType::Q5_1,
        "ffn_down" if layer.is_multiple_of(2) => GgmlType::Q6_K,
        "ffn_down" => GgmlType::Q4_K,
        _ => return None,
    })
}

/// The GGUF `bytes` with its layers' linear weights requantized by [`mix`] (metadata, norms
/// and the embedding as they were).
pub fn mixed_model(bytes: &[u8]) -> Vec<u8> {
    let g = Gguf::parse(bytes).expect("model parses");
    let mut w = GgufWriter { alignment: g.alignment, ..GgufWriter::default() };
    for (k, v) in &g.metadata {
        w.kv(k, v.clone());
    }
    for t in &g.tensors {
        let raw = g.tensor_bytes(bytes, t).expect("tensor bytes");
        let (ty, data) = match mix(&t.name) {
            Some(ty) if t.dims.len() == 2 => {
                let x = quant::dequantize_to_vec(t.ggml_type, raw, t.n_elements() as usize).expect("dequantize");
                (ty, quantize(ty, &x))
            }
            _ => (t.ggml_type, raw.to_vec()),
        };
        w.tensor(&t.name, &t.dims, ty.id(), data);
    }
    w.to_bytes()
}
