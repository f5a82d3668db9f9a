/**
 * Fuzz/property campaigns shared by the short runs in `npm test` (*.fuzz.test.ts) and the long
 * run `npm run fuzz` (tools/fuzz-long.ts): the same properties, a different number of cases.
 * Every campaign is seeded. The invariant everywhere: a decoder either returns a value that is
 * consistent with itself or throws a PathlensError subclass with a one-line message — never a
 * TypeError/RangeError, never a crash or a hang.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import jpeg from "jpeg-js";
import { checkModel } from "../autodiff/op-support.js";
import { type CommandSpec, parseCommand } from "../cli/args.js";
import { printedMessage } from "../cli/messages.js";
import { PathlensError } from "../errors.js";
import { decodeImage } from "../io/image.js";
import { encodeNpy, parseNpy } from "../io/npy-format.js";
import { findModelProblems } from "../onnx/checker.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import { float32, int64 } from "../tensor/tensor.js";
import { fixturePath } from "./fixtures.js";
import { fixPngCrcs, rgbaPng } from "./png-bytes.js";

/** How many cases and which seed a campaign runs. */
export interface FuzzRun {
  numRuns: number;
  seed: number;
  /** Stops generating new cases after this many milliseconds (fast-check's `interruptAfterTimeLimit`). */
  timeLimitMs?: number;
}

/** Asserts the error contract: a PathlensError with a non-empty one-line message. */
export function assertTypedError(e: unknown, what: string): void {
  if (!(e instanceof PathlensError)) {
    throw new Error(
      `${what}: escaped as ${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e)}`,
    );
  }
  assert.ok(e.message.length > 0, `${what}: empty message`);
  assert.ok(!/[\r\n]/.test(e.message), `${what}: message spans lines: ${JSON.stringify(e.message)}`);
}

/** Outcomes of every {@link typedOrValue} call (`what: accepted` or `what: ErrorClass`), for the long run's report. */
export const outcomeTally = new Map<string, number>();

/** Counts one outcome in {@link outcomeTally}. */
export function tally(key: string): void {
  outcomeTally.set(key, (outcomeTally.get(key) ?? 0) + 1);
}

/** Runs `fn`; a thrown error must meet {@link assertTypedError}. Returns the value or undefined. */
export function typedOrValue<T>(fn: () => T, what: string, names?: RegExp): T | undefined {
  try {
    const v = fn();
    tally(`${what}: accepted`);
    return v;
  } catch (e) {
    assertTypedError(e, what);
    if (names)
      assert.ok(
        names.test((e as Error).message),
        `${what}: the message names nothing: ${(e as Error).message}`,
      );
    tally(`${what}: ${(e as Error).name}`);
    return undefined;
  }
}

function params(run: FuzzRun): fc.Parameters<unknown> {
  return {
    numRuns: run.numRuns,
    seed: run.seed,
    interruptAfterTimeLimit: run.timeLimitMs,
    endOnFailure: true,
  };
}

/** What a checker message must name: a quoted tensor/node/field, the IR version, an opset or the graph. */
const NAMES_SOMETHING = /"|IR version|ir_version|opset|the model|the graph|node #/;

/** Byte-level mutations: flips, overwrites with extreme varints, insertions, deletions, truncation. */
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("varint" as const), at: fc.nat(), value: fc.constantFrom(0xff, 0x80) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  );
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 6 }))
    .map(([which, edits]) => {
      let b = Uint8Array.from(seeds[which]!);
      for (const e of edits) {
        const at = b.length ? e.at % b.length : 0;
        if (e.kind === "flip") b[at] ^= 1 << e.bit;
        else if (e.kind === "set") b[at] = e.value;
        else if (e.kind === "varint") {
          // A run of continuation bytes: lengths ≥ 2³², 10-byte varints, overlong keys.
          const run = new Uint8Array(10).fill(e.value);
          run[9] = 0x01;
          const out = new Uint8Array(b.length + 10);
          out.set(b.subarray(0, at));
          out.set(run, at);
          out.set(b.subarray(at), at + 10);
          b = out;
        } else if (e.kind === "cut") {
          const removed = Math.min(e.len, b.length - at);
          const out = new Uint8Array(b.length - removed);
          out.set(b.subarray(0, at));
          out.set(b.subarray(at + removed), at);
          b = out;
        } else b = b.subarray(0, at);
      }
      return b;
    });
}

