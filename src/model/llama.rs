//! The Llama-family model, loaded on the forward path its device and weights allow:
//! embed -> N × [RMSNorm, attention, RMSNorm, SwiGLU] -> norm -> head.

use burn::tensor::{Device, Tensor};

use super::ModelError;
use super::config::LlamaConfig;
use super::cpu;
use super::gpu::{self, GpuWeights};
use super::kv_cache::{KvCache, Store};
#[cfg(feature = "reference")]
use super::reference::Reference;
use super::weights;
use crate::gguf::Gguf;

/// Which implementation of the forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardPath {
    /// Our own kernels on quantized weights (wgpu devices, supported weight formats).
    Kernels,
    /// Our own CPU loops on quantized weights (the CPU device, every weight type).
    CpuKernels,
    /// burn tensor operations on f32 weights, on any device: the reference the other two are
    /// tested against ([`super::reference`]). Built only with the `reference` feature, and only
    /// ever loaded when asked for.
    BurnOps,
}

enum Imp {
    #[cfg(feature = "reference")]
    BurnOps(Box<Reference>),
    Kernels(Box<GpuWeights>),
    CpuKernels(Box<cpu::CpuWeights>),
}

/// The last token's logits, where the path computed them: read back only by a caller that
/// needs them all (a device can pick the token itself: [`crate::kernels::argmax`],
/// [`crate::kernels::sample`]).
// One per forward pass, moved once: not worth a box for the size of a device tensor.
#[allow(clippy::large_enum_variant)]
pub enum Logits {
    /// `[vocab]`, the CPU kernels' own memory.
    Host(Vec<f32>),
    /// `[1, vocab]` on the device (the GPU kernels; the reference, on whatever device it ran).
    Device(Tensor<2>),
}

