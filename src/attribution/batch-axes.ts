/**
 * The `batchAxes` option of the Integrated Gradients family: explaining models whose inputs or
 * outputs carry the batch on another axis than 0 (torch's sequence-first recurrent exports).
 * The methods stack examples and path points along axis 0, so the model is wrapped batch-first
 * (src/onnx/batch-axes.ts), the user's tensors are moved into that layout, the method runs
 * unchanged on the wrapper, and the attributions are moved back: the user gives and gets
 * tensors in the model's own layout and never sees the wrapper.
 */
import { type BatchAxes, batchFirstModel, resolveBatchAxes } from "../onnx/batch-axes.js";
import type { ModelProto } from "../onnx/types.js";
import { moveAxis } from "../tensor/move-axis.js";
import { type Tensor, type TensorLike, toTensors } from "../tensor/tensor.js";
import { ShapeMismatchError, TargetError } from "./errors.js";
import type { Target } from "./targets.js";

/** The option every method of the family takes (see `withBatchAxes`). */
export interface BatchAxesOption {
  /**
   * The batch axis of inputs and outputs, by name, where it is not 0: e.g. `{ x: 1, h0: 1, y: 1 }`
   * for a sequence-first LSTM (x as time × batch × features, h0 as layers·directions × batch ×
   * hidden). Tensors are given, and attributions returned, in the model's own layout: inputs,
   * extra inputs, baseline inputs, whole-input baselines and whole-output target weights move
   * with their batch axis; one-example tensors (shared baselines and weights, expected-gradients
   * references) need no change, as the other axes keep their order.
   */
  batchAxes?: BatchAxes;
}

/** The fields of a method's options that hold tensors in the model's layout. */
interface LayoutFields extends BatchAxesOption {
  inputs: Record<string, TensorLike>;
  extra?: Record<string, TensorLike>;
  baselineInputs?: Record<string, TensorLike>;
  baselines?: unknown;
  target?: Target;
  output?: string;
  layer?: string;
}

/** Whether `options.batchAxes` moves any axis (else the method runs on the model as it is). */
export function movesBatchAxes(options: BatchAxesOption): boolean {
  return Object.values(options.batchAxes ?? {}).some((a) => a !== 0);
}

/**
 * Runs `method` on the batch-first wrapper of `model` with the user's tensors moved into its
 * layout, and moves the attributions back to the model's layout.
 */
export async function withBatchAxes<
  O extends LayoutFields,
  R extends { attributions: Record<string, Tensor<"float64">> },
>(model: ModelProto, given: O, method: (model: ModelProto, options: O) => Promise<R>): Promise<R> {
  const inputs = toTensors(given.inputs);
  const extra = toTensors(given.extra) ?? {};
  const ranks = Object.fromEntries(
    Object.entries({ ...extra, ...inputs }).map(([k, t]) => [k, t.dims.length]),
  );
  const axes = resolveBatchAxes(model, given.batchAxes ?? {}, ranks);
  const wrapped = batchFirstModel(model, given.batchAxes ?? {}, ranks);
  const inputAxis = (name: string) => (axes.get(name)?.kind === "input" ? axes.get(name)!.axis : 0);
  const toBatchFirst = (r: Record<string, Tensor> | undefined) =>
    r &&
    Object.fromEntries(
      Object.entries(r).map(([k, t]) => {
        const rank = axes.get(k)?.rank;
        if (inputAxis(k) !== 0 && t.dims.length !== rank) {
          throw new ShapeMismatchError(
            `input "${k}" has shape [${t.dims.join(", ")}]; the model declares ${rank} axes (batch axis ${inputAxis(k)})`,
          );
        }
        return [k, moveAxis(t, inputAxis(k), 0)];
      }),
    );

  const output = given.output ?? model.graph!.output[0]!.name!;
  const result = await method(wrapped, {
    ...given,
    batchAxes: undefined,
    inputs: toBatchFirst(inputs),
    extra: toBatchFirst(extra),
    baselineInputs: toBatchFirst(toTensors(given.baselineInputs)),
    // with a layer, baselines are the layer's values (its own layout): they stay as given
    baselines: given.layer ? given.baselines : movedBaselines(given.baselines, inputs, inputAxis),
    target: movedTarget(given.target, output, axes.get(output)),
  } as O);
  const attributions = Object.fromEntries(
    Object.entries(result.attributions).map(([k, a]) => [k, moveAxis(a, 0, inputAxis(k))]),
  );
  return { ...result, attributions };
}

function isTensor(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && "dims" in t && "data" in t && !Array.isArray(t);
}

/**
 * Baseline tensors shaped like the whole input move with it; one-example baselines (and
 * constants, noise and blur specs) need nothing, as the other axes keep their order. A single
 * spec shared by inputs with different layouts becomes one per input.
 */
function movedBaselines(
  option: unknown,
  inputs: Record<string, Tensor>,
  inputAxis: (name: string) => number,
): unknown {
  const move = (b: unknown, name: string): unknown => {
    if (Array.isArray(b)) return b.map((one) => move(one, name));
    const x = inputs[name];
    if (!isTensor(b) || !x || b.dims.length !== x.dims.length) return b;
    return moveAxis(b, inputAxis(name), 0);
  };
  if (option === undefined) return undefined;
  const perName =
    typeof option === "object" &&
    option !== null &&
    !isTensor(option) &&
    !Array.isArray(option) &&
    !("kind" in option);
  if (perName) {
    return Object.fromEntries(Object.entries(option).map(([k, b]) => [k, move(b, k)]));
  }
  return Object.fromEntries(Object.keys(inputs).map((k) => [k, move(option, k)]));
}

/** Target weights shaped like the whole output move with its batch axis. */
function movedTarget(
  target: Target | undefined,
  output: string,
  axis: { axis: number; rank: number; kind: "input" | "output" } | undefined,
): Target | undefined {
  if (axis?.kind !== "output" || !isTensor(target)) return target;
  if (target.dims.length === axis.rank) return moveAxis(target, axis.axis, 0);
  if (target.dims.length !== axis.rank - 1) {
    throw new TargetError(
      `target weights of shape [${target.dims.join(", ")}] for output "${output}" (batch axis ${axis.axis}): give them shaped like the output (${axis.rank} axes) or like one example of it (${axis.rank - 1} axes)`,
    );
  }
  return target;
}