const MODEL_FILES = [
  "examples/digits/digits_cnn.onnx",
  "examples/tabular/model.onnx",
  "examples/image-shapes/model.onnx",
  "examples/digits/digits_ae_encoder.onnx",
];

/** The example models' bytes (seeds for mutation). */
export function exampleModels(root: string): Uint8Array[] {
  return MODEL_FILES.map((f) => new Uint8Array(readFileSync(`${root}/${f}`)));
}

/** Mutated ONNX bytes: decode, check and list ops; only typed errors may escape. */
export async function fuzzModelBytes(run: FuzzRun, seeds: readonly Uint8Array[]): Promise<void> {
  await fc.assert(
    fc.property(mutatedBytes(seeds), (bytes) => {
      const model = typedOrValue(() => decodeModel(bytes, "fuzz.onnx"), "decodeModel", /fuzz\.onnx/);
      if (!model) return;
      const problems = typedOrValue(() => findModelProblems(model), "findModelProblems");
      if (problems) tally(problems.length ? `checker: refused (${problems[0]!.kind})` : "checker: clean");
      for (const p of problems ?? []) {
        assert.ok(!/[\r\n]/.test(p.message) || p.message.includes('"'), p.message);
        assert.ok(NAMES_SOMETHING.test(p.message), `a checker message names nothing: ${p.message}`);
      }
      typedOrValue(() => checkModel(model), "checkModel");
    }),
    params(run),
  );
}

/** A semantic edit of a decoded model and the fragment the checker's message must contain. */
export interface ModelEdit {
  name: string;
  apply(m: ModelProto): void;
  expect: RegExp;
}

/** Semantic edits the fuzz campaign found reaching onnxruntime; each must be caught. */
export const MODEL_EDITS: ModelEdit[] = [
  {
    name: "raw_data one byte short",
    apply: (m) => {
      const t = m.graph!.initializer[0]!;
      t.rawData = t.rawData!.subarray(1);
    },
    expect: /bytes of raw_data, its dims need/,
  },
  {
    name: "float_data count wrong",
    apply: (m) => {
      const t = m.graph!.initializer[0]!;
      t.rawData = undefined;
      t.floatData = [1, 2, 3];
    },
    expect: /values in float_data/,
  },
  {
    name: "tensor without a data type",
    apply: (m) => {
      m.graph!.initializer[0]!.dataType = undefined;
    },
    expect: /no data type/,
  },
  {
    name: "input without a type",
    apply: (m) => {
      m.graph!.input[0]!.type = undefined;
    },
    expect: /has no type/,
  },
  {
    name: "graph output no node produces",
    apply: (m) => {
      m.graph!.output[0]!.name = "nowhere";
    },
    expect: /graph output "nowhere" is not produced/,
  },
  {
    name: "node input undefined",
    apply: (m) => {
      m.graph!.node[0]!.input[0] = "ghost";
    },
    expect: /reads "ghost"/,
  },
  {
    name: "IR version 99",
    apply: (m) => {
      m.irVersion = 99;
    },
    expect: /IR version 99/,
  },
  {
    name: "IR version missing",
    apply: (m) => {
      m.irVersion = undefined;
    },
    expect: /no ir_version/,
  },
  {
    name: "opset 1000",
    apply: (m) => {
      m.opsetImport[0]!.version = 1000;
    },
    expect: /version 1000 is newer/,
  },
  {
    name: "dims overflow",
    apply: (m) => {
      m.graph!.initializer[0]!.dims = [2n ** 62n, 2n ** 62n];
    },
    expect: /more than \d+ elements/,
  },
  {
    name: "negative dim",
    apply: (m) => {
      m.graph!.initializer[0]!.dims = [-3, 4];
    },
    expect: /negative dimension/,
  },
  {
    name: "input dim out of range",
    apply: (m) => {
      m.graph!.input[0]!.type!.tensorType!.shape = { dim: [{ dimValue: -5 }] };
    },
    expect: /out of range/,
  },
  {
    name: "Constant without an output",
    apply: (m) => {
      m.graph!.node.push({
        input: [],
        output: [],
        name: "c",
        opType: "Constant",
        attribute: [],
        metadataProps: [],
      });
    },
    expect: /Constant node "c" (has no output|must have exactly one)/,
  },
  {
    name: "cycle",
    apply: (m) => {
      const g = m.graph!;
      g.node[0]!.input[0] = g.node[1]!.output[0]!;
    },
    expect: /cycle|reads/,
  },
  {
    name: "external data not loaded",
    apply: (m) => {
      const t = m.graph!.initializer[0]!;
      t.rawData = undefined;
      t.dataLocation = 1;
      t.externalData = [{ key: "location", value: "../../etc/passwd" }];
    },
    expect: /external/,
  },
  { name: "Conv weight channels", apply: (m) => convWeight(m), expect: /channels/ },
  // Op-schema cases onnxruntime refused with its own text before the op-schema pass.
  {
    name: "unknown op",
    apply: (m) => {
      m.graph!.node[0]!.opType = "Nope";
    },
    expect: /"Nope" is not an ONNX operator/,
  },
  {
    name: "int32 input to Conv",
    apply: (m) => {
      m.graph!.input[0]!.type!.tensorType!.elemType = 6;
    },
    expect: /is int32, which Conv \(opset 14\) does not accept/,
  },
  {
    name: "weight of another type than the input",
    apply: (m) => {
      const conv = m.graph!.node.find((n) => n.opType === "Conv")!;
      const w = m.graph!.initializer.find((t) => t.name === conv.input[1])!;
      w.dataType = 11;
      w.rawData = new Uint8Array(w.rawData!.length * 2);
    },
    expect: /must have the same element type/,
  },
  {
    name: "empty required input",
    apply: (m) => {
      m.graph!.node[0]!.input[0] = "";
    },
    expect: /input 0 is required but empty/,
  },
  {
    name: "attribute of another op",
    apply: (m) => {
      m.graph!.node.find((n) => n.opType === "Gemm")!.opType = "Relu";
    },
    expect: /does not define|takes 1/,
  },
  {
    name: "Relu at opset 5 (no onnxruntime kernel)",
    apply: (m) => {
      m.opsetImport[0]!.version = 5;
    },
    expect: /older than onnxruntime/,
  },
];

