// Which backend "auto" means on this machine. A hardware GPU adapter: WebGPU. No adapter: the
// CPU (wasm SIMD). A software adapter (SwiftShader, `isFallbackAdapter`): whichever a short
// probe measures faster (one decode-sized quantized product on each side, the shader compiled
// first: about 0.4 s on SwiftShader). The verdict is remembered per adapter in Cache Storage,
// so that only the first visit pays for the probe (a cached load is about 1.2 s on its own).

const CACHE = "aisle-probe-v1";
/** Re-measure after this long: browsers and drivers update. */
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

/** The adapter's identity, as the verdict's key. */
function adapterKey(info) {
  const parts = [info.vendor, info.architecture, info.device, info.description, self.navigator?.hardwareConcurrency];
  return new Request(`https://aisle.invalid/probe/${encodeURIComponent(parts.join("|"))}`);
}

async function recall(key) {
  try {
    const res = await (await caches.open(CACHE)).match(key);
    const v = res && (await res.json());
    if (v && Date.now() - v.at < MAX_AGE_MS && typeof v.cpuMs === "number") return v;
  } catch {
    // no storage, or a damaged entry: measure again
  }
  return null;
}

async function remember(key, v) {
  try {
    await (await caches.open(CACHE)).put(key, new Response(JSON.stringify(v), { headers: { "content-type": "application/json" } }));
  } catch {
    // no storage: the next visit measures again
  }
}

/**
 * Resolves `requested` ("auto", "webgpu" or "cpu") to `{backend, probe}`; `probe` is how a
 * software adapter was judged: `{cpuMs, webgpuMs, ms, remembered}`, else null. `measure` is
 * the wasm `probeBackends`.
 */
export async function resolveBackend(requested, measure) {
  if (requested !== "auto") return { backend: requested, probe: null };
  if (!self.navigator?.gpu) return { backend: "cpu", probe: null };
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter) return { backend: "cpu", probe: null };
  const info = adapter.info || {};
  if (!(info.isFallbackAdapter || adapter.isFallbackAdapter)) return { backend: "webgpu", probe: null };
  const key = self.caches ? adapterKey(info) : null;
  const t0 = performance.now();
  let probe = key && (await recall(key));
  if (probe) {
    probe = { ...probe, remembered: true };
  } else {
    probe = { ...(await measure()), at: Date.now(), remembered: false };
    if (key) await remember(key, probe);
  }
  probe.ms = performance.now() - t0;
  const gpuFaster = probe.webgpuMs != null && probe.webgpuMs < probe.cpuMs;
  return { backend: gpuFaster ? "webgpu" : "cpu", probe };
}
