import { exampleFile, float32, GradientSession, loadModel, nodeBackend, readNpy } from "pathlens/node";

const model = await loadModel(exampleFile("digits/digits_cnn.onnx"));
const x = await readNpy(exampleFile("digits/digits_sample.npy")); // (12, 1, 8, 8)
const seed = float32([12, 10], Array.from({ length: 120 }, (_, i) => (i % 10 === 3 ? 1 : 0))); // d logit₃
const v = float32(x.dims, Array.from(x.data, () => 1)); // direction of the Hessian-vector product
const s = await GradientSession.create(nodeBackend(), model, { input: x }, { wrt: ["input"], hvp: true });
const { outputs, gradients, hvp } = await s.run({ input: x }, { logits: seed }, { input: v });
console.log(outputs.logits.dims, gradients.input.dims, hvp.input.dims);
await s.dispose();
