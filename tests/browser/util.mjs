// Shared helpers for the browser tests: the native CLI as the oracle, the reference chats.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const MODEL_URL = "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
export const MODEL_PATH = path.join(REPO, "models/SmolLM2-135M-Instruct.Q4_1.gguf");
export const MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
export const AISLE_BIN = process.env.AISLE_BIN || path.join(REPO, "target/release/aisle");

export function referenceChats() {
  return JSON.parse(readFileSync(path.join(REPO, "tests/reference/prompts.json"), "utf8"));
}

/// The native CLI's greedy reply to `messages` (same library, CPU device), by default with the
/// default model.
export function nativeReply(messages, maxTokens, model = MODEL_PATH) {
  const dir = mkdtempSync(path.join(tmpdir(), "aisle-native-"));
  const file = path.join(dir, "messages.json");
  writeFileSync(file, JSON.stringify(messages));
  // The oracle is the f32 implementation (`generate` without --int8-decode).
  const out = execFileSync(AISLE_BIN, ["generate", "--model", model, "--messages", file, "--max-tokens", String(maxTokens), "--device", "cpu", "--json"], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

export function nativeTokenize(text, special) {
  const args = ["tokenize", "--model", MODEL_PATH, ...(special ? ["--special"] : [])];
  return JSON.parse(execFileSync(AISLE_BIN, args, { input: text, encoding: "utf8" }));
}

/** Records CSP violations and script errors from the first moment of every page. */
export async function instrument(page, sink) {
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on("pageerror", (e) => sink.push(`pageerror: ${e.message}`));
}

/**
 * What the widget's shadow DOM holds after hostile input: whether a payload ran, elements our
 * own markup never has (one form, the composer, and our stylesheet link aside), event-handler
 * or CSS `url()` attributes, links, image sources, card titles and the log's text.
 */
export function inspectWidget(page) {
  return page.evaluate(() => {
    const root = document.querySelector("aisle-assistant").shadowRoot;
    const ours = (e) => e.tagName === "LINK" && e.getAttribute("rel") === "stylesheet" && /\/www\/widget\.css$/.test(e.href);
    const bad = [...root.querySelectorAll("script, iframe, object, embed, style, svg, math, input, meta, base, body, video, details, template, link")].filter((e) => !ours(e)).map((e) => e.outerHTML.slice(0, 80));
    if (root.querySelectorAll("form").length !== 1) bad.push("form");
    const handlers = [...root.querySelectorAll("*")].filter((e) => [...e.attributes].some((a) => a.name.startsWith("on") || (a.name === "style" && /url\(/.test(a.value)))).length;
    const links = [...root.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    const imgs = [...root.querySelectorAll("img")].map((i) => i.getAttribute("src")).filter(Boolean);
    const titles = [...root.querySelectorAll(".card h3")].map((h) => h.textContent);
    return { xss: window.__xss ?? null, bad, handlers, links, imgs, titles, text: root.querySelector(".log").textContent };
  });
}

/** XSS payloads: for catalog fields, policy text, (through extractive answers) model output, share links. */
export const PAYLOADS = [
  `<script>window.__xss="script"</script>`,
  `<img src=x onerror="window.__xss='img'">`,
  `<svg onload="window.__xss='svg'"></svg>`,
  `<svg><script>window.__xss='svg-script'</script></svg>`,
  `<iframe src="javascript:window.parent.__xss='iframe'"></iframe>`,
  `<a href="javascript:window.__xss='href'">click</a>`,
  `<body onload="window.__xss='body'">`,
  `<input autofocus onfocus="window.__xss='focus'">`,
  `<details open ontoggle="window.__xss='toggle'">`,
  `<video><source onerror="window.__xss='video'"></video>`,
  `<math><mtext><table><mglyph><style><img src=x onerror="window.__xss='math'">`,
  `<style>*{background:url("javascript:window.__xss='css'")}</style>`,
  `<div style="background-image:url(javascript:window.__xss='style')">`,
  `<link rel=stylesheet href="https://evil.example/x.css">`,
  `<meta http-equiv="refresh" content="0;url=javascript:window.__xss='meta'">`,
  `<object data="javascript:window.__xss='object'"></object>`,
  `<embed src="javascript:window.__xss='embed'">`,
  `"><script>window.__xss='attr-break'</script>`,
  `'><img src=x onerror=window.__xss='quote'>`,
  `<base href="https://evil.example/">`,
  `<form action="https://evil.example/"><button>go</button></form>`,
  `{{constructor.constructor('window.__xss="template"')()}}`,
  `<template><script>window.__xss='template-el'</script></template>`,
  `<img src="data:image/svg+xml,<svg onload=window.__xss='data-svg'>">`,
];

