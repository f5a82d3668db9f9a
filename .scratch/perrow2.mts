import { GradientSession } from "../src/runtime/gradient-session.js";
import { nodeBackend } from "../src/runtime/node.js";
import { autoChunkRows } from "../src/attribution/chunking.js";
import { int64, tensor } from "../src/tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../src/testing/fixtures.js";
const backend = nodeBackend({ gradientCache: false });
for (const [f, feeds, wrt] of [
  ["models/digits_cnn.onnx", { input: readNpyFixture("models/digits_X_test.npy") }, "input"],
  ["models/tiny_bert_emb2logits.onnx", { embeddings: tensor("float32", [4, 128, 64]), attention_mask: int64([4, 128], new Array(512).fill(1)) }, "embeddings"],
] as const) {
  const s = await GradientSession.create(backend, readModelFixture(f), feeds as never, { wrt: [wrt] });
  let b = 1; while (autoChunkRows(s.shapes, b) < 100) b *= 1.05;
  console.log(f, "bytes/row est:", (b / 100 / 1024).toFixed(0), "KiB");
  await s.dispose();
}
