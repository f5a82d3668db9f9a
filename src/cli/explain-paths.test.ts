/**
 * `pathlens explain --method guided_ig | blur_ig | xrai` end to end against PAIR saliency's
 * references (the same cases as the library tests, through the CLI process).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readNpy } from "../io/npy.js";
import { toFloat64 } from "../tensor/tensor.js";
import { runCli as cli } from "../testing/cli.js";
import { fixturePath } from "../testing/fixtures.js";
import { pairCases, pairNpy, rowErrors } from "../testing/pair.js";
import { parseCommand } from "./args.js";
import { explainCommand, runExplain } from "./explain.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-paths-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const model = fixturePath("models/digits_cnn.onnx");
const pair = (f: { file: string }) => fixturePath(`pair/${f.file}`);

// one case of each method keeps the file fast; the library tests run all of them
const guided = pairCases("guided_ig").find((c) => c.id.includes("noise__steps25"))!;
const blur = pairCases("blur_ig").find((c) => c.id.includes("steps20__sqrt"))!;

test(`CLI explain --method guided_ig matches PAIR: ${guided.id}`, async () => {
  const out = join(dir, "guided");
  const p = guided.params;
  const r = await cli([
    "explain",
    model,
    "--input",
    pair(guided.input),
    "--target",
    pair(guided.target),
    "--method",
    "guided_ig",
    "--baseline",
    pair(guided.baseline!),
    "--steps",
    String(p.x_steps),
    "--fraction",
    String(p.fraction),
    "--max-dist",
    String(p.max_dist),
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const a = await readNpy(join(out, "attributions.npy"));
  const err = rowErrors(toFloat64(a), toFloat64(pairNpy(guided.expected)), 3);
  console.log(`CLI ${guided.id}: rel L2 ${err.all.toExponential(2)}`);
  for (const e of [...err.rows, err.all]) assert.ok(e <= guided.suggested_rel_l2_tolerance, `rel L2 ${e}`);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8"));
  assert.equal(summary.method, "guided_ig");
  assert.equal(summary.delta.length, 3);
  assert.match(r.stdout, /completeness gap/);
});

test(`CLI explain --method blur_ig --sqrt matches PAIR: ${blur.id}`, async () => {
  const out = join(dir, "blur");
  const p = blur.params;
  const r = await cli([
    "explain",
    model,
    "--input",
    pair(blur.input),
    "--target",
    pair(blur.target),
    "--method",
    "blur_ig",
    "--max-sigma",
    String(p.max_sigma),
    "--steps",
    String(p.steps),
    "--grad-step",
    String(p.grad_step),
    "--sqrt",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const err = rowErrors(
    toFloat64(await readNpy(join(out, "attributions.npy"))),
    toFloat64(pairNpy(blur.expected)),
    3,
  );
  console.log(`CLI ${blur.id}: rel L2 ${err.all.toExponential(2)}`);
  for (const e of [...err.rows, err.all]) assert.ok(e <= blur.suggested_rel_l2_tolerance, `rel L2 ${e}`);
});

test("CLI explain: path-method options with the wrong method are usage errors (exit 2)", async () => {
  const base = ["explain", model, "--input", pair(blur.input), "--target", "0", "--out", join(dir, "bad")];
  for (const [extra, msg] of [
    [["--method", "blur_ig", "--fraction", "0.1"], /--fraction applies to --method guided_ig/],
    [["--method", "guided_ig", "--fraction", "2"], /--fraction: invalid value "2"/],
  ] as const) {
    const r = await cli([...base, ...extra]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
});

/** Runs `pathlens explain …` in this process (same parsing, files and code path, no spawn). */
async function explainInProcess(argv: string[]): Promise<void> {
  const parsed = parseCommand(explainCommand, argv);
  assert.equal(parsed.help, false);
  if (!parsed.help) await runExplain(parsed.args);
}

for (const c of [...pairCases("guided_ig"), ...pairCases("blur_ig")]) {
  test(`explain command (in process) matches PAIR: ${c.id}`, async () => {
    const out = join(dir, `in-${c.id}`);
    const p = c.params;
    const flags =
      c.kind === "guided_ig"
        ? [
            "--method",
            "guided_ig",
            "--baseline",
            pair(c.baseline!),
            "--steps",
            String(p.x_steps),
            "--fraction",
            String(p.fraction),
            "--max-dist",
            String(p.max_dist),
          ]
        : [
            "--method",
            "blur_ig",
            "--max-sigma",
            String(p.max_sigma),
            "--steps",
            String(p.steps),
            "--grad-step",
            String(p.grad_step),
            ...(p.sqrt ? ["--sqrt"] : []),
          ];
    await explainInProcess([
      model,
      "--input",
      pair(c.input),
      "--target",
      pair(c.target),
      ...flags,
      "--quiet",
      "--out",
      out,
    ]);
    const err = rowErrors(
      toFloat64(await readNpy(join(out, "attributions.npy"))),
      toFloat64(pairNpy(c.expected)),
      3,
    );
    for (const e of [...err.rows, err.all]) assert.ok(e <= c.suggested_rel_l2_tolerance, `rel L2 ${e}`);
  });
}
