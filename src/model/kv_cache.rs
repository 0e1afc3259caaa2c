//! The attention key/value cache: allocated once for a session, written in place.
//!
//! Growing a cache by concatenation copies all of it every token; instead each layer owns two
//! preallocated buffers of the session's full context and `slice_assign` writes the new
//! positions. burn performs that write in place as long as no other handle to the buffer is
//! alive, which [`KvCache::append`] arranges by taking views only after the write.

use burn::tensor::{Device, Tensor};

use super::config::LlamaConfig;

pub struct LayerCache {
    pub k: Tensor<3>, // [n_kv_heads, capacity, head_dim]
    pub v: Tensor<3>, // [n_kv_heads, capacity, head_dim]
}

pub struct KvCache {
    /// Device buffers (the burn-ops and GPU kernel paths).
    pub layers: Vec<LayerCache>,
    /// Host buffers (the CPU kernel path): per layer (keys, values), `[n_kv_heads, capacity,
    /// head_dim]` each.
    pub host: Vec<(Vec<f32>, Vec<f32>)>,
    capacity: usize,
    /// Positions filled so far.
    len: usize,
}

impl KvCache {
    pub fn new(cfg: &LlamaConfig, capacity: usize, device: &Device) -> Self {
        let shape = [cfg.n_kv_heads, capacity, cfg.head_dim];
        let layers = (0..cfg.n_layers)
            .map(|_| LayerCache { k: Tensor::zeros(shape, device), v: Tensor::zeros(shape, device) })
            .collect();
        KvCache { layers, host: Vec::new(), capacity, len: 0 }
    }

    /// A cache in host memory, for the CPU kernel path.
    pub fn new_host(cfg: &LlamaConfig, capacity: usize) -> Self {
        let n = cfg.n_kv_heads * capacity * cfg.head_dim;
        let host = (0..cfg.n_layers).map(|_| (vec![0f32; n], vec![0f32; n])).collect();
        KvCache { layers: Vec::new(), host, capacity, len: 0 }
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

    /// Forgets every position (the buffers are reused, not freed).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Rolls back to `len` positions, e.g. to reuse a shared prompt prefix.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Marks `n` more positions as filled, after every layer wrote them.
    pub fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// Bytes the cache occupies on the device.
    pub fn device_bytes(&self) -> u64 {
        let device: u64 = self.layers.iter().map(|l| 2 * (l.k.shape().num_elements() as u64) * 4).sum();
        let host: u64 = self.host.iter().map(|(k, v)| ((k.len() + v.len()) * 4) as u64).sum();
        device + host
    }

    /// Writes `k`, `v` (`[n_kv_heads, n, head_dim]`) at positions `pos..pos+n` of `layer` and
    /// returns views of positions `0..pos+n`.
    pub fn append(&mut self, layer: usize, pos: usize, k: Tensor<3>, v: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let [heads, n, dim] = k.dims();
        let c = &mut self.layers[layer];
        c.k.inplace(|t| t.slice_assign([0..heads, pos..pos + n, 0..dim], k));
        c.v.inplace(|t| t.slice_assign([0..heads, pos..pos + n, 0..dim], v));
        let end = pos + n;
        (c.k.clone().slice([0..heads, 0..end, 0..dim]), c.v.clone().slice([0..heads, 0..end, 0..dim]))
    }
}
