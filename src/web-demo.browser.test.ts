/**
 * pathlens in a real browser: the demo page (demo/web) imports dist/web.js and onnxruntime-web
 * (wasm) in headless Chromium, explains six digits and must agree with onnxruntime-node.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
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

test("the browser demo explains digits with pathlens/web in Chromium, matching onnxruntime-node", {
  skip,
  timeout: 120_000,
}, async () => {
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
    await page.goto(`${server.url}/demo/web/`);
    await page.waitForFunction(
      () => (window as unknown as { pathlensResult?: unknown }).pathlensResult,
      undefined,
      { timeout: 100_000 },
    );
    const result = (await page.evaluate(
      () => (window as unknown as { pathlensResult: unknown }).pathlensResult,
    )) as {
      attributions?: number[];
      error?: string;
    };
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(errors, []);
    assert.equal(await page.locator("figure[data-example]").count(), 6);
    const x = await readNpy(join(ROOT, "examples", "digits", "digits_sample.npy"));
    const labels = await readNpy(join(ROOT, "examples", "digits", "digits_sample_labels.npy"));
    const six = { ...x, dims: [6, 1, 8, 8], data: x.data.slice(0, 6 * 64) };
    const node = await integratedGradients(readModelFixture("models/digits_cnn.onnx"), {
      backend: nodeBackend(),
      inputs: { input: six },
      target: Array.from(labels.data.slice(0, 6) as BigInt64Array, Number),
      steps: 50,
    });
    assert.ok(relativeL2(result.attributions!, node.attributions.input!.data) < 1e-5);
    await page.screenshot({ path: join(ROOT, "out", "screenshots", "web-demo.png"), fullPage: true });
  } finally {
    await browser.close();
    server.close();
  }
});
