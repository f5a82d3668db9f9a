// CommonJS (the "type" that `npm init -y` writes): no top-level await, so wrap the calls in a function.
// require() of this ES module needs Node ≥ 20.19; on older Node use `await import("pathlens/node")` inside main().
const { exampleFile, integratedGradients, loadModel, nodeBackend, readNpy } = require("pathlens/node");

async function main() {
  const model = await loadModel(exampleFile("digits/digits_cnn.onnx"));
  const x = await readNpy(exampleFile("digits/digits_sample.npy"));
  const r = await integratedGradients(model, { backend: nodeBackend(), inputs: { input: x }, target: 3 });
  console.log(r.attributions.input.dims, r.delta);
}
main();
