/**
 * Quadrature rules on [0, 1] as data (nodes and weights), as Captum's approximation methods:
 * batching only slices them. The trapezoid rule here is the true one (weights sum to 1);
 * Captum's `riemann_trapezoid` weights sum to (n − 1)/n.
 */

/** Names of the supported rules (Captum's names). */
export type QuadratureMethod =
  | "riemann_left"
  | "riemann_right"
  | "riemann_middle"
  | "riemann_trapezoid"
  | "gausslegendre";

/** Nodes α_k in [0, 1] and weights w_k with Σ w_k f(α_k) ≈ ∫₀¹ f. */
export interface Quadrature {
  method: QuadratureMethod;
  alphas: Float64Array;
  weights: Float64Array;
}

import { PathlensError } from "../errors.js";

/** Raised for an unknown rule name or an unusable number of steps. */
export class QuadratureError extends PathlensError {
  override name = "QuadratureError";
}

/** Every quadrature rule, in Captum's naming. */
export const QUADRATURE_METHODS: readonly QuadratureMethod[] = [
  "gausslegendre",
  "riemann_left",
  "riemann_right",
  "riemann_middle",
  "riemann_trapezoid",
];

/** The nodes and weights of `method` with `n` points. */
export function quadrature(method: QuadratureMethod, n: number): Quadrature {
  if (!Number.isInteger(n) || n < 1) throw new QuadratureError(`steps must be a positive integer, got ${n}`);
  const alphas = new Float64Array(n);
  const weights = new Float64Array(n);
  switch (method) {
    case "riemann_left":
      for (let k = 0; k < n; k++) alphas[k] = k / n;
      weights.fill(1 / n);
      break;
    case "riemann_right":
      for (let k = 0; k < n; k++) alphas[k] = (k + 1) / n;
      weights.fill(1 / n);
      break;
    case "riemann_middle":
      for (let k = 0; k < n; k++) alphas[k] = (k + 0.5) / n;
      weights.fill(1 / n);
      break;
    case "riemann_trapezoid":
      if (n < 2) throw new QuadratureError("riemann_trapezoid needs at least 2 steps");
      for (let k = 0; k < n; k++) alphas[k] = k / (n - 1);
      weights.fill(1 / (n - 1));
      weights[0] = 0.5 / (n - 1);
      weights[n - 1] = 0.5 / (n - 1);
      break;
    case "gausslegendre": {
      const [x, w] = gaussLegendre(n);
      for (let k = 0; k < n; k++) {
        alphas[k] = 0.5 * (1 + x[k]!);
        weights[k] = 0.5 * w[k]!;
      }
      break;
    }
    default:
      throw new QuadratureError(
        `unknown method "${String(method)}"; use one of ${QUADRATURE_METHODS.join(", ")}`,
      );
  }
  return { method, alphas, weights };
}

/**
 * Gauss–Legendre nodes (ascending, on [−1, 1]) and weights by Newton's method on P_n,
 * started from Tricomi's approximation; accurate to ~1e-15.
 */
export function gaussLegendre(n: number): [Float64Array, Float64Array] {
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    // i-th largest root
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = z;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const pn = n === 1 ? z : p1;
      const pn1 = n === 1 ? 1 : p0;
      dp = (n * (z * pn - pn1)) / (z * z - 1);
      const dz = pn / dp;
      z -= dz;
      if (Math.abs(dz) < 1e-16) break;
    }
    if (n === 1) dp = 1;
    const wi = 2 / ((1 - z * z) * dp * dp);
    x[n - 1 - i] = z;
    x[i] = -z;
    w[n - 1 - i] = wi;
    w[i] = wi;
  }
  return [x, w];
}