impl Logits {
    /// The vocabulary's size.
    pub fn len(&self) -> usize {
        match self {
            Logits::Host(v) => v.len(),
            Logits::Device(t) => t.dims()[1],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The logits in host memory, `[vocab]` (a device's read back).
    pub async fn into_host(self) -> Result<Vec<f32>, ModelError> {
        match self {
            Logits::Host(v) => Ok(v),
            Logits::Device(t) => {
                let data = t.into_data_async().await.map_err(|e| ModelError::Readback(format!("{e:?}")))?;
                data.convert::<f32>().try_into_vec::<f32>().map_err(|e| ModelError::Readback(format!("{e:?}")))
            }
        }
    }
}

pub struct Llama {
    pub config: LlamaConfig,
    imp: Imp,
    /// The device the logits come back on: the one asked for, or the CPU when a GPU could not
    /// run the file's weights and the CPU kernels run them instead.
    device: Device,
    /// Longest session this instance was prepared for (RoPE table and KV cache size).
    max_context: usize,
}

/// Whether `device` is one our kernels run on (burn's cubecl backend: wgpu).
fn runs_kernels(device: &Device) -> bool {
    matches!(device.as_dispatch(), burn::backend::DispatchDevice::Cube(_))
}

/// Why `path` cannot run this model on `device`, or `None` if it can.
fn why_not(path: ForwardPath, config: &LlamaConfig, gguf: &Gguf, device: &Device) -> Option<String> {
    let gpu = runs_kernels(device);
    match path {
        ForwardPath::Kernels if gpu => gpu::unsupported(config, gguf),
        ForwardPath::Kernels => Some("not a GPU device".to_string()),
        ForwardPath::CpuKernels => cpu::unsupported(config, gguf),
        ForwardPath::BurnOps if cfg!(feature = "reference") => None,
        ForwardPath::BurnOps => Some("built without the `reference` feature".to_string()),
    }
}

/// The path a model runs on when none is asked for: our GPU kernels on a GPU that can run
/// every weight, else the CPU kernels (which run every weight type the reference
/// dequantizes, and Qwen2's biases).
fn choose(config: &LlamaConfig, gguf: &Gguf, device: &Device) -> Result<ForwardPath, ModelError> {
    let gpu_why = if runs_kernels(device) {
        match why_not(ForwardPath::Kernels, config, gguf, device) {
            None => return Ok(ForwardPath::Kernels),
            Some(why) => Some(why),
        }
    } else {
        None
    };
    match why_not(ForwardPath::CpuKernels, config, gguf, device) {
        None => Ok(ForwardPath::CpuKernels),
        Some(why) => {
            let gpu = gpu_why.map(|g| format!("the GPU kernels: {g}; ")).unwrap_or_default();
            Err(ModelError::Unsupported(format!("{gpu}the CPU kernels: {why}")))
        }
    }
}

impl Llama {
    /// Loads the weights of `gguf` (parsed from `bytes`) for sessions of at most `max_context`
    /// tokens (capped at the model's own context length): on `device` with our GPU kernels
    /// when it is a GPU that can run every weight, otherwise with the CPU kernels on the CPU.
    pub fn load(gguf: &Gguf, bytes: &[u8], device: &Device, max_context: usize) -> Result<Self, ModelError> {
        Self::load_with(gguf, bytes, device, max_context, None)
    }

    /// As [`Llama::load`], with the path forced when `path` is given (tests compare them); a
    /// forced path runs (on `device`, or the CPU for the CPU kernels) or is an error.
    pub fn load_with(
        gguf: &Gguf,
        bytes: &[u8],
        device: &Device,
        max_context: usize,
        path: Option<ForwardPath>,
    ) -> Result<Self, ModelError> {
        let config = LlamaConfig::from_gguf(gguf)?;
        let max_context = max_context.clamp(1, config.context_length);
        let path = match path {
            Some(p) => match why_not(p, &config, gguf, device) {
                Some(why) => {
                    return Err(ModelError::Unsupported(format!("the {p:?} path cannot run this model: {why}")));
                }
                None => p,
            },
            None => choose(&config, gguf, device)?,
        };
        // The CPU kernels compute on the host whatever device was given: their logits are a
        // CPU tensor, not an upload to a GPU that took no part.
        let device = if path == ForwardPath::CpuKernels { Device::flex() } else { device.clone() };
        let imp = match path {
            ForwardPath::Kernels => {
                let freqs = weights::rope_freqs(&config, gguf, bytes)?;
                Imp::Kernels(Box::new(GpuWeights::load(&config, gguf, bytes, &device, max_context, freqs.as_deref())?))
            }
            ForwardPath::CpuKernels => {
                let freqs = weights::rope_freqs(&config, gguf, bytes)?;
                Imp::CpuKernels(Box::new(cpu::CpuWeights::load(&config, gguf, bytes, max_context, freqs.as_deref())?))
            }
            #[cfg(feature = "reference")]
            ForwardPath::BurnOps => {
                Imp::BurnOps(Box::new(Reference::load(&config, gguf, bytes, &device, max_context)?))
            }
            #[cfg(not(feature = "reference"))]
            ForwardPath::BurnOps => unreachable!("why_not refuses BurnOps without the reference feature"),
        };
        Ok(Llama { config, imp, device, max_context })
    }

    /// Whether the CPU path's decode rounds activations to 8 bits ([`cpu::CpuWeights::int8_decode`]);
    /// returns whether it now does (only the CPU path on a processor with AVX2 + FMA can).
    pub fn set_int8_decode(&mut self, on: bool) -> bool {
        match &mut self.imp {
            Imp::CpuKernels(w) => {
                w.int8_decode = on && cpu::int8_available();
                w.int8_decode
            }
            _ => false,
        }
    }

    pub fn path(&self) -> ForwardPath {
        match self.imp {
            #[cfg(feature = "reference")]
            Imp::BurnOps(_) => ForwardPath::BurnOps,
            Imp::Kernels(_) => ForwardPath::Kernels,
            Imp::CpuKernels(_) => ForwardPath::CpuKernels,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn max_context(&self) -> usize {
        self.max_context
    }

    /// Bytes of weights on the device.
    pub fn weight_bytes(&self) -> u64 {
        match &self.imp {
            #[cfg(feature = "reference")]
            Imp::BurnOps(b) => b.device_bytes(),
            Imp::Kernels(w) => w.device_bytes,
            Imp::CpuKernels(w) => w.bytes,
        }
    }

    pub fn new_cache(&self) -> KvCache {
        match self.imp {
            Imp::CpuKernels(_) => KvCache::new_host(&self.config, self.max_context),
            _ => KvCache::new(&self.config, self.max_context, &self.device),
        }
    }

    /// Runs `tokens` at positions `cache.len()..`, appends them to the cache, and returns the
    /// logits of the last token (where the path computed them). `cache` must come from this
    /// model's [`Llama::new_cache`].
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Logits, ModelError> {
        let (pos, capacity) = (cache.len(), cache.capacity());
        let n = tokens.len();
        if n == 0 {
            return Err(ModelError::EmptyInput);
        }
        if pos + n > capacity {
            return Err(ModelError::ContextFull { needed: pos + n, capacity });
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.config.vocab_size) {
            return Err(ModelError::BadToken(bad));
        }
        let logits = match (&self.imp, cache.store_mut()) {
            (Imp::Kernels(w), Store::Device(layers)) => Logits::Device(w.forward(&self.config, tokens, layers, pos)),
            #[cfg(feature = "reference")]
            (Imp::BurnOps(b), Store::Device(layers)) => Logits::Device(b.forward(tokens, layers, pos)),
            (Imp::CpuKernels(w), Store::Host(layers)) => {
                Logits::Host(w.forward(&self.config, tokens, layers, pos, capacity))
            }
            _ => return Err(ModelError::WrongCache),
        };
        cache.advance(n);
        Ok(logits)
    }
}