function convWeight(m: ModelProto): void {
  const conv = m.graph!.node.find((n) => n.opType === "Conv")!;
  const w = m.graph!.initializer.find((t) => t.name === conv.input[1])!;
  const dims = w.dims.map(Number);
  dims[1] = dims[1]! + 1;
  w.dims = dims;
  w.rawData = new Uint8Array(dims.reduce((a, b) => a * b, 4));
}

/** Applies every {@link MODEL_EDITS} entry to `model` (bytes), round-tripped through the codec. */
export function checkModelEdits(bytes: Uint8Array): void {
  for (const edit of MODEL_EDITS) {
    const m = decodeModel(bytes);
    edit.apply(m);
    const again = decodeModel(encodeModel(m));
    const problems = findModelProblems(again);
    assert.ok(
      problems.some((p) => edit.expect.test(p.message)),
      `${edit.name}: the checker said ${JSON.stringify(problems.map((p) => p.message))}`,
    );
  }
}

function validNpys(): Uint8Array[] {
  return [
    encodeNpy(float32([2, 3], [1, 2, 3, 4, 5, 6])),
    encodeNpy(int64([4], [1n, 2n, 3n, 4n])),
    new Uint8Array(readFileSync(fixturePath("npy/f8_2x3.npy"))),
  ];
}

/** Header texts built to probe the parser: nesting, escapes, long runs, odd literals. */
const craftedHeader = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc
    .integer({ min: 1, max: 200_000 })
    .map((n) => `{'descr': '<f4', 'fortran_order': False, 'shape': ${"(".repeat(n)}`),
  fc
    .integer({ min: 1, max: 5000 })
    .map((n) => `{'descr': ${"[".repeat(n)}${"]".repeat(n)}, 'fortran_order': False, 'shape': (1,), }`),
  fc.constantFrom(
    "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<f4\\', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
    "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
  ),
);

function npyWithHeader(header: string, version: number): Uint8Array {
  const text = new TextEncoder().encode(header);
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + text.length + 8);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, Math.min(text.length, 0xffff), true);
  else v.setUint32(8, text.length, true);
  out.set(text, pre);
  return out;
}

/** Mutated and crafted .npy files: a returned tensor has exactly dims-product elements. */
export async function fuzzNpy(run: FuzzRun): Promise<void> {
  const bytes = fc.oneof(
    mutatedBytes(validNpys()),
    fc.tuple(craftedHeader, fc.constantFrom(1, 2, 3)).map(([h, v]) => npyWithHeader(h, v)),
  );
  await fc.assert(
    fc.property(bytes, (b) => {
      const t = typedOrValue(() => parseNpy(b, "fuzz.npy"), "parseNpy", /fuzz\.npy/);
      if (t)
        assert.equal(
          t.data.length,
          t.dims.reduce((a, d) => a * d, 1),
        );
    }),
    params(run),
  );
}

