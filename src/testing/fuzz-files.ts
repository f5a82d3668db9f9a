/**
 * Fuzz campaigns over the text files pathlens reads (CSV, tokenizer.json, config.json) and whole
 * CLI runs (`explain` on mutated inputs, bombs and odd flag values), shared by the short runs in
 * `npm test` and `npm run fuzz`. Properties: only typed one-line errors that name the file, flag,
 * node or tensor; a run that succeeds has finite outputs and every file; a run that fails leaves
 * no output folder (no partial outputs); a run on a damaged input never exits 0 with a result
 * computed from garbage it should have refused; nothing hangs.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseCommand } from "../cli/args.js";
import { explainCommand, runExplain } from "../cli/explain.js";
import { printedMessage } from "../cli/messages.js";
import { encodeText } from "../explain/text-encode.js";
import { loadTextModel } from "../explain/text-model.js";
import { parseNumericCsv } from "../io/csv.js";
import { parseNpy } from "../io/npy-format.js";
import { assertTypedError, type FuzzRun, mutatedBytes, tally } from "./fuzz.js";

function params(run: FuzzRun): fc.Parameters<unknown> {
  return {
    numRuns: run.numRuns,
    seed: run.seed,
    interruptAfterTimeLimit: run.timeLimitMs,
    endOnFailure: true,
  };
}

/** A typed, one-line error whose message names something (a file, flag, quoted name or index). */
export function assertNamedError(e: unknown, what: string, names: RegExp): void {
  assertTypedError(e, what);
  const m = printedMessage((e as Error).message);
  assert.ok(names.test(m), `${what}: the message names no file, flag, node or tensor: ${m}`);
}

const CSV_SEEDS = ["a,b,c\n1,2,3\n4,5,6\n", 'x,"y, z"\r\n1.5,-2e3\r\n0,1\r\n', "f\n1\n2\n3\n"];

const csvText = fc.oneof(
  mutatedBytes(CSV_SEEDS.map((s) => new TextEncoder().encode(s))).map((b) => new TextDecoder().decode(b)),
  fc.string({ maxLength: 80 }),
  fc.constantFrom(
    "a,b\n1,NaN\n",
    "a\n1e999\n",
    "a,b\n1\n",
    '"unterminated\n1',
    "",
    "a\n",
    `a\n${"9".repeat(400)}\n`,
  ),
);

/** Mutated and crafted CSV text: a table is rectangular and finite, or a typed error names the file. */
export async function fuzzCsv(run: FuzzRun): Promise<void> {
  await fc.assert(
    fc.property(csvText, (text) => {
      try {
        const t = parseNumericCsv(text, "fuzz.csv");
        assert.equal(t.values.length, t.rows * t.header.length);
        assert.ok(t.values.every(Number.isFinite), "non-finite value accepted");
        tally("parseNumericCsv: accepted");
      } catch (e) {
        assertNamedError(e, "parseNumericCsv", /fuzz\.csv/);
        tally(`parseNumericCsv: ${(e as Error).name}`);
      }
    }),
    params(run),
  );
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const jsonValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 1e6 }),
  fc.constantFrom(1e308, -1, 0.5),
  fc.string({ maxLength: 8 }),
  fc.constant<Json>([]),
  fc.constant<Json>({}),
  fc
    .constantFrom<Json[]>(["x"], [1, 2], [{ type: "Bogus" }], [{ type: "TemplateProcessing", single: 5 }])
    .map((v) => (v.length === 1 && typeof v[0] === "object" ? v[0]! : v)),
);

/** A structural edit of a JSON document: a value anywhere replaced or a key deleted. */
const jsonEdit = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  value: jsonValue,
  del: fc.boolean(),
});

function applyJsonEdit(doc: Json, edit: { path: number[]; value: Json; del: boolean }): void {
  let at: Json = doc;
  for (let k = 0; k < edit.path.length; k++) {
    if (at === null || typeof at !== "object") return;
    const keys = Array.isArray(at) ? at.map((_, i) => i) : Object.keys(at);
    if (keys.length === 0) return;
    const key = keys[edit.path[k]! % keys.length]!;
    if (k === edit.path.length - 1) {
      if (edit.del && !Array.isArray(at)) delete (at as Record<string, Json>)[key as string];
      else (at as Record<string | number, Json>)[key] = edit.value;
      return;
    }
    at = (at as Record<string | number, Json>)[key]!;
  }
}

