/**
 * Same work, side by side: pathlens against Captum 0.8 and a hand-written torch loop on the same
 * weights and the same inputs, in one run, 50 Gauss–Legendre steps each —
 * resnet18 IG (4 images 224², target 7), tiny BERT layer IG (32 × 128 tokens, embedding output)
 * and a MiniLM-sized encoder's layer IG (8 × 128 tokens, embedding output).
 *
 * Each side is a whole fresh process, timed from spawn to exit (Python: interpreter, torch and
 * Captum imports, model build; pathlens: Node, model load, gradient graph, onnxruntime session).
 * pathlens runs twice per round on an emptied gradient cache (.bench/sbs/cache): "first" builds
 * the gradient graph, "cached" is the same command again. In-process compute (the attribution
 * call alone; pathlens: its summary's seconds minus start-up) is printed too. Before timing, the
 * torch model's logits are checked against onnxruntime's on the same inputs; after it, the
 * attributions are compared (relative L2 against Captum's, or against torch's without Captum).
 *
 * Python: $PATHLENS_PYTHON or /usr/bin/python3, with torch, torchvision and onnx (Debian's
 * python3-torch python3-torchvision python3-onnx); without them the rows are skipped.
 * Captum: $PATHLENS_CAPTUM (the folder that holds the `captum` package, i.e. its PYTHONPATH
 * entry), else ../captum or ../../captum beside the repository; without it the rows time pathlens
 * and the hand-written torch only. The MiniLM model is made by tools/make_minilm.py into
 * .bench/minilm (about 90 MB, gitignored) when missing.
 *
 * Options of `npm run bench`: `--side-by-side` runs only this section, `--rounds=N` repeats it N
 * times interleaved (medians), `--sbs-only=TEXT` only the rows whose label contains TEXT.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { readNpy } from "../src/io/npy.js";
import { nodeBackend } from "../src/runtime/node.js";
import { type Row, rows, SBS } from "./captum-rows.js";
import { type ChildRun, ROOT, runCli, runProcess } from "./cli-run.js";

interface Times {
  first: number[];
  cached: number[];
  pathlensCompute: number[];
  pathlensStartup: number[];
  captum: number[];
  captumCompute: number[];
  /** Python's imports (torch, Captum) and model build, inside the process. */
  captumStartup: number[];
  torch: number[];
  torchCompute: number[];
  torchStartup: number[];
}

/** The Python interpreter with torch, or why there is none. */
async function findPython(): Promise<{ python?: string; why?: string }> {
  const python = process.env.PATHLENS_PYTHON ?? "/usr/bin/python3";
  try {
    await runProcess(python, ["-c", "import torch, torchvision, onnx"], {}, python);
    return { python };
  } catch (e) {
    return {
      why: `${python} with torch, torchvision and onnx not found (set PATHLENS_PYTHON=…): ${(e as Error).message.split("\n").at(-1)}`,
    };
  }
}

/** The folder to put on PYTHONPATH for Captum, or undefined. */
export function findCaptum(): string | undefined {
  const candidates = process.env.PATHLENS_CAPTUM
    ? [process.env.PATHLENS_CAPTUM]
    : [join(ROOT, "..", "captum"), join(ROOT, "..", "..", "captum")];
  return candidates.find((d) => existsSync(join(d, "captum", "attr", "__init__.py")));
}

