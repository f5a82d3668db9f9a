/**
 * Baselines chosen from a baseline-class data set (Enhanced Integrated Gradients): k-means
 * centroids (seeded k-means++), the points closest to the coordinate-wise median, for each
 * sample its closest points (skipping the very closest, as eig does), or random points.
 * They work in whatever space the rows are in (original features or autoencoder latents).
 */
import { Random } from "../../tensor/random.js";
import { OptionError } from "../errors.js";
import { dist2, type Rows, row, stack } from "./rows.js";

function checkCount(k: number, n: number, what: string): void {
  if (!Number.isInteger(k) || k < 1)
    throw new OptionError(`${what}: the number of baselines must be a positive integer, got ${k}`);
  if (n < 1) throw new OptionError(`${what}: the baseline-class data set is empty`);
}

/**
 * k-means centroids: k-means++ seeding (seeded), then Lloyd iterations until no point changes
 * cluster (at most `maxIter`). An empty cluster keeps its previous centroid.
 */
export function kMeansBaselines(data: Rows, k: number, seed = 0, maxIter = 300): Rows {
  checkCount(k, data.n, "kmeans");
  if (k > data.n)
    throw new OptionError(`kmeans: ${k} clusters need at least ${k} points, the data has ${data.n}`);
  const rng = new Random(seed);
  const centers: Float64Array[] = [Float64Array.from(row(data, rng.int(data.n)))];
  const best = new Float64Array(data.n).fill(Infinity);
  while (centers.length < k) {
    const last = centers[centers.length - 1]!;
    let total = 0;
    for (let i = 0; i < data.n; i++) {
      best[i] = Math.min(best[i]!, dist2(row(data, i), last));
      total += best[i]!;
    }
    let pick = data.n - 1;
    if (total > 0) {
      let u = rng.uniform() * total;
      for (let i = 0; i < data.n; i++) {
        u -= best[i]!;
        if (u < 0) {
          pick = i;
          break;
        }
      }
    } else pick = rng.int(data.n);
    centers.push(Float64Array.from(row(data, pick)));
  }
  const assign = new Int32Array(data.n).fill(-1);
  for (let iter = 0; iter < maxIter; iter++) {
    let changed = false;
    for (let i = 0; i < data.n; i++) {
      let c = 0;
      let bd = Infinity;
      centers.forEach((ctr, j) => {
        const dd = dist2(row(data, i), ctr);
        if (dd < bd) {
          bd = dd;
          c = j;
        }
      });
      if (assign[i] !== c) {
        assign[i] = c;
        changed = true;
      }
    }
    if (!changed) break;
    const sums = centers.map(() => new Float64Array(data.d));
    const counts = new Int32Array(k);
    for (let i = 0; i < data.n; i++) {
      const c = assign[i]!;
      counts[c]!++;
      const r = row(data, i);
      for (let j = 0; j < data.d; j++) sums[c]![j]! += r[j]!;
    }
    centers.forEach((ctr, c) => {
      if (counts[c]! > 0) for (let j = 0; j < data.d; j++) ctr[j] = sums[c]![j]! / counts[c]!;
    });
  }
  return stack(centers, data.d);
}

/** The k points closest to the coordinate-wise median of the data (nearest first). */
export function medianBaselines(data: Rows, k: number): Rows {
  checkCount(k, data.n, "median");
  const median = new Float64Array(data.d);
  const column = new Float64Array(data.n);
  for (let j = 0; j < data.d; j++) {
    for (let i = 0; i < data.n; i++) column[i] = data.data[i * data.d + j]!;
    const sorted = Float64Array.from(column).sort();
    const h = Math.floor(data.n / 2);
    median[j] = data.n % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
  }
  return nearest(data, median, Math.min(k, data.n), 0);
}

/**
 * For each sample, its k closest baseline-class points, skipping the closest one (which may be
 * a near-duplicate of the sample). Returns one Rows per sample.
 */
export function closeBaselines(samples: Rows, data: Rows, k: number): Rows[] {
  checkCount(k, data.n, "close");
  if (data.n < 2)
    throw new OptionError("close: needs at least two baseline-class points (the closest is skipped)");
  return Array.from({ length: samples.n }, (_, s) =>
    nearest(data, row(samples, s), Math.min(k, data.n - 1), 1),
  );
}

/** k points drawn uniformly without replacement (seeded). */
export function randomBaselines(data: Rows, k: number, seed = 0): Rows {
  checkCount(k, data.n, "random");
  const rng = new Random(seed);
  const idx = Array.from({ length: data.n }, (_, i) => i);
  for (let i = 0; i < Math.min(k, data.n); i++) {
    const j = i + rng.int(data.n - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return stack(
    idx.slice(0, Math.min(k, data.n)).map((i) => row(data, i)),
    data.d,
  );
}

/** The `k` rows nearest to `p`, after skipping the `skip` nearest (ties: lower index first). */
function nearest(data: Rows, p: ArrayLike<number>, k: number, skip: number): Rows {
  const order = Array.from({ length: data.n }, (_, i) => ({ i, d: dist2(row(data, i), p) })).sort(
    (a, b) => a.d - b.d || a.i - b.i,
  );
  return stack(
    order.slice(skip, skip + k).map((o) => row(data, o.i)),
    data.d,
  );
}
