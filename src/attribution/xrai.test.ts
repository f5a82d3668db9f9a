import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { readImage } from "../io/image.js";
import { loadModel } from "../io/model-file.js";
import { nodeBackend } from "../runtime/node.js";
import { float32, toFloat64 } from "../tensor/tensor.js";
import { ROOT } from "../testing/cli.js";
import { readModelFixture } from "../testing/fixtures.js";
import { xraiImage, xraiMasks, xraiNpy } from "../testing/pair.js";
import { xrai } from "./xrai.js";
import { rankRegions } from "./xrai-regions.js";
import { dilateDisk, xraiSegments } from "./xrai-segments.js";

const H = 224;
const W = 224;

for (const algorithm of ["full", "fast"] as const) {
  test(`XRAI region ranking matches PAIR saliency given its segments (${algorithm})`, () => {
    const attr = toFloat64(xraiNpy("attr_max_f32"));
    const masks = xraiMasks(H * W);
    assert.equal(masks.length, 129);
    const r = rankRegions(attr, masks, { algorithm });
    const map = toFloat64(xraiNpy(`${algorithm}_map_from_f32`));
    const ranks = xraiNpy(`${algorithm}_ranks_from_f32`).data;
    let worst = 0;
    let rankDiff = 0;
    for (let i = 0; i < H * W; i++) {
      worst = Math.max(worst, Math.abs(r.map[i]! - map[i]!));
      if (r.ranks[i] !== Number(ranks[i])) rankDiff++;
    }
    console.log(
      `${algorithm}: ${r.regions.length} regions; max |map − PAIR| ${worst.toExponential(2)}; ${rankDiff} pixels with another rank`,
    );
    // PAIR averaged the float32 attribution in float32 (pairwise sums): ~1e-8 relative
    assert.ok(worst < 1e-9, `max abs ${worst}`);
    assert.equal(rankDiff, 0);
  });
}

test("dilateDisk of each reference segment gives PAIR's masks exactly", () => {
  const labels = xraiNpy("felzenszwalb_labels");
  const masks = xraiMasks(H * W);
  let k = 0;
  for (let s = 0; s < 6; s++) {
    const seg = labels.data.subarray(s * H * W, (s + 1) * H * W) as Int32Array;
    const count = Math.max(...seg) + 1;
    for (let l = 0; l < count; l++, k++) {
      const ours = dilateDisk(
        Uint8Array.from(seg, (v) => (v === l ? 1 : 0)),
        H,
        W,
        5,
      );
      assert.deepEqual(ours, masks[k], `scale ${s}, segment ${l}`);
    }
  }
  assert.equal(k, 129);
});

test("Felzenszwalb segmentation against scikit-image's labels at PAIR's six scales", () => {
  const img = xraiImage();
  const ref = xraiNpy("felzenszwalb_labels");
  const { labels } = xraiSegments(img.data, [H, W, 3]);
  const agreement: string[] = [];
  labels.forEach((ours, s) => {
    const theirs = ref.data.subarray(s * H * W, (s + 1) * H * W) as Int32Array;
    let same = 0;
    for (let i = 0; i < H * W; i++) if (ours[i] === theirs[i]) same++;
    agreement.push(
      `${Math.max(...ours) + 1}/${Math.max(...theirs) + 1} segments, ${((100 * same) / (H * W)).toFixed(2)} %`,
    );
    assert.equal(same, H * W, `scale index ${s}: ${agreement.at(-1)}`);
  });
  console.log(`labels equal per scale: ${agreement.join("; ")}`);
});

test("xrai: a bright square carrying all the attribution is the top region (own segmentation)", async () => {
  const S = 40;
  const x = float32([1, 3, S, S]);
  const attr = float32([1, 3, S, S]);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < S; y++)
      for (let xx = 0; xx < S; xx++) {
        const inside = y >= 8 && y < 24 && xx >= 10 && xx < 26;
        x.data[(c * S + y) * S + xx] = inside ? 1 : 0.1 * c + (0.2 * xx) / S;
        attr.data[(c * S + y) * S + xx] = inside ? 1 : 0.01 * ((y * 7 + xx * 3) % 5);
      }
  const r = await xrai(readModelFixture("models/digits_cnn.onnx"), {
    backend: nodeBackend(),
    inputs: { x },
    attributions: attr,
  });
  const e = r.examples[0]!;
  const top = e.regions[0]!;
  const inSquare = Array.from(top.pixels).filter((p) => {
    const y = Math.floor(p / S);
    const xx = p % S;
    return y >= 8 && y < 24 && xx >= 10 && xx < 26;
  }).length;
  assert.equal(inSquare, 16 * 16, "the whole square is in the first region");
  assert.equal(e.ranks[16 * S + 18], 1);
  // every pixel is ranked, the map is non-increasing along the ranks
  assert.ok(e.ranks.every((v) => v >= 1));
  for (let k = 1; k < e.regions.length - 1; k++) assert.ok(e.regions[k]!.gain <= e.regions[k - 1]!.gain);
});

test("xrai with its default IG base attribution (black + white baselines) on the shapes model", async () => {
  const dir = join(ROOT, "examples", "image-shapes");
  const model = await loadModel(join(dir, "model.onnx"));
  const image = await readImage(join(dir, "circle.png"));
  const x = float32([1, 3, image.height, image.width]);
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < image.height * image.width; p++)
      x.data[c * image.height * image.width + p] = (image.data[p * 4 + c]! / 255 - 0.5) / 0.5;
  const r = await xrai(model, { backend: nodeBackend(), inputs: { image: x }, target: 0, steps: 16 });
  const e = r.examples[0]!;
  assert.equal(e.map.length, image.height * image.width);
  assert.ok(e.regions.length >= 2);
  assert.ok(Number.isFinite(e.regions[0]!.gain));
  // pixelAttribution is the channel max of the base attribution
  const b = r.baseAttribution.data;
  const P = image.height * image.width;
  for (const p of [0, 17, P - 1])
    assert.equal(e.pixelAttribution[p], Math.max(b[p]!, b[P + p]!, b[2 * P + p]!));
});