/**
 * tokenizer.json / config.json of the text example, edited structurally or byte-mutated:
 * loading and encoding a text either works (ids are integers) or fails typed, naming the file.
 */
export async function fuzzTextFiles(run: FuzzRun, root: string): Promise<void> {
  const src = join(root, "examples/text-sentiment");
  const dir = await mkdtemp(join(tmpdir(), "pathlens-fuzz-text-"));
  const texts = {
    "tokenizer.json": readFileSync(join(src, "tokenizer.json"), "utf8"),
    "config.json": readFileSync(join(src, "config.json"), "utf8"),
  };
  await copyFile(join(src, "model.onnx"), join(dir, "model.onnx"));
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("tokenizer.json" as const, "config.json" as const),
        fc.oneof(
          fc.array(jsonEdit, { minLength: 1, maxLength: 3 }).map((edits) => ({ edits, bytes: undefined })),
          mutatedBytes([new TextEncoder().encode("{}")]).map((bytes) => ({ edits: undefined, bytes })),
        ),
        async (file, change) => {
          const other = file === "tokenizer.json" ? "config.json" : "tokenizer.json";
          await writeFile(join(dir, other), texts[other]);
          if (change.edits) {
            const doc = JSON.parse(texts[file]) as Json;
            for (const e of change.edits) applyJsonEdit(doc, e);
            await writeFile(join(dir, file), JSON.stringify(doc));
          } else {
            const t = new TextEncoder().encode(texts[file]);
            await writeFile(
              join(dir, file),
              change.bytes!.length > 2 ? change.bytes! : t.subarray(0, t.length >> 1),
            );
          }
          try {
            const tm = await loadTextModel(dir);
            const enc = encodeText(tm, "a wonderful, unexpected film");
            assert.ok(
              enc.ids.every((id) => Number.isSafeInteger(id) && id >= 0),
              "ids that are not integers",
            );
            tally(`text model, edited ${file}: loaded and encoded`);
          } catch (e) {
            if (process.env.FUZZ_VERBOSE)
              console.log(
                file,
                (e as Error).name,
                String((e as Error).message).slice(0, 200),
                (e as Error).name === "TypeError" ? (e as Error).stack : "",
              );
            assertNamedError(e, `text model with an edited ${file}`, /\.json|model\.onnx|tokenizer|"/);
            tally(`text model, edited ${file}: ${(e as Error).name}`);
          }
        },
      ),
      params(run),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An explain run's input: mutated sample bytes, or a bomb. */
const explainInput = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "mutated" as const }) },
  {
    // Random float32 bit patterns in the data (NaN, ±Inf, denormals, ±3e38 among them).
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("data" as const),
      words: fc.array(fc.tuple(fc.nat(767), fc.integer({ min: 0, max: 2 ** 32 - 1 })), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { kind: "dev-zero" as const },
      { kind: "fifo" as const },
      { kind: "folder" as const },
      { kind: "nan" as const },
      { kind: "huge" as const },
    ),
  },
);

const flagPair = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom<string[]>(["--steps", "4"], ["--steps", "8", "--method", "riemann_left"]),
  },
  fc.constantFrom<string[]>(
    [],
    ["--steps", "1e9"],
    ["--steps", "auto", "--max-steps", "1e9"],
    ["--steps", "NaN"],
    ["--steps", "3"],
    ["--baseline", "1e38"],
    ["--baseline", "NaN"],
    ["--target", "99"],
    ["--target", "-1"],
    ["--layer", ""],
    ["--memory-budget", "0"],
    ["--max-points", "10"],
  ),
);

