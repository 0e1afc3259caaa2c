// A small static file server for the demo and the browser tests: loopback only, correct MIME
// types (`.wasm` must be application/wasm), text and wasm sent compressed (brotli or gzip, as
// the browser accepts) like any shop's server or CDN would, and optionally the strict
// Content-Security-Policy a shop would send.
//
//   node scripts/serve.mjs [--port 8080] [--csp] [--root DIR]
//
// As a module: `const server = await serve({ port: 0, csp: true })` -> { url, close(), requests }
// (each request's {method, url, bytes}: the body's bytes as sent, compressed where it was).

import { createServer } from "node:http";
import { createReadStream, promises as fs } from "node:fs";
import { promisify } from "node:util";
import zlib from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const STRICT_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".gguf": "application/octet-stream",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".csv": "text/csv; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".xml": "application/xml",
  ".tsv": "text/tab-separated-values; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/// Types worth compressing (the model is not: quantized weights barely compress, and its
/// Content-Length is the download's progress bar).
const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".wasm", ".svg", ".csv", ".txt", ".xml", ".tsv", ".webmanifest"]);

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/// Compressed bodies, by encoding, path and modification time: each is compressed once.
const compressed = new Map();

/** The body of `file` in `encoding` ("br" or "gzip"); brotli at a middle quality, which is
 * what servers compressing on the fly use (a CDN's precompressed files are ~15 % smaller). */
function compressedBody(file, stat, encoding) {
  const key = `${encoding} ${file} ${stat.mtimeMs}`;
  if (!compressed.has(key)) {
    const body = fs.readFile(file).then((raw) =>
      encoding === "br" ? brotli(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }) : gzip(raw, { level: 6 }),
    );
    compressed.set(key, body);
  }
  return compressed.get(key);
}

/** The encoding to send `ext` in, given the request's Accept-Encoding (or null). */
function encodingFor(ext, accept = "") {
  if (!COMPRESSIBLE.has(ext)) return null;
  const offered = accept.split(",").map((e) => e.trim().split(";")[0]);
  return offered.includes("br") ? "br" : offered.includes("gzip") ? "gzip" : null;
}

/// Top-level entries that may be served; everything else (.git, target, src...) is 404.
const ALLOWED = new Set(["index.html", "www", "pkg", "models", "demo", "tests", "favicon.ico"]);

/// `extra` maps URL prefixes to directories outside the allowed ones (the benchmark serves
/// wllama's files from node_modules this way).
export async function serve({ port = 8080, csp = false, compress = true, root = REPO, host = "127.0.0.1", log = false, extra = {} } = {}) {
  root = path.resolve(root);
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    const entry = { method: req.method, url: url.pathname + url.search, bytes: 0 };
    requests.push(entry);
    if (log) console.log(req.method, url.pathname);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    let rel = decodeURIComponent(url.pathname).replace(/^\/+/, "");
    if (rel === "") rel = "index.html";
    let file = path.resolve(root, rel);
    const top = rel.split("/")[0];
    const mapped = Object.entries(extra).find(([prefix]) => url.pathname.startsWith(prefix));
    if (mapped) {
      const [prefix, dir] = mapped;
      file = path.resolve(dir, decodeURIComponent(url.pathname.slice(prefix.length)));
      if (!file.startsWith(path.resolve(dir) + path.sep)) {
        res.writeHead(404).end("not found");
        return;
      }
    } else if (!file.startsWith(root + path.sep) || !ALLOWED.has(top)) {
      res.writeHead(404).end("not found");
      return;
    }
    let stat;
    try {
      stat = await fs.stat(file);
      if (!stat.isFile()) throw new Error("not a file");
    } catch {
      res.writeHead(404).end("not found");
      return;
    }
    const headers = {
      "Content-Type": MIME[path.extname(file)] || "application/octet-stream",
      "Content-Length": stat.size,
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
    };
    if (csp) headers["Content-Security-Policy"] = STRICT_CSP;
    // The demo's service worker lives in demo/ but serves the whole site.
    if (rel === "demo/sw.js") headers["Service-Worker-Allowed"] = "/";
    const encoding = compress ? encodingFor(path.extname(file), req.headers["accept-encoding"]) : null;
    if (encoding) {
      const body = await compressedBody(file, stat, encoding);
      res.writeHead(200, { ...headers, "Content-Encoding": encoding, "Content-Length": body.length, Vary: "Accept-Encoding" });
      if (req.method !== "HEAD") entry.bytes = body.length;
      return res.end(req.method === "HEAD" ? undefined : body);
    }
    res.writeHead(200, headers);
    if (req.method === "HEAD") return res.end();
    entry.bytes = stat.size;
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const port = Number(opt("--port") || 8080);
  const { url } = await serve({ port, csp: args.includes("--csp"), root: opt("--root") || REPO });
  console.log(`Aisle demo: ${url}/  (Ctrl-C to stop)`);
}
