/**
 * `pathlens text … --task multi-label|zero-shot|ner|qa`: the attributions.json contract
 * (explanations with label, position, tokens {token, id, score, special, word}, delta), the
 * report, and usage errors naming the flag.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli as cli, ROOT } from "../testing/cli.js";

const TASKS = join(ROOT, "test", "fixtures", "tasks");
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pathlens-tasks-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Json {
  task: string;
  explanations: {
    label: string;
    position?: number | string;
    delta: number;
    tokens: { token: string; id: number; score: number; special: boolean; word: number }[];
  }[];
}

test("every --task writes explanations as the contract says, and a report", async () => {
  const runs: [string, string[], (j: Json) => void][] = [
    [
      "multi-label",
      [join(TASKS, "multi-label"), "the football match in the rain .", "--labels", "sports,weather"],
      (j) =>
        assert.deepEqual(
          j.explanations.map((e) => e.label),
          ["sports", "weather"],
        ),
    ],
    [
      "zero-shot",
      [
        join(TASKS, "zero-shot"),
        "we ate pizza .",
        "--labels",
        "food,sports",
        "--template",
        "The topic is {}.",
      ],
      (j) =>
        assert.deepEqual(
          j.explanations.map((e) => e.label),
          ["food", "sports"],
        ),
    ],
    [
      "ner",
      [join(TASKS, "ner"), "Mr Smith lived in Berlin .", "--embedding", "position"],
      (j) => {
        assert.deepEqual(
          j.explanations.map((e) => e.label),
          ["B-PER", "B-LOC"],
        );
        assert.deepEqual(
          j.explanations.map((e) => j.explanations[0]!.tokens[e.position as number]!.token),
          ["Smith", "Berlin"],
        );
      },
    ],
    [
      "qa",
      [join(TASKS, "qa"), "the code blue was said , then key green .", "--question", "what is the code ?"],
      (j) => {
        assert.deepEqual(
          j.explanations.map((e) => [e.position, e.label]),
          [
            ["start", "blue"],
            ["end", "blue"],
          ],
        );
        assert.equal((j as unknown as { answer: { text: string } }).answer.text, "blue");
      },
    ],
  ];
  for (const [task, args, check] of runs) {
    const out = join(dir, task);
    const r = await cli([
      "text",
      ...args,
      "--task",
      task,
      "--steps",
      "8",
      "--report",
      "--quiet",
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(await readFile(join(out, "attributions.json"), "utf8")) as Json;
    assert.equal(j.task, task);
    for (const e of j.explanations) {
      assert.equal(typeof e.delta, "number");
      for (const t of e.tokens)
        assert.deepEqual(Object.keys(t).sort(), ["id", "score", "special", "token", "word"]);
    }
    check(j);
    assert.match(await readFile(join(out, "report.html"), "utf8"), /<table class="summary">/);
  }
});

test("task flags: missing or misplaced ones are usage errors (exit 2), nothing written", async () => {
  const cases: [string[], RegExp][] = [
    [["--task", "qa"], /--task qa needs --question/],
    [["--task", "zero-shot"], /--task zero-shot needs --labels/],
    [["--task", "ner", "--template", "x {}"], /--template applies to --task zero-shot, not ner/],
    [["--question", "why ?"], /--question needs --task \(qa\)/],
    [["--task", "ner", "--tolerance", "0.01"], /--tolerance needs --steps auto/],
    [["--task", "translation"], /--task must be one of multi-label, zero-shot, ner, qa/],
    [
      ["--task", "ner", "--embedding", "segment"],
      /--embedding must be one of word, position, token-type, all/,
    ],
  ];
  for (const [flags, pattern] of cases) {
    const out = join(dir, "bad");
    const r = await cli(["text", join(TASKS, "ner"), "Mr Smith .", ...flags, "--out", out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(existsSync(out), false);
  }
});

test("a model without token-type embeddings: exit 1 and one line naming the problem", async () => {
  const out = join(dir, "nott");
  const r = await cli([
    "text",
    join(ROOT, "examples", "text-sentiment"),
    "a fine film",
    "--embedding",
    "token-type",
    "--out",
    out,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /no token-type embedding/);
  assert.equal(existsSync(out), false);
});