/** Writes the input file of one explain case; returns its path. */
async function writeExplainInput(
  dir: string,
  input: {
    kind: "mutated" | "data" | "dev-zero" | "fifo" | "folder" | "nan" | "huge";
    words?: [number, number][];
  },
  mutated: Uint8Array,
  sample: Uint8Array,
): Promise<string> {
  const path = join(dir, "x.npy");
  const kind = input.kind;
  if (kind === "data") {
    const b = Uint8Array.from(sample);
    const view = new DataView(b.buffer, b.length - 768 * 4);
    for (const [at, bits] of input.words ?? []) view.setUint32(at * 4, bits, true);
    await writeFile(path, b);
    return path;
  }
  if (kind === "dev-zero") return "/dev/zero";
  if (kind === "folder") {
    await mkdir(path);
    return path;
  }
  if (kind === "fifo") {
    execFileSync("mkfifo", [path]);
    return path;
  }
  if (kind === "mutated") {
    await writeFile(path, mutated);
    return path;
  }
  const t = parseNpy(sample);
  const data = Float32Array.from(t.data as Float32Array, (v, k) =>
    kind === "nan" ? (k === 5 ? Number.NaN : v) : v * 3e38,
  );
  const header = sample.subarray(0, sample.length - data.byteLength);
  const out = new Uint8Array(sample.length);
  out.set(header);
  out.set(new Uint8Array(data.buffer), header.length);
  await writeFile(path, out);
  return path;
}

/** Every .npy in `dir` holds only finite values. */
async function assertFiniteNpys(dir: string): Promise<void> {
  for (const f of await readdir(dir)) {
    if (!f.endsWith(".npy")) continue;
    const t = parseNpy(new Uint8Array(readFileSync(join(dir, f))));
    if (t.dtype === "float32" || t.dtype === "float64")
      assert.ok((t.data as Float32Array).every(Number.isFinite), `${f}: non-finite output written`);
  }
}

/** Outcomes of {@link fuzzExplainRuns}, counted. */
export interface RunOutcomes {
  succeeded: number;
  refused: Map<string, number>;
}

/**
 * Whole `pathlens explain` runs in this process on mutated inputs, bombs and odd flag values:
 * typed named errors, no output folder after a failure, finite complete outputs after a success,
 * and no exit 0 on an input whose bytes were damaged so that it no longer parses identically.
 */
export async function fuzzExplainRuns(run: FuzzRun, root: string, perRunMs = 60_000): Promise<RunOutcomes> {
  const model = join(root, "examples/digits/digits_cnn.onnx");
  const sample = new Uint8Array(readFileSync(join(root, "examples/digits/digits_sample.npy")));
  const outcomes: RunOutcomes = { succeeded: 0, refused: new Map() };
  await fc.assert(
    fc.asyncProperty(explainInput, mutatedBytes([sample]), flagPair, async (input, mutated, flags) => {
      const dir = await mkdtemp(join(tmpdir(), "pathlens-fuzz-run-"));
      const out = join(dir, "out");
      try {
        const x = await writeExplainInput(dir, input, mutated, sample);
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`hang: no answer in ${perRunMs} ms`)), perRunMs);
        });
        try {
          const argv = [model, "--input", x, "--target", "3", "--out", out, "--quiet", ...flags];
          const parsed = parseCommand(
            explainCommand,
            argv.filter((_a, k) => !(flags.includes("--target") && k >= 3 && k <= 4)),
          );
          if (parsed.help) return;
          await Promise.race([runExplain(parsed.args), hang]);
          outcomes.succeeded++;
          assert.ok(input.kind === "mutated" || input.kind === "data", `exit 0 on a ${input.kind} input`);
          // A mutated file that still parses is a valid input; one that does not must not succeed.
          if (input.kind === "mutated") parseNpy(mutated);
          else {
            const xs = parseNpy(new Uint8Array(readFileSync(x))).data as Float32Array;
            assert.ok(xs.every(Number.isFinite), "exit 0 on an input holding NaN or Inf");
          }
          const written = await readdir(out);
          for (const f of ["attributions.npy", "delta.npy", "summary.json"])
            assert.ok(written.includes(f), `${f} missing after a successful run`);
          await assertFiniteNpys(out);
        } catch (e) {
          if ((e as Error).message?.startsWith("hang:")) throw e;
          if (e instanceof assert.AssertionError) throw e;
          assertNamedError(
            e,
            `explain ${input.kind} ${flags.join(" ")}`,
            /\.npy|\.onnx|--[a-z]|"|\/dev\/|out/,
          );
          assert.ok(!existsSync(out), `partial output: ${out} exists after a failed run`);
          const kind = (e as Error).name;
          if (process.env.FUZZ_VERBOSE)
            console.log(input.kind, flags.join(" "), "→", printedMessage((e as Error).message).slice(0, 160));
          outcomes.refused.set(kind, (outcomes.refused.get(kind) ?? 0) + 1);
        } finally {
          clearTimeout(timer);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    params(run),
  );
  return outcomes;
}
