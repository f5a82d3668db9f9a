/**
 * XRAI's region ranking (Kapishnikov et al. 2019, PAIR saliency's `_xrai` and `_xrai_fast`):
 * given a per-pixel attribution map and overlapping candidate regions (masks), greedily add the
 * region whose not-yet-covered pixels have the highest mean attribution ("gain density"), until
 * the covered area passes `areaThreshold`; regions adding fewer than `minPixelDiff` new pixels are
 * dropped. The result is a map where each pixel holds the gain of the region that added it, and
 * the regions' ranks.
 */
import { OptionError, ShapeMismatchError } from "./errors.js";

/** Options of {@link rankRegions}. */
export interface RankRegionsOptions {
  /** "full" (default): re-evaluates every region's gain after each pick; "fast": ranks once. */
  algorithm?: "full" | "fast";
  /** Stop once this fraction of the image is covered (default 1; "full" only). */
  areaThreshold?: number;
  /** Drop regions that would add fewer new pixels (default 50). */
  minPixelDiff?: number;
}

/** One ranked region: the pixels it added and their mean attribution. */
export interface RankedRegion {
  /** Pixel indices (row-major) the region added when it was picked. */
  pixels: Int32Array;
  gain: number;
}

/** Result of {@link rankRegions}. */
export interface RegionRanking {
  /** Per pixel: the gain of the region that added it (uncovered pixels: their mean). */
  map: Float64Array;
  /** Per pixel: 1 + the rank of its region (1 = most important); uncovered pixels last. */
  ranks: Int32Array;
  /** The regions by decreasing gain (the uncovered rest last, when there is one). */
  regions: RankedRegion[];
}

/** The pixel indices of a mask. */
function indicesOf(mask: Uint8Array): Int32Array {
  let n = 0;
  for (const v of mask) if (v) n++;
  const out = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[k++] = i;
  return out;
}

/** Mean of attr over the pixels of `idx` not in `covered` (−∞ when none), and their count. */
function gainOf(idx: Int32Array, covered: Uint8Array, attr: Float64Array): { gain: number; count: number } {
  let s = 0;
  let n = 0;
  for (const i of idx)
    if (!covered[i]) {
      s += attr[i]!;
      n++;
    }
  return { gain: n ? s / n : Number.NEGATIVE_INFINITY, count: n };
}

/** Ranks candidate regions over an attribution map of `attr.length` pixels (see the module note). */
export function rankRegions(
  attr: Float64Array,
  masks: readonly Uint8Array[],
  o: RankRegionsOptions = {},
): RegionRanking {
  const P = attr.length;
  for (const [k, m] of masks.entries()) {
    if (m.length !== P)
      throw new ShapeMismatchError(`region mask ${k} has ${m.length} pixels; the attribution map has ${P}`);
  }
  const minDiff = o.minPixelDiff ?? 50;
  const algorithm = o.algorithm ?? "full";
  if (algorithm !== "full" && algorithm !== "fast")
    throw new OptionError(`algorithm must be "full" or "fast", got "${algorithm}"`);
  const idx = masks.map(indicesOf);
  const covered = new Uint8Array(P);
  const map = new Float64Array(P).fill(Number.NEGATIVE_INFINITY);
  const trace: RankedRegion[] = [];
  const add = (k: number, gain: number) => {
    const added: number[] = [];
    for (const i of idx[k]!)
      if (!covered[i]) {
        added.push(i);
        covered[i] = 1;
        map[i] = gain;
      }
    trace.push({ pixels: Int32Array.from(added), gain });
    return added.length;
  };
  if (algorithm === "full") {
    const th = o.areaThreshold ?? 1;
    const remaining = new Set(idx.keys());
    let area = 0;
    let coveredCount = 0;
    while (area <= th) {
      let best = Number.NEGATIVE_INFINITY;
      let bestKey = -1;
      for (const k of [...remaining]) {
        const { gain, count } = gainOf(idx[k]!, covered, attr);
        if (count < minDiff) {
          remaining.delete(k);
          continue;
        }
        if (gain > best) {
          best = gain;
          bestKey = k;
        }
      }
      if (remaining.size === 0 || bestKey < 0) break;
      coveredCount += add(bestKey, best);
      remaining.delete(bestKey);
      area = coveredCount / P;
    }
  } else {
    const gains = idx.map((m) => gainOf(m, new Uint8Array(P), attr).gain);
    const order = idx.map((_, k) => k).sort((a, b) => gains[b]! - gains[a]! || a - b);
    for (const k of order) {
      const { gain, count } = gainOf(idx[k]!, covered, attr);
      if (count < minDiff) continue;
      add(k, gain);
    }
  }
  // pixels no region covered get their own mean, and rank last
  const rest: number[] = [];
  let s = 0;
  for (let i = 0; i < P; i++)
    if (map[i] === Number.NEGATIVE_INFINITY) {
      rest.push(i);
      s += attr[i]!;
    }
  for (const i of rest) map[i] = s / rest.length;
  const regions = trace
    .map((r, k) => ({ r, k }))
    .sort((a, b) => b.r.gain - a.r.gain || a.k - b.k)
    .map((e) => e.r);
  if (rest.length) regions.push({ pixels: Int32Array.from(rest), gain: s / rest.length });
  const ranks = new Int32Array(P);
  regions.forEach((r, k) => {
    for (const i of r.pixels) ranks[i] = k + 1;
  });
  return { map, ranks, regions };
}
