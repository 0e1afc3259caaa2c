//! Choosing where the model runs: a GPU through wgpu (Vulkan natively, WebGPU in the
//! browser) or burn's CPU backend.

use std::sync::OnceLock;

use burn::tensor::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Gpu,
    Cpu,
}

impl std::str::FromStr for DeviceKind {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "gpu" | "webgpu" | "wgpu" => Ok(DeviceKind::Gpu),
            "cpu" => Ok(DeviceKind::Cpu),
            other => Err(DeviceError::UnknownKind(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("unknown device {0:?} (expected gpu or cpu)")]
    UnknownKind(String),
    #[error("no usable GPU adapter: {0}")]
    NoGpu(String),
    #[error("the speed probe could not read its result back: {0}")]
    Probe(String),
}

/// The GPU device, once opened: burn registers a wgpu device once per process, and a second
/// initialisation is an error, so every caller shares this one.
static GPU: OnceLock<Device> = OnceLock::new();

/// Opens a device. The GPU is initialised eagerly, so that a missing adapter is an error here
/// rather than a panic on the first tensor.
pub async fn open(kind: DeviceKind) -> Result<Device, DeviceError> {
    match kind {
        DeviceKind::Cpu => Ok(Device::flex()),
        DeviceKind::Gpu => {
            if let Some(d) = GPU.get() {
                return Ok(d.clone());
            }
            let d = Device::wgpu_options().init_async().await.map_err(|e| DeviceError::NoGpu(e.to_string()))?;
            Ok(GPU.get_or_init(|| d).clone())
        }
    }
}

/// A short human description (`"cpu"`, or the GPU adapter's name).
pub fn describe(device: &Device) -> String {
    match device.identity() {
        Some(id) => format!("gpu ({})", id.name),
        None => "cpu".to_string(),
    }
}

/// Rows and columns of the probe's matrix: SmolLM2-135M's feed-forward shape, the bulk of a
/// decode step.
const PROBE_SHAPE: (usize, usize) = (1536, 576);

/// Products per timed batch: enough to hide the clock's resolution and one readback.
const PROBE_BATCH: usize = 8;

/// Milliseconds one decode-sized quantized matrix-vector product takes on `kind` (a
/// [`PROBE_SHAPE`] Q4_1 matrix through the path the model would take there: our GPU kernel or
/// the CPU path), best of three batches after a warm-up that compiles the shader. This is what
/// `"auto"` measures when the only GPU adapter is a software one, to pick the faster side
/// without uploading the model twice.
pub async fn probe_ms(kind: DeviceKind) -> Result<f64, DeviceError> {
    use crate::quant::GgmlType;
    let (rows, cols) = PROBE_SHAPE;
    let mut rng = crate::sampler::Rng::new(1);
    // Q4_1 blocks: f16 d = 0.01, m = -0.08, random nibbles; x in [-1, 1).
    let mut raw = Vec::with_capacity(rows * cols / 32 * 20);
    for _ in 0..rows * cols / 32 {
        raw.extend_from_slice(&[0x1F, 0x21, 0x1F, 0xAD]);
        (0..16).for_each(|_| raw.push(rng.next_u64() as u8));
    }
    let x: Vec<f32> = (0..cols).map(|_| 2.0 * rng.next_f32() - 1.0).collect();
    let mut best = f64::INFINITY;
    match kind {
        DeviceKind::Cpu => {
            let w = crate::model::cpu::QMat::from_blocks(GgmlType::Q4_1, &raw, rows, cols)
                .map_err(|e| DeviceError::Probe(e.to_string()))?;
            let mut out = vec![0f32; rows];
            w.matvec_with(&x, 1, &mut out, false, false);
            for _ in 0..3 {
                let t0 = crate::generate::now_ms();
                for _ in 0..PROBE_BATCH {
                    w.matvec_with(&x, 1, &mut out, false, false);
                }
                best = best.min(crate::generate::now_ms() - t0);
            }
        }
        DeviceKind::Gpu => {
            use crate::kernels::{self, gemv};
            let dev = open(DeviceKind::Gpu).await?;
            let anchor = kernels::to_cube(burn::tensor::Tensor::<1>::zeros([1], &dev));
            let (format, words) =
                gemv::pack(GgmlType::Q4_1, &raw, rows).map_err(|e| DeviceError::Probe(e.to_string()))?;
            let w = gemv::QMatrix { format, rows, cols, words: kernels::upload_u32(&anchor, &words) };
            let xc = kernels::upload_f32(&anchor, &x, [1, cols]);
            for round in 0..4 {
                let t0 = crate::generate::now_ms();
                let mut out = gemv::gemv(&w, &xc, 1, None);
                for _ in 1..PROBE_BATCH {
                    out = gemv::gemv(&w, &xc, 1, Some(out));
                }
                kernels::from_cube::<2>(out)
                    .into_data_async()
                    .await
                    .map_err(|e| DeviceError::Probe(format!("{e:?}")))?;
                if round > 0 {
                    best = best.min(crate::generate::now_ms() - t0);
                }
            }
        }
    }
    Ok(best / PROBE_BATCH as f64)
}
