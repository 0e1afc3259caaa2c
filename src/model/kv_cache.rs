//! The attention key/value cache: allocated once for a session, written in place.
//!
//! Each forward path keeps its keys and values where it computes: the CPU kernels in host
//! vectors, the GPU kernels and the reference in device tensors. A cache made for one path is
//! refused by another ([`super::Llama::forward`]) instead of being misread.
//!
//! Growing a cache by concatenation copies all of it every token; instead each layer owns two
//! preallocated buffers of the session's full context, and a step writes only its new
//! positions (on the device, `slice_assign`, which burn performs in place as long as no other
//! handle to the buffer is alive: [`LayerCache::append`] takes views only after the write).

use burn::tensor::{Device, Tensor};

use super::config::LlamaConfig;
use super::cpu::HostLayer;

/// One layer's keys and values on a device.
pub struct LayerCache {
    pub k: Tensor<3>, // [n_kv_heads, capacity, head_dim]
    pub v: Tensor<3>, // [n_kv_heads, capacity, head_dim]
}

/// The layers' buffers, where the path that made the cache keeps them.
pub enum Store {
    Device(Vec<LayerCache>),
    Host(Vec<HostLayer>),
}

pub struct KvCache {
    store: Store,
    capacity: usize,
    /// Positions filled so far.
    len: usize,
}

impl KvCache {
    /// A cache in device tensors (the GPU kernels and the reference).
    pub fn new(cfg: &LlamaConfig, capacity: usize, device: &Device) -> Self {
        let shape = [cfg.n_kv_heads, capacity, cfg.head_dim];
        let layers = (0..cfg.n_layers)
            .map(|_| LayerCache { k: Tensor::zeros(shape, device), v: Tensor::zeros(shape, device) })
            .collect();
        KvCache { store: Store::Device(layers), capacity, len: 0 }
    }

    /// A cache in host memory, for the CPU kernel path.
    pub fn new_host(cfg: &LlamaConfig, capacity: usize) -> Self {
        let n = cfg.n_kv_heads * capacity * cfg.head_dim;
        let layers = (0..cfg.n_layers).map(|_| HostLayer { k: vec![0f32; n], v: vec![0f32; n] }).collect();
        KvCache { store: Store::Host(layers), capacity, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The layers' buffers, for the forward path to write.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Forgets every position (the buffers are reused, not freed).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Rolls back to `len` positions, to reuse a shared prompt prefix
    /// ([`crate::Engine::take_cache_for`]).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Marks `n` more positions as filled, after every layer wrote them.
    pub fn advance(&mut self, n: usize) {
        self.len += n;
    }
}

impl LayerCache {
    /// Writes `k`, `v` (`[n_kv_heads, n, head_dim]`) at positions `pos..pos+n` and returns
    /// views of positions `0..pos+n`.
    pub fn append(&mut self, pos: usize, k: Tensor<3>, v: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let [heads, n, dim] = k.dims();
        self.k.inplace(|t| t.slice_assign([0..heads, pos..pos + n, 0..dim], k));
        self.v.inplace(|t| t.slice_assign([0..heads, pos..pos + n, 0..dim], v));
        let end = pos + n;
        (self.k.clone().slice([0..heads, 0..end, 0..dim]), self.v.clone().slice([0..heads, 0..end, 0..dim]))
    }
}
