/**
 * `visualize(result, "report.html")`: transformers-interpret's one call, for Node — renders the
 * report and writes it whole (to a temporary file first, then renamed: no half-written report).
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type ReportableResult, type ReportOptions, renderReport } from "./report.js";

/**
 * Writes the HTML report of `result` to `path` (creating its folder); returns the absolute path.
 * @throws ReportError for a value that is not a pathlens explanation (nothing is written)
 */
export async function visualize(
  result: ReportableResult,
  path: string,
  options: ReportOptions = {},
): Promise<string> {
  const html = renderReport(result, options);
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, html);
  await rename(temporary, target);
  return target;
}
