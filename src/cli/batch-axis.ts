/**
 * `--batch-axis NAME=AXIS` of `explain`: the batch axis of a model input or output where it is
 * not 0 (sequence-first recurrent exports), checked against the model before any work starts.
 */
import { BatchAxisError, resolveBatchAxes } from "../onnx/batch-axes.js";
import type { ModelProto } from "../onnx/types.js";
import type { Tensor } from "../tensor/tensor.js";
import { type CommandSpec, type OptionSpec, type ParsedArgs, UsageError } from "./args.js";

/** The declaration of `--batch-axis` (spread into a command's options). */
export const BATCH_AXIS_OPTION: OptionSpec = {
  type: "string",
  multiple: true,
  value: "NAME=AXIS",
  help: "batch axis of an input or output where it is not 0 (sequence-first RNNs: --batch-axis x=1)",
};

/**
 * Reads `--batch-axis` values: integers, for inputs or outputs of `model` and within their rank
 * (from the declared shape, else from the given tensors). Undefined when the flag is absent.
 * @throws UsageError naming the flag for a bad value, an unknown name or an axis out of range
 */
export function readBatchAxes(
  args: ParsedArgs,
  model: ModelProto,
  given: Record<string, Tensor>,
  spec: CommandSpec,
): Record<string, number> | undefined {
  const pairs = args.pairs("batch-axis");
  if (pairs.size === 0) return undefined;
  const axes: Record<string, number> = {};
  for (const [name, value] of pairs) {
    const axis = Number(value);
    if (value.trim() === "" || !Number.isInteger(axis)) {
      throw new UsageError(`--batch-axis ${name}=${value}: AXIS must be an integer`, spec);
    }
    axes[name] = axis;
  }
  const ranks = Object.fromEntries(Object.entries(given).map(([k, t]) => [k, t.dims.length]));
  try {
    resolveBatchAxes(model, axes, ranks);
  } catch (e) {
    if (e instanceof BatchAxisError) throw new UsageError(`--batch-axis: ${e.message}`, spec);
    throw e;
  }
  return axes;
}
