import { exampleFile, explainText, loadTextModel, nodeBackend } from "pathlens/node";

const model = await loadTextModel(exampleFile("text-sentiment"));
const r = await explainText(model, "a wonderful film", { backend: nodeBackend() });
console.log(r.words.map((w) => `${w.word} ${w.score.toFixed(3)}`).join(", "));
console.log(r.prediction.label, r.delta);
