// The plain chat page (index.html): load the model with a progress bar, then stream answers.
import { Aisle } from "./aisle.js";

const MODEL = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

const $ = (id) => document.getElementById(id);

async function main() {
  const params = new URLSearchParams(location.search);
  let aisle;
  try {
    aisle = await Aisle.load({
      model: MODEL,
      sha256: MODEL_SHA256,
      backend: params.get("backend") || "auto",
      onProgress: ({ phase, loaded, total }) => {
        $("phase").textContent = phase === "download" ? `Downloading the model… ${(loaded / 1e6).toFixed(1)} MB` : phase === "prepare" ? "Preparing…" : "Ready";
        $("progress").value = total ? loaded / total : 0;
      },
    });
  } catch (e) {
    $("phase").textContent = `Could not load the assistant: ${e.message}`;
    $("phase").classList.add("error");
    return;
  }
  $("loading").hidden = true;
  $("backend").textContent = aisle.backend;
  $("adapter").textContent = aisle.backend === "webgpu" ? `(${aisle.adapter})` : "";
  $("send").disabled = false;

  let controller = null;
  $("stop").addEventListener("click", () => controller?.abort());
  $("ask").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("prompt").value.trim();
    if (!text) return;
    controller = new AbortController();
    $("send").disabled = true;
    $("stop").disabled = false;
    $("answer").textContent = "";
    $("answer").classList.remove("error");
    const stream = aisle.chat([{ role: "user", content: text }], { maxTokens: 256, signal: controller.signal });
    try {
      for await (const piece of stream) $("answer").textContent += piece; // text, never HTML
      const s = aisle.stats;
      if (s) $("stats").textContent = `${s.promptTokens} prompt tokens at ${s.prefillTps.toFixed(1)} tok/s · ${s.generatedTokens} generated at ${s.decodeTps.toFixed(1)} tok/s`;
    } catch (e) {
      $("answer").textContent = `Error: ${e.message}`;
      $("answer").classList.add("error");
    } finally {
      $("send").disabled = false;
      $("stop").disabled = true;
    }
  });
}

main();
