import { GradientSession } from "../src/runtime/gradient-session.js";
import { nodeBackend } from "../src/runtime/node.js";
import { autoChunkRows } from "../src/attribution/chunking.js";
import { float32, int64, tensor } from "../src/tensor/tensor.js";
import { readModelFixture, readNpyFixture } from "../src/testing/fixtures.js";
const backend = nodeBackend({ gradientCache: false });
for (const [f, feeds, wrt] of [
  ["models/digits_cnn.onnx", { input: readNpyFixture("models/digits_X_test.npy") }, "input"],
  ["models/tiny_bert_emb2logits.onnx", { embeddings: tensor("float32", [4, 128, 64]), attention_mask: int64([4, 128], new Array(512).fill(1)) }, "embeddings"],
  ["models/resnet18.onnx", { input: tensor("float32", [2, 3, 224, 224]) }, "input"],
] as const) {
  const s = await GradientSession.create(backend, readModelFixture(f), feeds as never, { wrt: [wrt] });
  const big = autoChunkRows(s.shapes, 2 ** 40);
  console.log(f, "rows at 512MiB:", autoChunkRows(s.shapes), "bytes/row est:", ((512 * 2 ** 20) / autoChunkRows(s.shapes, 512 * 2 ** 20)).toFixed(0), big);
  await s.dispose();
}
