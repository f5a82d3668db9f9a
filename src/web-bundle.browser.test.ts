/**
 * pathlens/web bundled for a page, as the README's bundling paragraph says: the browser demo's
 * script (demo/web/main.js, which sets `wasmPaths`) built with esbuild and with Vite, served with
 * onnxruntime-web's wasm files, run in headless Chromium; the digits attributions must match
 * onnxruntime-node to 1e-5.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { integratedGradients } from "./attribution/ig.js";
import { readNpy } from "./io/npy.js";
import { nodeBackend } from "./runtime/node.js";
import { relativeL2 } from "./tensor/tensor.js";
import { chromiumPath } from "./testing/browser.js";
import { ROOT } from "./testing/cli.js";
import { readModelFixture } from "./testing/fixtures.js";

const skip = !chromiumPath()
  ? "no Chromium installed (tools/install-browser.sh installs Debian's chromium)"
  : !existsSync(join(ROOT, "dist", "web.js")) && "dist/ not built (npm test builds it)";

const ENTRY = join(ROOT, "demo", "web", "main.js");
const ALIAS = { "pathlens/web": join(ROOT, "dist", "web.js") };
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>bundled</title></head>
<body><p id="status">Loading…</p><div id="digits"></div><script type="module" src="./main.js"></script></body></html>\n`;

/** Opens the page at `path` of the repository server; returns the attributions it computed. */
async function runPage(path: string): Promise<number[]> {
  const { serve } = (await import(pathToFileURL(join(ROOT, "demo", "serve.mjs")).href)) as {
    serve: () => Promise<{ url: string; close: () => void }>;
  };
  const server = await serve();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: chromiumPath()!, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${server.url}${path}`);
    await page.waitForFunction(
      () => (window as unknown as { pathlensResult?: unknown }).pathlensResult,
      undefined,
      {
        timeout: 100_000,
      },
    );
    const result = (await page.evaluate(
      () => (window as unknown as { pathlensResult: unknown }).pathlensResult,
    )) as {
      attributions?: number[];
      error?: string;
    };
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(errors, []);
    return result.attributions!;
  } finally {
    await browser.close();
    server.close();
  }
}

let reference: Float64Array | undefined;
/** The same six digits explained with onnxruntime-node. */
async function nodeAttributions(): Promise<Float64Array> {
  if (reference) return reference;
  const x = await readNpy(join(ROOT, "examples", "digits", "digits_sample.npy"));
  const labels = await readNpy(join(ROOT, "examples", "digits", "digits_sample_labels.npy"));
  const six = { ...x, dims: [6, 1, 8, 8], data: x.data.slice(0, 6 * 64) };
  const r = await integratedGradients(readModelFixture("models/digits_cnn.onnx"), {
    backend: nodeBackend(),
    inputs: { input: six },
    target: Array.from(labels.data.slice(0, 6) as BigInt64Array, Number),
    steps: 50,
  });
  reference = r.attributions.input!.data;
  return reference;
}

test("esbuild bundle of a pathlens/web page explains digits in Chromium like onnxruntime-node", {
  skip,
  timeout: 180_000,
}, async () => {
  const out = join(ROOT, "out", "bundle-esbuild");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: "esm",
    platform: "browser",
    outfile: join(out, "main.js"),
    alias: ALIAS,
    logLevel: "error",
  });
  writeFileSync(join(out, "index.html"), PAGE);
  const got = await runPage("/out/bundle-esbuild/");
  assert.ok(relativeL2(got, await nodeAttributions()) < 1e-5);
});

test("Vite build of a pathlens/web page explains digits in Chromium like onnxruntime-node", {
  skip,
  timeout: 180_000,
}, async () => {
  const out = join(ROOT, "out", "bundle-vite");
  const src = join(ROOT, "out", "bundle-vite-src");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "index.html"), PAGE.replace("./main.js", "/main.js"));
  writeFileSync(join(src, "main.js"), `import ${JSON.stringify(pathToFileURL(ENTRY).pathname)};\n`);
  const vite = await import("vite");
  await vite.build({
    root: src,
    base: "/out/bundle-vite/",
    logLevel: "error",
    configFile: false,
    resolve: { alias: ALIAS },
    build: { outDir: out, emptyOutDir: true, target: "es2022" },
  });
  const got = await runPage("/out/bundle-vite/");
  assert.ok(relativeL2(got, await nodeAttributions()) < 1e-5);
});
