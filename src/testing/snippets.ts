/**
 * Test helper for the documentation snippets in examples/snippets/: which README blocks they are,
 * and how to run each from a project directory where `pathlens` resolves (an installed package, or
 * a symlink to this repository), checking what each prints.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.js";

/** The snippet files, relative to the repository root. */
export function snippetFiles(): string[] {
  return readdirSync(join(ROOT, "examples", "snippets"))
    .sort()
    .map((f) => `examples/snippets/${f}`);
}

/** `<!-- snippet: PATH -->` markers of the README with the code block that follows each. */
export function readmeSnippets(): { path: string; block: string }[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/<!-- snippet: (\S+) -->\n```\w*\n([\s\S]*?)```/g)].map((m) => ({
    path: m[1]!,
    block: m[2]!,
  }));
}

/** What each JavaScript snippet must print (a pattern over its stdout), as evidence it computed. */
export const EXPECTED_OUTPUT: Record<string, RegExp> = {
  "examples/snippets/integrated-gradients.mjs": /\[ 12, 1, 8, 8 \][\s\S]*Float64Array\(12\)/,
  "examples/snippets/commonjs.cjs": /\[ 12, 1, 8, 8 \][\s\S]*Float64Array\(12\)/,
  "examples/snippets/gradients.mjs": /\[ 12, 10 \] \[ 12, 1, 8, 8 \] \[ 12, 1, 8, 8 \]/,
  "examples/snippets/text.mjs": /^a -?\d\.\d{3}, wonderful \d+\.\d{3}, film -?\d\.\d{3}\nPOSITIVE /,
  "examples/snippets/image.mjs": /label: 'circle'[\s\S]*label: 'square'/,
  "examples/snippets/report.mjs": /out\/report\.html \d{4,}/,
  "examples/snippets/tabular.mjs": /'POS_0'[\s\S]*'NOISE_31'\s*\] \d+/,
};

/** Runs one snippet (node for .mjs/.cjs, sh for .sh) in `cwd`; asserts exit 0 and its expected output. */
export function runSnippet(path: string, cwd: string, env: Record<string, string> = {}): string {
  const file = join(ROOT, path);
  const run = spawnSync(path.endsWith(".sh") ? "sh" : process.execPath, [file], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, PATHLENS_DEBUG: "", ...env },
    timeout: 300_000,
  });
  assert.equal(run.status, 0, `${path} exited ${run.status}: ${run.stderr}`);
  const expected = EXPECTED_OUTPUT[path];
  if (expected) assert.match(run.stdout, expected, `${path} printed: ${run.stdout}`);
  return run.stdout;
}
