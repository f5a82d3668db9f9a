/**
 * pathlens as a user gets it: `npm pack` (whose prepack builds dist/), the tarball installed
 * offline into a fresh CommonJS project (`npm ci --offline` from the npm cache, with a lockfile made
 * from this repository's, so no registry metadata is needed), then from that project: `npx pathlens
 * --help`, `npx pathlens demo`, every README snippet (ESM, CommonJS require, the command lines), and
 * a TypeScript consumer compiled under strict + nodenext without skipLibCheck. One test, a couple
 * of minutes on a busy machine (most of it copying onnxruntime's binaries and running the demo).
 * PATHLENS_SKIP_PACKAGE_TEST=1 skips it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./testing/cli.js";
import { runSnippet, snippetFiles } from "./testing/snippets.js";

/** Uses the public types a consumer would name (compiled, not run). */
const CONSUMER = `import {
  type EigPath,
  exampleFile,
  type GradientResult,
  integratedGradients,
  loadModel,
  loadTextModel,
  nodeBackend,
  PathlensError,
  QuadratureError,
  readNpy,
  renderReport,
  type SignificanceOptions,
  type TextModel,
  visualize,
} from "pathlens/node";
import { explainImage, webBackend } from "pathlens/web";
import * as ort from "onnxruntime-node";

const path: EigPath = "latent-linear";
const significance: SignificanceOptions = { alpha: 0.05 };
const model = await loadModel(exampleFile("digits/digits_cnn.onnx"));
const x = await readNpy(exampleFile("digits/digits_sample.npy"));
const asOrt = new ort.Tensor("float32", x.data as Float32Array, [...x.dims]);
const r = await integratedGradients(model, { backend: nodeBackend(), inputs: { input: asOrt }, target: 3 });
const html: string = renderReport(r);
await visualize(r, "report.html");
const text: TextModel = await loadTextModel(exampleFile("text-sentiment"));
const ids: number[] = text.tokenizer.encode("a film", { return_token_type_ids: true }).ids;
const e: unknown = new QuadratureError("x");
if (e instanceof PathlensError) console.log(e.code);
let g: GradientResult | undefined;
console.log(path, significance, html.length, ids, g, typeof explainImage, typeof webBackend);
`;

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

function sh(cmd: string, args: string[], cwd: string, timeout = 300_000) {
  const run = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...process.env, PATHLENS_DEBUG: "" },
  });
  assert.equal(run.status, 0, `${cmd} ${args.join(" ")} exited ${run.status}\n${run.stdout}\n${run.stderr}`);
  return run;
}

/** package.json and package-lock.json of a project depending on the tarball (runtime deps from our lock). */
function writeProject(dir: string, tarball: string): void {
  const ours = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    "": { name: "consumer", version: "1.0.0", dependencies: { pathlens: spec } },
    "node_modules/pathlens": {
      version: ours.version,
      resolved: spec,
      license: ours.license,
      dependencies: ours.dependencies,
      bin: ours.bin,
      engines: ours.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path && !entry.dev) packages[path] = entry;
  // "type": "commonjs" is what `npm init -y` writes
  const pkg = { name: "consumer", version: "1.0.0", type: "commonjs", dependencies: { pathlens: spec } };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    join(dir, "package-lock.json"),
    `${JSON.stringify({ name: "consumer", version: "1.0.0", lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}

test("npm pack → offline install into a fresh project → CLI, demo, README snippets, TypeScript consumer", {
  skip: process.env.PATHLENS_SKIP_PACKAGE_TEST === "1" && "PATHLENS_SKIP_PACKAGE_TEST=1",
  timeout: 900_000,
}, () => {
  const work = mkdtempSync(join(tmpdir(), "pathlens-package-"));
  try {
    sh("npm", ["pack", "--pack-destination", work], ROOT);
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    const listing = sh("tar", ["-tzf", join(work, tarball)], work).stdout.split("\n");
    for (const f of [
      "package/dist/node.js",
      "package/dist/cli/main.js",
      "package/dist/web.js",
      "package/LICENSE",
    ])
      assert.ok(listing.includes(f), `the tarball holds ${f}`);
    assert.ok(!listing.some((f) => f.startsWith("package/src/")), "no TypeScript sources shipped");
    // maps carry their sources: none points at a ../src file that is not in the package
    const map = JSON.parse(
      spawnSync("tar", ["-xzOf", join(work, tarball), "package/dist/node.js.map"], { encoding: "utf8" })
        .stdout,
    );
    assert.equal(map.sources.length, map.sourcesContent?.length, "source maps inline their sources");

    const project = join(work, "consumer");
    sh("mkdir", [project], work);
    writeProject(project, join(work, tarball));
    sh("npm", ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], project);

    const help = sh("npx", ["pathlens", "--help"], project);
    assert.match(help.stdout, /Usage: pathlens <command>/);
    const demo = sh("npx", ["pathlens", "demo", "-o", "demo-out"], project);
    assert.match(demo.stdout, /index\.html/);
    for (const page of ["index.html", "digits/report.html", "text/report.html", "image/report.html"])
      assert.ok(existsSync(join(project, "demo-out", page)), `the demo wrote ${page}`);

    for (const path of snippetFiles()) runSnippet(path, project);
    assert.ok(existsSync(join(project, "out", "sig", "significance.json")), "cli.sh ran to its last line");

    // a TypeScript consumer: strict, nodenext, no skipLibCheck — every .d.ts it reaches must check
    writeFileSync(join(project, "consumer.mts"), CONSUMER);
    writeFileSync(
      join(project, "tsconfig.json"),
      `${JSON.stringify({ compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, skipLibCheck: false }, files: ["consumer.mts"] }, null, 2)}\n`,
    );
    sh(
      process.execPath,
      [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
      project,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
