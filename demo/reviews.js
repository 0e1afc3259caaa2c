// The merchant's review summary: counts and themes computed by Aisle's wasm in this tab, then a
// short written summary streamed by the model, grounded in those numbers.
import { Aisle } from "../www/aisle.js";

const MODEL = "../models/SmolLM2-135M-Instruct.Q4_1.gguf";
const SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const $ = (id) => document.getElementById(id);

function el(tag, ...children) {
  const node = document.createElement(tag);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

let aisle = null;
async function assistant() {
  aisle ??= await Aisle.load({
    model: MODEL,
    sha256: SHA256,
    onProgress: ({ phase, loaded, total }) => ($("status").textContent = phase === "download" ? `Loading the model… ${Math.round((100 * loaded) / (total || 1))}%` : "Preparing…"),
  });
  return aisle;
}

async function summarise(text) {
  try {
    const a = await assistant();
    $("status").textContent = "Analysing…";
    const report = await a.analyzeReviews(text);
    $("sentiment").replaceChildren(
      el("li", `${report.total} reviews`),
      el("li", `${report.positive} positive`),
      el("li", `${report.neutral} neutral`),
      el("li", `${report.negative} negative`),
      ...(report.averageRating != null ? [el("li", `average rating ${report.averageRating} / 5`)] : []),
    );
    $("themes").replaceChildren(...report.themes.map((t) => el("tr", el("td", t.name), el("td", t.mentions), el("td", t.positive), el("td", t.negative), el("td", el("q", t.quotes[0] ?? "")))));
    $("complaints").replaceChildren(...report.complaints.map((c) => el("li", `${c.product_id}: ${c.negative} negative of ${c.reviews} reviews${c.average_rating != null ? `, average ${c.average_rating}` : ""}`)));
    $("report").hidden = false;
    $("summary").textContent = "";
    $("status").textContent = "Writing a summary…";
    for await (const ev of a.summarizeReviews(text)) if (ev.type === "text") $("summary").textContent += ev.text;
    $("status").textContent = "Done.";
  } catch (e) {
    $("status").textContent = `Could not summarise these reviews: ${e.message}`;
  }
}

$("file").addEventListener("change", async () => {
  const f = $("file").files[0];
  if (f) summarise(await f.text());
});
$("sample").addEventListener("click", async () => summarise(await (await fetch("reviews.json")).text()));
