/**
 * The browser entries (`pathlens`, `pathlens/web`) must not reach Node-only modules: walks the
 * built import graph from dist/index.js and dist/web.js (comments stripped) and rejects node:
 * built-ins, Buffer and packages other than onnxruntime-web.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { ROOT } from "./testing/cli.js";

function problems(entry: string): { modules: number; bad: string[] } {
  const seen = new Set<string>();
  const bad: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    for (const m of code.matchAll(
      /(?:import|export)[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
    )) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith(".")) walk(resolve(dirname(file), spec));
      else if (spec !== "onnxruntime-web") bad.push(`${file.slice(ROOT.length + 1)} imports ${spec}`);
    }
    if (/\bBuffer\b/.test(code)) bad.push(`${file.slice(ROOT.length + 1)} uses Buffer`);
  };
  walk(join(ROOT, "dist", entry));
  return { modules: seen.size, bad };
}

for (const entry of ["index.js", "web.js"]) {
  test(`dist/${entry} reaches no Node-only module`, {
    skip: !existsSync(join(ROOT, "dist", entry)) && "dist/ not built (npm test builds it)",
  }, () => {
    const r = problems(entry);
    assert.ok(r.modules > 20);
    assert.deepEqual(r.bad, []);
  });
}
