import { exampleFile, integratedGradients, loadModel, nodeBackend, readNpy } from "pathlens/node";

const model = await loadModel(exampleFile("digits/digits_cnn.onnx"));
const x = await readNpy(exampleFile("digits/digits_sample.npy")); // (12, 1, 8, 8) float32
const r = await integratedGradients(model, { backend: nodeBackend(), inputs: { input: x }, target: 3 });
console.log(r.attributions.input.dims); // [12, 1, 8, 8]: float64 attributions shaped like x
console.log(r.delta); // Σ attributions − (F(x) − F(x')) per example (completeness check)