/** Largest |torch − onnxruntime| over the logits, relative to the largest |logit|. */
async function logitsMismatch(python: string, row: Row): Promise<number> {
  const logitsFile = join(SBS, "logits_torch.npy");
  await runProcess(
    python,
    [join(ROOT, "tools", row.script), "--impl", "torch", ...row.scriptArgs, "--logits-out", logitsFile],
    {},
    row.script,
  );
  const torchLogits = (await readNpy(logitsFile)).data as Float32Array;
  const session = await nodeBackend().createSession(new Uint8Array(await readFile(row.model)));
  const ort = Object.values(await session.run(row.feeds))[0]!.data as Float32Array;
  await session.dispose();
  if (ort.length !== torchLogits.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ort.length; i++) {
    diff = Math.max(diff, Math.abs(ort[i]! - torchLogits[i]!));
    scale = Math.max(scale, Math.abs(ort[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

/** ‖a − b‖ / ‖b‖ over two attribution files. */
async function relativeL2(a: string, b: string): Promise<number> {
  const x = (await readNpy(a)).data as Float32Array;
  const y = (await readNpy(b)).data as Float32Array;
  if (x.length !== y.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i]! - y[i]!) ** 2;
    den += y[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

interface PythonResult {
  computeSeconds: number;
  importSeconds: number;
  buildSeconds: number;
}

async function runPython(
  python: string,
  row: Row,
  impl: "torch" | "captum",
  captum: string | undefined,
): Promise<ChildRun & PythonResult> {
  const run = await runProcess(
    python,
    [
      join(ROOT, "tools", row.script),
      "--impl",
      impl,
      ...row.scriptArgs,
      "--steps",
      "50",
      "--points-per-batch",
      String(impl === "captum" ? row.captumBatch : row.torchBatch),
      "--out",
      join(SBS, `attr_${impl}.npy`),
    ],
    impl === "captum" && captum
      ? { PYTHONPATH: [captum, process.env.PYTHONPATH].filter(Boolean).join(":") }
      : {},
    `${row.script} --impl ${impl}`,
  );
  const last = run.stdout.trim().split("\n").at(-1)!;
  return { ...run, ...(JSON.parse(last) as PythonResult) };
}

const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Runs one row `rounds` times, interleaving pathlens (first, cached), Captum and torch. */
async function timeRow(python: string, captum: string | undefined, row: Row, rounds: number) {
  const t: Times = {
    first: [],
    cached: [],
    pathlensCompute: [],
    pathlensStartup: [],
    captum: [],
    captumCompute: [],
    captumStartup: [],
    torch: [],
    torchCompute: [],
    torchStartup: [],
  };
  const cache = join(SBS, "cache");
  let chunkSize = 0;
  let maxRssMiB = 0;
  for (let r = 0; r < rounds; r++) {
    await rm(cache, { recursive: true, force: true });
    for (const which of ["first", "cached"] as const) {
      const run = await runCli(
        [
          "explain",
          row.model,
          ...row.pathlensArgs,
          "--steps",
          "50",
          "--quiet",
          "--json",
          "--out",
          join(SBS, "out"),
        ],
        { PATHLENS_CACHE_DIR: cache },
      );
      const summary = JSON.parse(run.stdout) as {
        seconds: number;
        startupSeconds?: number;
        chunkSize: number;
      };
      t[which].push(run.seconds);
      if (which === "cached") {
        t.pathlensStartup.push(summary.startupSeconds ?? Number.NaN);
        t.pathlensCompute.push(summary.seconds - (summary.startupSeconds ?? 0));
      }
      chunkSize = summary.chunkSize;
      maxRssMiB = Math.max(maxRssMiB, run.maxRssMiB);
    }
    if (captum) {
      const c = await runPython(python, row, "captum", captum);
      t.captum.push(c.seconds);
      t.captumCompute.push(c.computeSeconds);
      t.captumStartup.push(c.importSeconds + c.buildSeconds);
    }
    const h = await runPython(python, row, "torch", captum);
    t.torch.push(h.seconds);
    t.torchCompute.push(h.computeSeconds);
    t.torchStartup.push(h.importSeconds + h.buildSeconds);
  }
  const pathlensAttr = join(SBS, "out", "attributions.npy");
  const reference = captum ? join(SBS, "attr_captum.npy") : join(SBS, "attr_torch.npy");
  const agreement = {
    pathlens: await relativeL2(pathlensAttr, reference),
    torch: captum ? await relativeL2(join(SBS, "attr_torch.npy"), reference) : 0,
  };
  return { t, chunkSize, maxRssMiB, agreement };
}

type Medians = Record<keyof Times, number>;

/** The row's two table lines: whole processes, then in-process compute with start-up. */
function tableRows(row: Row, m: Medians): string[][] {
  const ratioFirst = m.first / m.captum;
  const ratioCached = m.cached / m.captum;
  const ok = (r: number) => (Number.isFinite(r) ? (r <= row.target ? "✓" : "✗") : "—");
  return [
    [
      row.label,
      `${f2(m.first)} / ${f2(m.cached)}`,
      f2(m.captum),
      f2(m.torch),
      `${f2(ratioFirst)} / ${f2(ratioCached)}`,
      f2(m.cached / m.torch),
      `≤ ${row.target} ${ok(ratioFirst)}${ok(ratioCached)}`,
    ],
    [
      "  in process (compute only)",
      `${f2(m.pathlensCompute)} +${f2(m.pathlensStartup)} start`,
      `${f2(m.captumCompute)} +${f2(m.captumStartup)} start`,
      `${f2(m.torchCompute)} +${f2(m.torchStartup)} start`,
      f2(m.pathlensCompute / m.captumCompute),
      f2(m.pathlensCompute / m.torchCompute),
      "",
    ],
  ];
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "—");

/** Runs the side-by-side rows; prints through `say`, records into `results`. */
export async function benchSideBySide(
  say: (line: string) => void,
  results: Record<string, unknown>,
  argv: string[] = process.argv,
): Promise<void> {
  const rounds = Number(argv.find((a) => a.startsWith("--rounds="))?.slice("--rounds=".length) ?? 1);
  const only = argv.find((a) => a.startsWith("--sbs-only="))?.slice("--sbs-only=".length);
  const { python, why } = await findPython();
  if (!python) {
    say(`  skipped: ${why}`);
    return;
  }
  const captum = findCaptum();
  say(
    captum
      ? `  Captum from ${captum}; Python ${python}, torch 2 threads; ${rounds} round(s), medians`
      : "  Captum not found (set PATHLENS_CAPTUM=<folder holding the captum package>): timing pathlens and the hand-written torch only",
  );
  await mkdir(SBS, { recursive: true });
  const table: string[][] = [];
  for (const row of await rows(python)) {
    if (only && !row.label.includes(only)) continue;
    const mismatch = await logitsMismatch(python, row);
    if (!(mismatch <= 1e-4)) {
      say(
        `  ${row.label}: skipped, torch's logits differ from onnxruntime's by ${mismatch.toExponential(2)} (relative)`,
      );
      continue;
    }
    const { t, chunkSize, maxRssMiB, agreement } = await timeRow(python, captum, row, rounds);
    const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Medians;
    results[`side-by-side:${row.label}`] = {
      ...m,
      runs: t,
      ratioFirst: m.first / m.captum,
      ratioCached: m.cached / m.captum,
      ratioCachedToTorch: m.cached / m.torch,
      target: row.target,
      captumInternalBatchSize: row.captumBatch,
      torchPointsPerBatch: row.torchBatch,
      pathlensChunkSize: chunkSize,
      pathlensMaxRssMiB: maxRssMiB,
      logitsMismatch: mismatch,
      relativeL2: agreement,
    };
    table.push(...tableRows(row, m));
    say(
      `  ${row.label}: logits torch vs onnxruntime ${mismatch.toExponential(1)}; attributions rel. L2 pathlens ${agreement.pathlens.toExponential(1)}${captum ? `, torch ${agreement.torch.toExponential(1)} (vs Captum)` : " (vs torch)"}; pathlens chunk ${chunkSize}, peak RSS ${maxRssMiB.toFixed(0)} MiB; Captum internal_batch_size ${row.captumBatch}, torch ${row.torchBatch} rows per pass`,
    );
  }
  const head = [
    "",
    "pathlens s (first / cached)",
    "Captum s",
    "torch s",
    "× Captum (first / cached)",
    "× torch",
    "target",
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  for (const r of [head, ...table]) say(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd());
}
