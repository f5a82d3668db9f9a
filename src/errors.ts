/**
 * The one base class of every error pathlens throws, so callers can catch pathlens's failures
 * apart from their own (`e instanceof PathlensError`) and branch on a stable `code`.
 */

/** Base of every error pathlens throws. `code` is stable across versions; the message is for people. */
export class PathlensError extends Error {
  override name = "PathlensError";
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
  /**
   * A stable machine-readable code, e.g. `"ERR_SHAPE_MISMATCH"`. Derived from the class name
   * unless a subclass sets it, so every kind of failure has its own.
   */
  get code(): string {
    return `ERR_${this.name
      .replace(/Error$/, "")
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .toUpperCase()}`;
  }
}
