// Runs the cases listed in /out/webgpu-check/cases.json with pathlens/web on WebGPU and leaves
// gradients and Hessian-vector products in window.pathlensResult for the test to compare.
import { decodeModel, GradientSession, parseNpy, webBackend } from "pathlens/web";

const status = document.getElementById("status");
const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const npy = async (url) => parseNpy(await get(url), url);

async function main() {
  if (!navigator.gpu || !(await navigator.gpu.requestAdapter()))
    throw new Error("no WebGPU adapter in this browser");
  const cases = await (await fetch("/out/webgpu-check/cases.json")).json();
  const backend = webBackend(
    { device: "webgpu" },
    { wasmPaths: "/node_modules/onnxruntime-web/dist/", numThreads: 1 },
  );
  const results = {};
  for (const c of cases) {
    status.textContent = `Running ${c.name}…`;
    const model = decodeModel(await get(c.model), c.model);
    const feeds = {};
    for (const [k, url] of Object.entries(c.feeds)) feeds[k] = await npy(url);
    const session = await GradientSession.create(backend, model, feeds, { wrt: [c.wrt], hvp: true });
    const seeds = {};
    for (const [k, url] of Object.entries(c.seeds)) seeds[k] = await npy(url);
    const out = await session.run(feeds, seeds, { [c.wrt]: await npy(c.v) });
    results[c.name] = {
      gradient: Array.from(out.gradients[c.wrt].data),
      hvp: Array.from(out.hvp[c.wrt].data),
    };
    await session.dispose();
  }
  status.textContent = "Done.";
  window.pathlensResult = { results };
}

main().catch((e) => {
  status.textContent = `Failed: ${e.message}`;
  window.pathlensResult = { error: String(e.stack ?? e) };
});
