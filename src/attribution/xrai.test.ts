import assert from "node:assert/strict";
import { test } from "node:test";
import { toFloat64 } from "../tensor/tensor.js";
import { xraiImage, xraiMasks, xraiNpy } from "../testing/pair.js";
import { dilateDisk, xraiSegments } from "./xrai-segments.js";
import { rankRegions } from "./xrai-regions.js";

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
    console.log(`${algorithm}: ${r.regions.length} regions; max |map − PAIR| ${worst.toExponential(2)}; ${rankDiff} pixels with another rank`);
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
      const ours = dilateDisk(Uint8Array.from(seg, (v) => (v === l ? 1 : 0)), H, W, 5);
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
    agreement.push(`${Math.max(...ours) + 1}/${Math.max(...theirs) + 1} segments, ${((100 * same) / (H * W)).toFixed(2)} %`);
    assert.equal(same, H * W, `scale index ${s}: ${agreement.at(-1)}`);
  });
  console.log(`labels equal per scale: ${agreement.join("; ")}`);
});
