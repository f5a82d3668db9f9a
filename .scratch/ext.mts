import { readFileSync, statSync } from "node:fs";
import * as ort from "onnxruntime-node";
const dir = "/tmp/st/cache/";
const files = ["3d9dcc73b6183df2d3816c0b2192739d5f368844bd4be9ac10da27bc0524d8de", "fbf8cd922e45a48df142eaaeaac2f174287632a972301dcddbd798e208c848c1"];
const model = readFileSync(dir + files[1] + ".plgc");
const out = "/tmp/st/ext/";
await import("node:fs").then((fs) => fs.mkdirSync(out, { recursive: true }));
const s1 = await ort.InferenceSession.create(model, {
  graphOptimizationLevel: "all",
  optimizedModelFilePath: out + "opt.onnx",
  logSeverityLevel: 3,
  extra: { session: { optimized_model_external_initializers_file_name: "opt.bin", optimized_model_external_initializers_min_size_in_bytes: "1024" } },
});
await s1.release();
console.log("sizes", statSync(out + "opt.onnx").size, statSync(out + "opt.bin").size);
const T: Record<string, number[]> = {};
for (let r = 0; r < 4; r++) {
  for (const [k, f] of [["inline", dir + files[0] + ".plgc"], ["external", out + "opt.onnx"]] as const) {
    const a = performance.now();
    const s = await ort.InferenceSession.create(f, { graphOptimizationLevel: "disabled" });
    (T[k] ??= []).push(performance.now() - a);
    await s.release();
  }
}
console.log(T);
