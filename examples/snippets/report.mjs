import { exampleFile, explainText, loadTextModel, nodeBackend, renderReport, visualize } from "pathlens/node";

const model = await loadTextModel(exampleFile("text-sentiment"));
const r = await explainText(model, "a wonderful film", { backend: nodeBackend() });
const file = await visualize(r, "out/report.html", { trueLabel: "POSITIVE" }); // one self-contained page
const html = renderReport(r); // the same page as a string (also in pathlens/web, for a browser)
console.log(file, html.length);
