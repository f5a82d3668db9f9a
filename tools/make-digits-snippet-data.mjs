// Small inputs for the README's command-line examples (examples/snippets/cli.sh), cut from the
// bundled digits: cotangent_class3.npy (12, 10) selects logit 3 of each sample digit; fives.npy
// holds the first 16 fives of digits_test.npy and others.npy 16 seeded random test digits (the
// null group of `pathlens significance`). Run after `npm run build`: node tools/make-digits-snippet-data.mjs
import { float32, Random, readNpy, tensor, writeNpy } from "../dist/node.js";

const dir = new URL("../examples/digits/", import.meta.url).pathname;
await writeNpy(
  `${dir}cotangent_class3.npy`,
  float32(
    [12, 10],
    Array.from({ length: 120 }, (_, i) => (i % 10 === 3 ? 1 : 0)),
  ),
);
const x = await readNpy(`${dir}digits_test.npy`);
const labels = Array.from((await readNpy(`${dir}digits_test_labels.npy`)).data, Number);
const pick = (rows) => {
  const out = tensor("float32", [rows.length, 1, 8, 8]);
  rows.forEach((r, k) => out.data.set(x.data.subarray(r * 64, (r + 1) * 64), k * 64));
  return out;
};
const rng = new Random(5);
await writeNpy(`${dir}fives.npy`, pick(labels.flatMap((l, i) => (l === 5 ? [i] : [])).slice(0, 16)));
await writeNpy(`${dir}others.npy`, pick(Array.from({ length: 16 }, () => rng.int(labels.length))));