function validImages(root: string): Uint8Array[] {
  const rgba = new Uint8Array(6 * 5 * 4).map((_, k) => (k * 37) & 0xff);
  const jpg = jpeg.encode({ width: 6, height: 5, data: Buffer.from(rgba) }, 90).data;
  return [
    rgbaPng(6, 5, rgba),
    new Uint8Array(readFileSync(fixturePath("png/palette4.png"))),
    new Uint8Array(readFileSync(fixturePath("png/graya8.png"))),
    new Uint8Array(readFileSync(`${root}/examples/image-shapes/circle.png`)),
    new Uint8Array(jpg),
  ];
}

/** Mutated PNG/JPEG files: typed errors only; a decoded image is consistent and deterministic. */
export async function fuzzImages(run: FuzzRun, root: string): Promise<void> {
  await fc.assert(
    // Half the cases get their chunk CRCs repaired, to reach the checks behind the CRC.
    fc.property(
      fc.tuple(mutatedBytes(validImages(root)), fc.boolean()).map(([b, fix]) => (fix ? fixPngCrcs(b) : b)),
      (b) => {
        const img = typedOrValue(() => decodeImage(b, "fuzz.png"), "decodeImage", /fuzz\.png/);
        if (!img) return;
        assert.ok(img.width > 0 && img.height > 0);
        assert.equal(img.data.length, img.width * img.height * 4);
        assert.deepEqual(decodeImage(b, "fuzz.png").data, img.data, "two decodes of the same bytes differ");
      },
    ),
    params(run),
  );
}

/** Flag values that broke the CLI in the campaign, and generic odd strings. */
const flagValue = fc.oneof(
  fc.constantFrom(
    "",
    "NaN",
    "-1",
    "0",
    "1e9",
    "1e38",
    "Infinity",
    "auto",
    "=",
    "a=b=c",
    "--out",
    "\n",
    "x".repeat(5000),
  ),
  fc.string({ maxLength: 20 }),
);

/**
 * Random command lines for every command: `parseCommand` and the typed accessors either succeed
 * or throw a UsageError/CliError with one line — never anything else.
 */
export async function fuzzCliFlags(run: FuzzRun, specs: readonly CommandSpec[]): Promise<void> {
  const argv = fc
    .tuple(
      fc.integer({ min: 0, max: specs.length - 1 }),
      fc.array(fc.tuple(fc.nat(), flagValue, fc.boolean()), { maxLength: 8 }),
      fc.array(flagValue, { maxLength: 3 }),
    )
    .map(([which, opts, pos]) => {
      const spec = specs[which]!;
      const names = Object.keys(spec.options);
      const args: string[] = [...pos];
      for (const [k, v, inline] of opts) {
        const name = names[k % Math.max(1, names.length)] ?? "unknown";
        if (spec.options[name]?.type === "boolean") args.push(`--${name}`);
        else if (inline) args.push(`--${name}=${v}`);
        else args.push(`--${name}`, v);
      }
      return { spec, args };
    });
  await fc.assert(
    fc.property(argv, ({ spec, args }) => {
      let r: ReturnType<typeof parseCommand> | undefined;
      try {
        r = parseCommand(spec, args);
      } catch (e) {
        // Usage errors echo the offending value; the CLI prints them through printedMessage.
        if (e instanceof PathlensError) e.message = printedMessage(e.message);
        assertTypedError(e, `parseCommand ${spec.name}`);
      }
      if (!r || r.help) return;
      for (const name of Object.keys(spec.options)) {
        typedOrValue(() => [r.args.string(name), r.args.strings(name), r.args.flag(name)], `--${name}`);
      }
    }),
    params(run),
  );
}

