// Launching Debian's Chromium headless for our browser tests, with WebGPU on SwiftShader (flags below).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const EXECUTABLE = process.env.CHROMIUM || "/usr/bin/chromium";

const BASE_FLAGS = [
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/// Without these four, navigator.gpu.requestAdapter() resolves to null (the no-GPU case).
export const WEBGPU_FLAGS = [
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-vulkan=swiftshader",
  "--use-webgpu-adapter=swiftshader",
];

/// A persistent context in a fresh profile directory (removed on close).
export async function launch({ webgpu = true, viewport = { width: 1280, height: 800 } } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "aisle-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: EXECUTABLE,
    headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : [])],
    viewport,
  });
  const close = async () => {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { context, close };
}
