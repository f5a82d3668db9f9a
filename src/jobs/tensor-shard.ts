/**
 * One shard of a tensor data set (npy, CSV, images): the rows are explained as one batch; when the
 * batch fails, row by row, so one bad row fails alone with its reason. A forward run gives each
 * row's predicted class. The float32 attributions as stored feed the shard's statistics.
 */
import { encodeModel } from "../onnx/codec.js";
import type { ModelProto } from "../onnx/types.js";
import type { Backend, Session, SessionOptions } from "../runtime/backend.js";
import { sizeOf, type Tensor } from "../tensor/tensor.js";
import type { RowSource } from "./datasets.js";
import { DatasetError } from "./errors.js";
import { type MethodRunner, pickRows } from "./method.js";
import { addRowStats, emptyShardStats } from "./stats.js";
import type { RowRecord, ShardData } from "./task.js";

/** What the shard runner needs from the opened job. */
export interface TensorShardContext {
  model: ModelProto;
  /** The attributed input. */
  name: string;
  source: RowSource;
  extra: Record<string, RowSource>;
  method: MethodRunner;
  backend: Backend;
  session?: SessionOptions;
  /** Per row: 1 class of interest, 0 random set (significance). */
  groups?: Int32Array;
  output?: string;
  shardRange(index: number): { start: number; end: number };
  /** Known attribution shape (undefined for layers until a shard ran). */
  featureDims?: number[];
}

interface RowResult {
  attr: Float64Array;
  delta: number;
  output: number;
  predicted: number;
}

/** argmax of each row of an output (−1 for single-value rows). */
function argmaxRows(out: Tensor, n: number): Int32Array {
  const per = out.data.length / n;
  const pred = new Int32Array(n).fill(-1);
  if (per > 1)
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let j = 1; j < per; j++)
        if (Number(out.data[r * per + j]) > Number(out.data[r * per + best])) best = j;
      pred[r] = best;
    }
  return pred;
}

function message(e: unknown): string {
  return (e as Error)?.message?.replace(/\s*\n\s*/g, " ") ?? String(e);
}

/** The shard computation of a tensor data set, with its forward session. */
export function tensorShardRunner(ctx: TensorShardContext) {
  let featureDims = ctx.featureDims;
  let forward: Session | undefined;

  const predict = async (feeds: Record<string, Tensor>, n: number): Promise<Int32Array> => {
    forward ??= await ctx.backend.createSession(encodeModel(ctx.model), ctx.session);
    const name = ctx.output ?? forward.outputNames[0]!;
    return argmaxRows((await forward.run(feeds, [name]))[name]!, n);
  };

  /** Explains rows [start, end): results of the rows that worked, reasons of those that did not. */
  const explainRows = async (
    start: number,
    end: number,
    onProgress?: (done: number, total: number) => void,
  ) => {
    const block = await ctx.source.read(start, end);
    const failed = new Map(block.failed);
    const extraBlock: Record<string, Tensor> = {};
    for (const [k, s] of Object.entries(ctx.extra)) extraBlock[k] = (await s.read(start, end)).tensor!;
    const results = new Map<number, RowResult>();
    const attempt = async (rows: number[]) => {
      const inputs = {
        [ctx.name]: pickRows(
          block.tensor!,
          rows.map((r) => block.rows.indexOf(r)),
        ),
      };
      const extra = Object.fromEntries(
        Object.entries(extraBlock).map(([k, t]) => [
          k,
          pickRows(
            t,
            rows.map((r) => r - start),
          ),
        ]),
      );
      const r = await ctx.method.run(ctx.backend, inputs, extra, rows, onProgress, ctx.session);
      featureDims ??= r.attributions.dims.slice(1);
      const pred = await predict({ ...inputs, ...extra }, rows.length);
      const per = sizeOf(r.attributions.dims.slice(1));
      rows.forEach((row, k) => {
        const attr = r.attributions.data.subarray(k * per, (k + 1) * per);
        results.set(row, { attr, delta: r.delta[k]!, output: r.outputAtInput[k]!, predicted: pred[k]! });
      });
    };
    if (block.rows.length > 0) {
      try {
        await attempt(block.rows);
      } catch (e) {
        // find the failing rows: each row alone
        if (block.rows.length === 1) failed.set(block.rows[0]!, message(e));
        else
          for (const row of block.rows) {
            try {
              await attempt([row]);
            } catch (e1) {
              failed.set(row, message(e1));
            }
          }
      }
    }
    return { results, failed };
  };

  const runShard = async (
    index: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<ShardData> => {
    const { start, end } = ctx.shardRange(index);
    const { results, failed } = await explainRows(start, end, onProgress);
    if (!featureDims)
      throw new DatasetError(
        `rows ${start}–${end - 1}: no row could be explained, so the attribution shape is unknown (${[...failed.values()][0]})`,
      );
    const per = sizeOf(featureDims);
    const attributions = new Float32Array((end - start) * per).fill(Number.NaN);
    const records: RowRecord[] = [];
    const stats = emptyShardStats(per);
    for (let row = start; row < end; row++) {
      const res = results.get(row);
      let error = failed.get(row);
      if (res && !error) {
        const out = attributions.subarray((row - start) * per, (row - start + 1) * per);
        out.set(res.attr);
        if (!out.every(Number.isFinite) || !Number.isFinite(res.delta)) {
          error = "non-finite attribution (NaN or Inf): the model's output or gradient overflows on this row";
          out.fill(Number.NaN);
        } else addRowStats(stats, out, ctx.groups?.[row]);
      }
      const target = ctx.method.targetOf(row);
      records.push(
        error || !res
          ? {
              row,
              ok: false,
              predicted: -1,
              output: Number.NaN,
              target,
              delta: Number.NaN,
              error: error ?? "not explained",
            }
          : { row, ok: true, predicted: res.predicted, output: res.output, target, delta: res.delta },
      );
    }
    return { index, start, end, attributions, records, stats };
  };

  return {
    runShard,
    featureDims: () => featureDims,
    dispose: async () => {
      await forward?.dispose();
    },
  };
}
