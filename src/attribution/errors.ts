/**
 * Errors of the attribution layer: one class per kind of bad input.
 */

import { PathlensError } from "../errors.js";

/** A baseline, seed or extra input whose shape does not fit the input it goes with. */
export class ShapeMismatchError extends PathlensError {
  override name = "ShapeMismatchError";
}

/** A target class index outside the output, or a target that does not fit the outputs. */
export class TargetError extends PathlensError {
  override name = "TargetError";
}

/** Attribution asked for a tensor that is not floating point (token ids, masks). */
export class NonFloatInputError extends PathlensError {
  override name = "NonFloatInputError";
}

/** NaN or ±Inf in an input, baseline or model output. */
export class NonFiniteError extends PathlensError {
  override name = "NonFiniteError";
}

/** Options that contradict each other or are out of range. */
export class OptionError extends PathlensError {
  override name = "OptionError";
}

/** The run was cancelled through its AbortSignal. */
export class AbortError extends PathlensError {
  override name = "AbortError";
}

/** Throws NonFiniteError when `data` holds NaN or ±Inf. */
export function assertFinite(data: ArrayLike<number | bigint>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new NonFiniteError(
        `${what} contains ${Number.isNaN(v) ? "NaN" : "an infinite value"} at element ${i}`,
      );
    }
  }
}
