/**
 * Where the example models bundled with pathlens live, so snippets and tutorials can name them
 * the same way in a clone of the repository and in an installed package.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PathlensError } from "../errors.js";

/** A path under the bundled `examples/` folder that does not exist. */
export class ExampleFileError extends PathlensError {
  override name = "ExampleFileError";
}

/** The bundled `examples/` folder (beside `dist/` in the package, beside `src/` in a clone). */
export const EXAMPLES_DIR: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

/**
 * The absolute path of a file (or folder) bundled in pathlens' `examples/`, e.g.
 * `exampleFile("digits/digits_cnn.onnx")` or `exampleFile("text-sentiment")`.
 * @throws ExampleFileError when it does not exist (the message lists the example folders)
 */
export function exampleFile(relativePath: string): string {
  const path = join(EXAMPLES_DIR, relativePath);
  if (!path.startsWith(EXAMPLES_DIR) || !existsSync(path)) {
    throw new ExampleFileError(
      `no bundled example "${relativePath}" in ${EXAMPLES_DIR} (folders: digits, image-shapes, tabular, text-sentiment)`,
    );
  }
  return path;
}
