/**
 * The README's code blocks are the files in examples/snippets/ (verbatim), and every JavaScript
 * snippet runs against the built package (through `pathlens/node`, resolved from a temporary
 * project whose node_modules/pathlens links to this repository) and prints what it should. The
 * command-line snippet and every snippet from an installed tarball run in package.test.ts.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ROOT } from "./testing/cli.js";
import { readmeSnippets, runSnippet, snippetFiles } from "./testing/snippets.js";

test("every README code block marked as a snippet is the file it names, and every snippet is in the README", () => {
  const blocks = readmeSnippets();
  assert.ok(blocks.length >= 7, `found ${blocks.length} snippet blocks`);
  for (const { path, block } of blocks) {
    assert.equal(block, readFileSync(join(ROOT, path), "utf8"), `README block of ${path}`);
  }
  assert.deepEqual([...new Set(blocks.map((b) => b.path))].sort(), snippetFiles());
});

const project = mkdtempSync(join(tmpdir(), "pathlens-snippets-"));
after(() => rmSync(project, { recursive: true, force: true }));

for (const path of snippetFiles().filter((p) => !p.endsWith(".sh"))) {
  test(`${path} runs against the built package and prints its results`, {
    skip: !existsSync(join(ROOT, "dist", "node.js")) && "dist/ not built (npm test builds it)",
  }, () => {
    if (!existsSync(join(project, "node_modules", "pathlens"))) {
      mkdirSync(join(project, "node_modules"), { recursive: true });
      symlinkSync(ROOT, join(project, "node_modules", "pathlens"), "dir");
      writeFileSync(
        join(project, "package.json"),
        '{ "name": "snippets", "version": "1.0.0", "type": "commonjs" }\n',
      );
    }
    runSnippet(path, project);
  });
}
