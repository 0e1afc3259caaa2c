// Block formats beyond the default model's Q4_1/Q8_0, in the browser: the real SmolLM2
// requantized into a llama.cpp-style mix (Q5_0, Q5_1, Q8_0, Q4_K, Q6_K; query/key and value of
// different types, gate and up of different types) by `examples/test_models.rs`, run on WebGPU
// (the kernels' WGSL through Chromium's compiler, not only naga's) and on the CPU in wasm,
// against the native CLI on the same file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";
import { AISLE_BIN, referenceChats, nativeReply } from "./util.mjs";

const TOKENS = 10;
const DIR = mkdtempSync(path.join(tmpdir(), "aisle-formats-"));
// Beside the CLI in the same cargo target directory (CI builds outside the checkout).
const WRITER = process.env.AISLE_TEST_MODELS || path.join(path.dirname(AISLE_BIN), "examples/test_models");
let server;
let browser;
let file;

before(async () => {
  file = execFileSync(WRITER, [DIR], { encoding: "utf8" }).trim();
  server = await serve({ port: 0, extra: { "/formats/": DIR } });
  browser = await launch({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(DIR, { recursive: true, force: true });
});

for (const backend of ["webgpu", "cpu"]) {
  test(`${backend}: a K-quant mix of the real model loads quantized and answers as natively`, { timeout: 900_000 }, async () => {
    const chats = referenceChats().slice(0, 2);
    const page = await browser.context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/tests/browser/blank.html`);
    const r = await page.evaluate(
      async ({ backend, chats, n }) => {
        const { Aisle } = await import("/www/aisle.js");
        const a = await Aisle.load({ model: "/formats/smollm2-mixed.gguf", backend });
        const replies = [];
        for (const chat of chats) {
          let text = "";
          for await (const p of a.chat(chat.messages, { maxTokens: n })) text += p;
          replies.push(text);
        }
        const out = { backend: a.backend, weightBytes: a.weightBytes, replies };
        a.dispose();
        return out;
      },
      { backend, chats, n: TOKENS },
    );
    const size = Number(execFileSync("stat", ["-c", "%s", file], { encoding: "utf8" }));
    console.log(`${backend}: weights ${r.weightBytes} bytes for a ${size}-byte file`);
    assert.equal(r.backend, backend);
    // Quantized on both sides: within 1.1 x the file (an f32 fallback would be about 5 x).
    assert.ok(r.weightBytes < 1.1 * size, `weights ${r.weightBytes} for a ${size}-byte file`);
    let same = 0;
    for (const [i, chat] of chats.entries()) {
      const native = nativeReply(chat.messages, TOKENS, file).text;
      console.log(`${backend} ${chat.id}: ${JSON.stringify(r.replies[i])} ${r.replies[i] === native ? "same" : `DIFFERENT from ${JSON.stringify(native)}`}`);
      same += r.replies[i] === native;
    }
    assert.ok(same >= 1, `${backend}: ${same}/${chats.length} replies equal the native CLI's`);
    assert.deepEqual(errors, []);
    await page.close();
  });
}
