import { exampleFile, explainImage, loadModel, nodeBackend, readImage } from "pathlens/node";

const model = await loadModel(exampleFile("image-shapes/model.onnx"));
const image = await readImage(exampleFile("image-shapes/circle.png"));
const r = await explainImage(model, image, {
  backend: nodeBackend(),
  preprocess: { resize: 32, scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  labels: ["circle", "square", "triangle"],
  target: "square", // a class index or name; default: the predicted class
});
console.log(r.prediction, r.target, r.delta); // r.pixels, r.overlay / r.window: RGBA pictures
