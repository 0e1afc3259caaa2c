// Runs a WebAssembly program built for wasm32-wasip1 under Node's WASI: the runner cargo uses
// for that target (.cargo/config.toml), so that `cargo test --target wasm32-wasip1` runs the
// CPU path's SIMD128 kernels natively, outside a browser (tests/cpu_kernels.rs). The whole file
// system is visible to the program, as to a native test binary.
import { readFile } from "node:fs/promises";
import process from "node:process";
import { WASI } from "node:wasi";

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error("usage: node scripts/wasi-run.mjs PROGRAM.wasm [ARGS...]");
  process.exit(2);
}
const wasi = new WASI({ version: "preview1", args: [file, ...args], env: process.env, preopens: { "/": "/" }, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
