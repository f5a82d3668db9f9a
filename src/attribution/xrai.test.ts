import assert from "node:assert/strict";
import { test } from "node:test";
import { toFloat64 } from "../tensor/tensor.js";
import { xraiMasks, xraiNpy } from "../testing/pair.js";
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
