/**
 * Text data sets: a JSONL file of texts (one JSON object per line with "text" and an optional
 * "text_pair", or a bare JSON string) explained with a text model folder (model.onnx,
 * tokenizer.json, config.json). Each row's token scores fill a row of maxLength values (NaN past
 * the text's tokens); the row records carry the words and their scores, and the shard statistics
 * Σ|score| and the count of every word, so the data set's mean |attribution| per word merges like
 * the other sums.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ExplainTextOptions, explainText } from "../explain/text.js";
import { loadTextModel } from "../explain/text-model.js";
import type { Backend } from "../runtime/backend.js";
import { canonical, sha256 } from "./datasets.js";
import { DatasetError, JobSettingsError } from "./errors.js";
import { addRowStats, emptyShardStats } from "./stats.js";
import type { JobSpec, OpenedTask, RowRecord, ShardData } from "./task.js";

/** One line of the JSONL file. */
interface TextRow {
  text: string;
  textPair?: string;
}

/** Reads a JSONL file of texts; a line that is not a text is a failed row, not an error. */
async function readTexts(path: string): Promise<{ rows: (TextRow | string)[]; digest: string }> {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (e) {
    throw new DatasetError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const lines = raw.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new DatasetError(`${path}: holds no lines`);
  const rows = lines.map((line, k): TextRow | string => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      return `line ${k + 1}: not JSON (${(e as Error).message})`;
    }
    if (typeof v === "string") return { text: v };
    const o = v as { text?: unknown; text_pair?: unknown };
    if (typeof o?.text !== "string") return `line ${k + 1}: no "text" string`;
    return { text: o.text, textPair: typeof o.text_pair === "string" ? o.text_pair : undefined };
  });
  return { rows, digest: sha256(raw) };
}

const UNSUPPORTED: [keyof JobSpec["method"], string][] = [
  ["noiseTunnel", "--noise-tunnel"],
  ["references", "--references"],
  ["baseline", "--baseline"],
  ["layer", "--layer"],
  ["baselineInputs", "--baseline-inputs"],
  ["output", "--output"],
];

/** Opens a text job (spec.model is a text model folder, spec.input.path a .jsonl). */
export async function openTextTask(spec: JobSpec, backend: Backend): Promise<OpenedTask> {
  const m = spec.method;
  for (const [key, flag] of UNSUPPORTED)
    if (m[key] !== undefined)
      throw new JobSettingsError(
        `${flag} does not apply to text data sets (a JSONL with a text model folder)`,
      );
  if (m.method === "expected_gradients" || typeof m.target === "string" || m.steps === "auto")
    throw new JobSettingsError(
      "text data sets take --steps N, a quadrature --method and a class index --target",
    );
  if (Object.keys(spec.extra).length)
    throw new JobSettingsError("--extra does not apply to text data sets (the tokenizer makes the inputs)");
  const textModel = await loadTextModel(spec.model);
  const { rows: texts, digest } = await readTexts(spec.input.path);
  const width = textModel.maxLength ?? 512;
  const modelDigests = await Promise.all(
    ["model.onnx", "tokenizer.json", "config.json"].map((f) =>
      readFile(join(spec.model, f)).then(sha256, () => ""),
    ),
  );
  const fingerprint = sha256(
    JSON.stringify(
      canonical({
        format: 1,
        kind: "text",
        model: modelDigests,
        input: digest,
        method: m,
        shardRows: spec.shardRows,
      }),
    ),
  );
  const shardRange = (index: number) => ({
    start: index * spec.shardRows,
    end: Math.min(texts.length, (index + 1) * spec.shardRows),
  });
  const options: ExplainTextOptions = {
    backend,
    steps: m.steps as number | undefined,
    method: m.method as ExplainTextOptions["method"],
    target: m.target as number | undefined,
  };

  const runShard = async (index: number): Promise<ShardData> => {
    const { start, end } = shardRange(index);
    const attributions = new Float32Array((end - start) * width).fill(Number.NaN);
    const records: RowRecord[] = [];
    const stats = emptyShardStats(width);
    stats.words = {};
    for (let row = start; row < end; row++) {
      const t = texts[row]!;
      try {
        if (typeof t === "string") throw new DatasetError(t);
        const r = await explainText(textModel, t.text, { ...options, textPair: t.textPair });
        const out = attributions.subarray((row - start) * width, (row - start + 1) * width);
        r.tokens.slice(0, width).forEach((tok, k) => {
          out[k] = tok.score;
        });
        if (!r.tokens.every((tok) => Number.isFinite(tok.score)) || !Number.isFinite(r.delta))
          throw new DatasetError("non-finite attribution (NaN or Inf)");
        addRowStats(
          stats,
          out.map((v) => (Number.isNaN(v) ? 0 : v)),
          undefined,
        );
        for (const w of r.words) {
          const key = w.word.toLowerCase();
          const s = (stats.words[key] ??= [0, 0]);
          s[0] += Math.abs(w.score);
          s[1] += 1;
        }
        records.push({
          row,
          ok: true,
          predicted: r.prediction.index,
          output: r.outputAtInput,
          target: r.target.index,
          delta: r.delta,
          words: r.words.map((w) => [w.word, w.score]),
        });
      } catch (e) {
        attributions.fill(Number.NaN, (row - start) * width, (row - start + 1) * width);
        records.push({
          row,
          ok: false,
          predicted: -1,
          output: Number.NaN,
          target: typeof m.target === "number" ? m.target : -1,
          delta: Number.NaN,
          error: (e as Error).message,
        });
      }
    }
    return { index, start, end, attributions, records, stats };
  };

  return {
    spec,
    fingerprint,
    rows: texts.length,
    featureDims: [width],
    shardCount: Math.ceil(texts.length / spec.shardRows),
    shardRange,
    runShard,
    async dispose() {},
  };
}
