/**
 * `pathlens text | image | tabular` end to end: outputs with --report, and bad input giving a
 * clear one-line message, exit code 1 and no output folder.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli as cli, ROOT } from "../testing/cli.js";

const EX = join(ROOT, "examples");
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-modal-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function failsCleanly(r: { code: number | null; stderr: string }, pattern: RegExp, out: string): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.equal(existsSync(out), false, "no partial output");
}

test("pathlens text / image / tabular write their files and reports", async () => {
  const runs = [
    ["text", join(EX, "text-sentiment"), "a wonderful film", "--steps", "16"],
    [
      "image",
      join(EX, "image-shapes", "model.onnx"),
      join(EX, "image-shapes", "circle.png"),
      "--steps",
      "16",
    ],
    ["tabular", join(EX, "tabular", "model.onnx"), join(EX, "tabular", "rows.csv"), "--steps", "16"],
  ];
  for (const args of runs) {
    const out = join(dir, args[0]!);
    const r = await cli([...args, "--report", "--quiet", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readdir(out)).includes("report.html"));
  }
});

test("bad input: unreadable image, CSV of the wrong width, missing tokenizer, over-long text", async () => {
  const bad = join(dir, "bad.png");
  await writeFile(bad, "definitely not a png");
  let out = join(dir, "o1");
  failsCleanly(
    await cli(["image", join(EX, "image-shapes", "model.onnx"), bad, "--report", "--out", out]),
    /bad\.png: not a PNG or JPEG/,
    out,
  );
  const csv = join(dir, "narrow.csv");
  await writeFile(csv, "a,b\n1,2\n");
  out = join(dir, "o2");
  failsCleanly(
    await cli(["tabular", join(EX, "tabular", "model.onnx"), csv, "--report", "--out", out]),
    /2 columns.*96 features/,
    out,
  );
  const noTok = join(dir, "notok");
  await rm(noTok, { recursive: true, force: true });
  await import("node:fs/promises").then((f) => f.mkdir(noTok));
  await copyFile(join(EX, "text-sentiment", "model.onnx"), join(noTok, "model.onnx"));
  out = join(dir, "o3");
  failsCleanly(await cli(["text", noTok, "good", "--out", out]), /no tokenizer\.json/, out);
  out = join(dir, "o4");
  const long = Array.from({ length: 40 }, () => "good").join(" ");
  failsCleanly(
    await cli(["text", join(EX, "text-sentiment"), long, "--report", "--out", out]),
    /at most 32.*--truncate/,
    out,
  );
  const ok = await cli([
    "text",
    join(EX, "text-sentiment"),
    long,
    "--truncate",
    "--steps",
    "4",
    "--quiet",
    "--out",
    out,
  ]);
  assert.equal(ok.code, 0);
  assert.match(ok.stderr, /warning: the text has 42 tokens/);
});
