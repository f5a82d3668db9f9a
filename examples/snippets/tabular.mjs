import { exampleFile, explainTabular, loadModel, nodeBackend, readNumericCsv } from "pathlens/node";

const model = await loadModel(exampleFile("tabular/model.onnx"));
const rows = await readNumericCsv(exampleFile("tabular/rows.csv"));
const r = await explainTabular(model, rows, { backend: nodeBackend() });
console.log(r.features, r.attributions.length); // rows × features attributions, row-major
