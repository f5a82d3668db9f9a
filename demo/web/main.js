// The browser demo: fetch the model and a few digits, explain them with pathlens/web, draw the maps.
import { decodeModel, integratedGradients, parseNpy, webBackend } from "pathlens/web";

const status = document.getElementById("status");

function color(v, max) {
  const t = Math.max(-1, Math.min(1, v / (max || 1)));
  const [r, g, b] = t >= 0 ? [230, 97, 1] : [94, 60, 153];
  const a = Math.abs(t);
  return `rgb(${Math.round(255 - a * (255 - r))},${Math.round(255 - a * (255 - g))},${Math.round(255 - a * (255 - b))})`;
}

function map(values, offset) {
  let max = 0;
  for (let i = 0; i < 64; i++) max = Math.max(max, Math.abs(values[offset + i]));
  const cells = [];
  for (let i = 0; i < 64; i++) {
    const v = values[offset + i];
    cells.push(
      `<rect x="${(i % 8) * 20}" y="${Math.floor(i / 8) * 20}" width="20" height="20" fill="${color(v, max)}" data-value="${v}"><title>pixel (${Math.floor(i / 8)}, ${i % 8}): ${v.toPrecision(4)}</title></rect>`,
    );
  }
  return `<svg width="160" height="160" role="img" aria-label="attribution map">${cells.join("")}</svg>`;
}

async function main() {
  const [modelBytes, xBytes, labelBytes] = await Promise.all(
    ["digits_cnn.onnx", "digits_sample.npy", "digits_sample_labels.npy"].map((f) =>
      fetch(`/examples/digits/${f}`).then((r) => r.arrayBuffer()),
    ),
  );
  const model = decodeModel(new Uint8Array(modelBytes), "digits_cnn.onnx");
  const all = parseNpy(new Uint8Array(xBytes), "digits_sample.npy");
  const labels = parseNpy(new Uint8Array(labelBytes), "digits_sample_labels.npy");
  const n = 6;
  const x = { dtype: all.dtype, dims: [n, ...all.dims.slice(1)], data: all.data.slice(0, n * 64) };
  const target = Array.from(labels.data.slice(0, n), Number);
  const backend = webBackend({}, { wasmPaths: "/node_modules/onnxruntime-web/dist/", numThreads: 1 });
  const started = performance.now();
  const r = await integratedGradients(model, {
    backend,
    inputs: { input: x },
    target,
    steps: 50,
    onProgress: (p) => (status.textContent = `Explaining… ${p.done}/${p.total} gradient evaluations`),
  });
  const seconds = (performance.now() - started) / 1000;
  const a = r.attributions.input.data;
  document.getElementById("digits").innerHTML = target
    .map(
      (t, i) =>
        `<figure data-example="${i}" data-delta="${r.delta[i]}">${map(a, i * 64)}<figcaption>label ${t}, delta ${r.delta[i].toExponential(1)}</figcaption></figure>`,
    )
    .join("");
  status.textContent = `Done in ${seconds.toFixed(2)} s (onnxruntime-web, wasm).`;
  window.pathlensResult = { attributions: Array.from(a), delta: Array.from(r.delta), seconds };
}

main().catch((e) => {
  status.textContent = `Failed: ${e.message}`;
  console.error(e);
  window.pathlensResult = { error: String(e) };
});
