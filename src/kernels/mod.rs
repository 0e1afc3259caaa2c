//! Our GPU kernels, written in CubeCL and launched on burn's wgpu buffers.
//!
//! Each file holds one kernel (or a small family) and its host-side launcher. Their references
//! are the CPU path's: the vector ops of `crate::model::cpu::ops` and the reference
//! dequantizing product `crate::quant::gemv_reference`; `tests/kernels.rs` compares each
//! kernel with its reference on random inputs of several shapes.
//!
//! Two constraints from the browser shape every kernel here:
//! - no subgroups (wgpu 30 never enables them on WebGPU) and no `shader-f16`: f16 scales are
//!   decoded with integer operations, all math is f32;
//! - workgroup barriers were very slow on SwiftShader and lavapipe, so each invocation owns whole
//!   outputs (a row, a head) and loops, rather than cooperating through shared memory.

pub mod argmax;
pub mod attention;
pub mod embed;
pub mod gemv;
pub mod rms_norm;
pub mod rope_kv;
pub mod sample;

use burn::backend::Cube;
use burn::tensor::{DType, Int, Shape, Tensor};
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// A float tensor of the wgpu device as a contiguous kernel buffer (shares the buffer).
pub fn to_cube<const D: usize>(t: Tensor<D>) -> CubeTensor {
    let c = t.try_into_primitive::<Cube>().expect("kernels run on the wgpu device only");
    burn_cubecl::kernel::into_contiguous(c)
}

/// An int tensor (e.g. u32 weight words) as a kernel buffer.
pub fn int_to_cube<const D: usize>(t: Tensor<D, Int>) -> CubeTensor {
    let c = t.try_into_primitive::<Cube>().expect("kernels run on the wgpu device only");
    burn_cubecl::kernel::into_contiguous(c)
}

pub fn from_cube<const D: usize>(c: CubeTensor) -> Tensor<D> {
    Tensor::from_primitive::<Cube>(c)
}

pub fn int_from_cube<const D: usize>(c: CubeTensor) -> Tensor<D, Int> {
    Tensor::from_primitive::<Cube>(c)
}

/// A new uninitialised contiguous buffer on `like`'s device.
pub fn empty(like: &CubeTensor, shape: impl Into<Shape>, dtype: DType) -> CubeTensor {
    let shape = shape.into();
    let handle = like.client.empty(shape.num_elements() * dtype.size());
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), shape, handle, dtype)
}

/// Uploads `words` as a u32 buffer on `like`'s device.
pub fn upload_u32(like: &CubeTensor, words: &[u32]) -> CubeTensor {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let handle = like.client.create_from_slice(&bytes);
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), Shape::new([words.len()]), handle, DType::U32)
}

/// Uploads `values` as an f32 buffer of `shape` on `like`'s device.
pub fn upload_f32(like: &CubeTensor, values: &[f32], shape: impl Into<Shape>) -> CubeTensor {
    let bytes: Vec<u8> = values.iter().flat_map(|w| w.to_le_bytes()).collect();
    let handle = like.client.create_from_slice(&bytes);
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), shape.into(), handle, DType::F32)
}

/// A 1-D launch of `units` invocations in workgroups of 64.
pub fn grid(client: &cubecl::client::Client, units: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new_1d(64);
    (cubecl::calculate_cube_count_elemwise(client, units.max(1), dim), dim)
}

/// IEEE half (low 16 bits of `h`) to f32 with integer operations only (no `shader-f16`).
/// Subnormals are computed as `mantissa · 2⁻²⁴`, so no f32 denormal is ever formed (GPUs may
/// flush those to zero).
#[cube]
pub fn f16_to_f32(h: u32) -> f32 {
    let exp = (h >> 10) & 0x1F;
    let mant = h & 0x3FF;
    let normal = f32::reinterpret(((h & 0x7FFF) << 13) + (112u32 << 23));
    let sub = f32::cast_from(mant) * 5.960_464_5e-8f32;
    let mag = select(exp == 0, sub, normal);
    select((h & 0x8000) != 0, -mag, mag)
}

/// Byte `j` (0..4) of `word` as a signed 8-bit value.
#[cube]
pub fn i8_at(word: u32, #[comptime] j: u32) -> f32 {
    let b = (word >> (8 * j)) & 0xFF;
    f32::cast_from(b) - select(b > 127, 256.0f32, 0.0f32)
}
