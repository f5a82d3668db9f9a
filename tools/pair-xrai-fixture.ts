/**
 * Derives the small XRAI fixtures of test/fixtures/pair/xrai/ from the shared PAIR references
 * (../shared/fixtures/pair, or $PAIR_FIXTURES): the channel-max of the float32 base attribution
 * (what XRAI ranks), the candidate masks, the reference Felzenszwalb labels, and PAIR's outputs,
 * each gzipped .npy. Run: node --import tsx tools/pair-xrai-fixture.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeNpy, parseNpy } from "../src/io/npy.js";
import { tensor } from "../src/tensor/tensor.js";

const src =
  process.env.PAIR_FIXTURES ?? join(import.meta.dirname, "..", "..", "..", "shared", "fixtures", "pair");
const out = join(import.meta.dirname, "..", "test", "fixtures", "pair", "xrai");
mkdirSync(out, { recursive: true });
const read = (f: string) => parseNpy(readFileSync(join(src, f)), f);
/** pathlens reads no int16 .npy: the labels (small integers) are stored as int32. */
const readInt16 = (f: string) => {
  const bytes = readFileSync(join(src, f));
  const headerLen = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLen).toString("latin1");
  if (!header.includes("'<i2'")) throw new Error(`${f}: expected int16`);
  const dims = /'shape': \(([^)]*)\)/
    .exec(header)![1]!
    .split(",")
    .filter((s) => s.trim())
    .map(Number);
  const data = new Int32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = bytes.readInt16LE(10 + headerLen + 2 * i);
  return tensor("int32", dims, data);
};
const write = (name: string, t: ReturnType<typeof read>) => {
  const bytes = gzipSync(encodeNpy(t), { level: 9 });
  writeFileSync(join(out, `${name}.npy.gz`), bytes);
  console.log(`${name}: ${bytes.length} bytes`);
};

for (const precision of ["f32", "f64"] as const) {
  const base = read(`xrai__img1_base_attribution_${precision}.npy`);
  const [H, W, C] = base.dims as [number, number, number];
  const max = tensor(base.dtype, [H, W]);
  for (let p = 0; p < H * W; p++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) m = Math.max(m, Number(base.data[p * C + c]));
    max.data[p] = m;
  }
  if (precision === "f32") write("attr_max_f32", max);
  else if (process.env.PAIR_XRAI_F64) write("attr_max_f64", max);
}
write("masks_packbits", read("xrai__img1_segment_masks_packbits.npy"));
write("felzenszwalb_labels", readInt16("xrai__img1_felzenszwalb_labels.npy"));
// the image, losslessly and small: its distinct float32 values, and per channel plane the
// row-wise differences of each pixel's index into them (a smooth ramp: mostly 0 and ±1)
{
  const img = read("xrai__img1_image_hwc.npy");
  const [H, W, C] = img.dims as [number, number, number];
  const d = img.data as Float32Array;
  const values = [...new Set(d)].sort((a, b) => a - b);
  const index = new Map(values.map((v, i) => [v, i]));
  const deltas = new Int32Array(d.length);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const at = (xx: number) => index.get(d[(y * W + xx) * C + c]!)!;
        deltas[(c * H + y) * W + x] = x === 0 ? at(0) : at(x) - at(x - 1);
      }
  write("image_values", tensor("float32", [values.length], Float32Array.from(values)));
  write("image_index_deltas_chw", tensor("int32", [C, H, W], deltas));
}
for (const alg of ["full", "fast"]) {
  write(`${alg}_map_from_f32`, read(`xrai__${alg}__img1__attribution_mask_from_f32_attr.npy`));
  write(`${alg}_ranks_from_f32`, read(`xrai__${alg}__img1__segment_ranks_from_f32_attr.npy`));
}