/** One random semantic edit of a decoded model (types, dims, names, versions, nodes). */
const semanticEdit = fc.oneof(
  fc.record({
    kind: fc.constant("dims" as const),
    at: fc.nat(),
    value: fc.bigInt({ min: -3n, max: 2n ** 63n - 1n }),
  }),
  fc.record({ kind: fc.constant("dataType" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant("ir" as const), value: fc.integer({ min: -1, max: 20 }) }),
  fc.record({ kind: fc.constant("opset" as const), value: fc.integer({ min: -1, max: 40 }) }),
  fc.record({
    kind: fc.constant("rename" as const),
    at: fc.nat(),
    value: fc.constantFrom("", "x", "ghost", "y"),
  }),
  fc.record({ kind: fc.constant("dropNode" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("opType" as const),
    at: fc.nat(),
    value: fc.constantFrom("Relu", "Conv", "Gemm", "Nope", "Constant", ""),
  }),
  fc.record({ kind: fc.constant("elemType" as const), value: fc.integer({ min: 0, max: 30 }) }),
  // A weight reshaped with data to match: only shape checks can tell (Conv channels, Gemm dims).
  fc.record({
    kind: fc.constant("resize" as const),
    at: fc.nat(),
    value: fc.integer({ min: 1, max: 9 }),
  }),
  fc.record({
    kind: fc.constant("inputDim" as const),
    at: fc.nat(),
    value: fc.integer({ min: 1, max: 40 }),
  }),
);

function applyEdit(m: ModelProto, e: typeof semanticEdit extends fc.Arbitrary<infer T> ? T : never): void {
  const g = m.graph!;
  const pick = <T>(list: T[], at: number): T | undefined =>
    list.length ? list[at % list.length] : undefined;
  switch (e.kind) {
    case "dims": {
      const t = pick(g.initializer, e.at);
      if (t?.dims.length) t.dims[e.at % t.dims.length] = e.value;
      return;
    }
    case "dataType": {
      const t = pick(g.initializer, e.at);
      if (t) t.dataType = e.value;
      return;
    }
    case "ir":
      m.irVersion = e.value;
      return;
    case "opset":
      m.opsetImport[0]!.version = e.value;
      return;
    case "rename": {
      const n = pick(g.node, e.at);
      if (n?.input.length) n.input[e.at % n.input.length] = e.value;
      return;
    }
    case "dropNode":
      if (g.node.length) g.node.splice(e.at % g.node.length, 1);
      return;
    case "opType": {
      const n = pick(g.node, e.at);
      if (n) n.opType = e.value;
      return;
    }
    case "elemType": {
      const t = g.input[0]?.type?.tensorType;
      if (t) t.elemType = e.value;
      return;
    }
    case "resize": {
      const t = pick(g.initializer, e.at);
      if (!t?.dims.length || !t.rawData || t.dataType !== 1) return;
      t.dims[e.at % t.dims.length] = e.value;
      t.rawData = new Uint8Array(t.dims.reduce<number>((a, d) => a * Number(d), 4));
      return;
    }
    case "inputDim": {
      const dims = g.input[0]?.type?.tensorType?.shape?.dim;
      if (dims?.length) dims[e.at % dims.length] = { dimValue: e.value };
    }
  }
}

/**
 * Random semantic edits of the example models, round-tripped through the codec: the checker
 * and the op table only throw typed errors; with `session`, every model the checker accepts is
 * also loaded into a session, and any refusal there must be a typed one-line error too.
 */
export async function fuzzModelEdits(
  run: FuzzRun,
  seeds: readonly Uint8Array[],
  session?: (bytes: Uint8Array) => Promise<void>,
): Promise<{ accepted: number; refusedBySession: string[] }> {
  let accepted = 0;
  const refusedBySession: string[] = [];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(semanticEdit, { minLength: 1, maxLength: 3 }),
      async (which, edits) => {
        const m = decodeModel(seeds[which]!);
        for (const e of edits) applyEdit(m, e);
        const bytes = typedOrValue(() => encodeModel(m), "encodeModel");
        if (!bytes) return;
        const again = typedOrValue(() => decodeModel(bytes, "edited.onnx"), "decodeModel", /edited\.onnx/);
        if (!again) return;
        const problems = typedOrValue(() => findModelProblems(again), "findModelProblems");
        if (problems) tally(problems.length ? `checker: refused (${problems[0]!.kind})` : "checker: clean");
        for (const p of problems ?? [])
          assert.ok(NAMES_SOMETHING.test(p.message), `a checker message names nothing: ${p.message}`);
        typedOrValue(() => checkModel(again), "checkModel");
        if (!problems || problems.length > 0 || !session) return;
        accepted++;
        try {
          await session(bytes);
        } catch (err) {
          assertTypedError(err, "session");
          refusedBySession.push((err as Error).message);
        }
      },
    ),
    params(run),
  );
  return { accepted, refusedBySession };
}
