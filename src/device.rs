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
