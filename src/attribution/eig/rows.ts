/**
 * Row-major point sets (n points × d coordinates, float64) for the baseline and path
 * constructions of Enhanced Integrated Gradients.
 */

import { sizeOf, type Tensor } from "../../tensor/tensor.js";
import { OptionError } from "../errors.js";

/** n points of d coordinates. */
export interface Rows {
  n: number;
  d: number;
  data: Float64Array;
}

/** A tensor [n, …] as n flat rows. */
export function rowsOf(t: Tensor, what = "data"): Rows {
  if (t.dims.length < 1) throw new OptionError(`${what} needs a row axis, got a scalar`);
  const n = t.dims[0]!;
  const d = sizeOf(t.dims.slice(1));
  // a typed-array copy where the values are numbers (Float64Array.from with a map is ~50× slower)
  const data =
    t.data instanceof BigInt64Array
      ? Float64Array.from(t.data, Number)
      : new Float64Array(t.data as ArrayLike<number>);
  return { n, d, data };
}

/** Row i (a view). */
export function row(r: Rows, i: number): Float64Array {
  return r.data.subarray(i * r.d, (i + 1) * r.d);
}

/** Squared Euclidean distance. */
export function dist2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j]! - b[j]!;
    s += t * t;
  }
  return s;
}

/** Rows gathered into a new set. */
export function stack(rows: ArrayLike<number>[], d: number): Rows {
  const data = new Float64Array(rows.length * d);
  rows.forEach((r, i) => data.set(r, i * d));
  return { n: rows.length, d, data };
}
