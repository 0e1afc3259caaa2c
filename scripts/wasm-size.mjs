// Prints a .wasm file's raw and brotli sizes (what a shop's server would send).
import { readFileSync } from "node:fs";
import { brotliCompressSync, constants } from "node:zlib";

export function wasmSizes(file) {
  const raw = readFileSync(file);
  const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } });
  return { raw: raw.length, brotli: br.length };
}

if (process.argv[2]) {
  const { raw, brotli } = wasmSizes(process.argv[2]);
  console.log(`${process.argv[2]}: ${raw} bytes raw, ${brotli} bytes brotli (${(brotli / 1048576).toFixed(2)} MiB)`);
}
